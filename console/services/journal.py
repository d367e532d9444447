"""The journal: every event the console acts on, stored durably in SQLite.

Webhooks are delivered at least once, so the listener acknowledges one only
after ``append`` says it is stored. Operator requests and their API outcomes
are stored the same way. On start the console replays the events of calls
that were still live through the same reducer (``replay``).

One writer: a single-thread executor owns the write connection. Appends made
while a batch is being written wait and go together in the next transaction
(group commit), so a burst costs one fsync per batch, not per event, and the
loop thread never touches the disk.

Layout (``journal.sqlite3`` in the user's data directory; WAL;
``synchronous=FULL`` so a power cut loses no committed batch):

- ``events``: every event in the order the console applied it, as JSON.
- ``calls``: one row per call, kept current from the reducer's state; what
  the history view searches (``console.services.history``).
- ``pending``: operator requests still waiting for the API's answer.
- ``stream``: in a Team profile, the newest team-stream sequence applied, per
  profile, written in the same transaction as the events that carried it, so
  a restart resumes the stream exactly where the stored events stop.

``PRAGMA user_version`` is the schema version; ``MIGRATIONS[n]`` takes a file
from version n to n + 1.

When it cannot store (a full disk, a read-only or locked file, a file from a
newer console) the journal says so at once (``problem``, and every
``on_problem`` listener) and refuses: ``append`` answers False, so the
listener answers 503 and Kaphila delivers the webhook again. Operator events
and the calls' rows wait in memory (bounded). Every ``RETRY_EVERY`` seconds it
tries again, and once a write goes through it is back by itself.

A damaged file (it is not a database, a page does not read, a stored event
does not decode) never stops the console: the file is set aside next to the
original under a ``.damaged-<time>`` name, untouched, and a fresh journal is
started, so storing goes on. Nothing stored is ever overwritten.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
import typing
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from console.core.calls import CallStatus
from console.core.events import Event, Outcome, Rebuilt, WebhookReceived
from console.core.notices import EventsSkipped, Notice, SetAside, Storage, StorageProblem
from console.services.codec import UndecodableEvent, decode_event, encode_event, storable
from console.services.columns import CALL_COLUMNS, call_row

__all__ = ["CALL_COLUMNS", "Journal", "JournalError", "call_row", "connect", "problem_of"]

log = logging.getLogger("kaphila.console.journal")

T = TypeVar("T")

FILE_NAME = "journal.sqlite3"
RETRY_EVERY = 5.0  # seconds between attempts to store again after a failure
BACKLOG_LIMIT = 10_000  # operator events kept in memory while the journal cannot store
FOREIGN_REPLAY = 1000  # live calls not placed here rebuilt after a restart (the reducer's bound)
LIVE_STATUSES = tuple(s.value for s in CallStatus if not s.terminal)
_LIVE_MARKS = ", ".join("?" * len(LIVE_STATUSES))  # bound to LIVE_STATUSES

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        profile TEXT NOT NULL,
        kind TEXT NOT NULL,
        call_sid TEXT,
        request_id TEXT,
        body TEXT NOT NULL
    );
    CREATE INDEX events_call ON events (call_sid);
    CREATE INDEX events_request ON events (request_id);
    CREATE TABLE calls (
        sid TEXT PRIMARY KEY,
        profile TEXT NOT NULL,
        number TEXT NOT NULL DEFAULT '',
        caller_id TEXT NOT NULL DEFAULT '',
        started_at REAL,
        answered_at REAL,
        ended_at REAL,
        duration REAL,
        status TEXT NOT NULL,
        amd TEXT NOT NULL DEFAULT '',
        amd_confidence REAL,
        digits TEXT NOT NULL DEFAULT '',
        forwards TEXT NOT NULL DEFAULT '',
        spoken TEXT NOT NULL DEFAULT '',
        end_reason TEXT NOT NULL DEFAULT '',
        placed_here INTEGER NOT NULL
    );
    CREATE INDEX calls_started ON calls (started_at);
    CREATE INDEX calls_status ON calls (status, started_at);
    CREATE INDEX calls_caller ON calls (caller_id, started_at);
    CREATE TABLE pending (request_id TEXT PRIMARY KEY);
    """,
    """
    CREATE TABLE stream (profile TEXT PRIMARY KEY, seq INTEGER NOT NULL);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)

_UPSERT_CALL = (
    f"INSERT INTO calls ({', '.join(CALL_COLUMNS)}) VALUES ({', '.join('?' * len(CALL_COLUMNS))}) "
    "ON CONFLICT (sid) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in CALL_COLUMNS if c != "sid")
)
_OUTCOMES = frozenset(cls.__name__ for cls in typing.get_args(Outcome))
_STREAM_SEQ = (
    "INSERT INTO stream (profile, seq) VALUES (?, ?) "
    "ON CONFLICT (profile) DO UPDATE SET seq = max(seq, excluded.seq)"
)
_STREAM_RESET = (  # a rebuild continues from its snapshot's sequence, even a lower one
    "INSERT INTO stream (profile, seq) VALUES (?, ?) "
    "ON CONFLICT (profile) DO UPDATE SET seq = excluded.seq"
)

CallRow = tuple[Any, ...]
Entry = tuple[Event, str | None, str | None, CallRow | None]  # event, call, request, row


class JournalError(Exception):
    """The journal cannot be used; ``problem`` says why (wording words it)."""

    def __init__(self, problem: StorageProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def connect(
    path: Path, *, timeout: float = 2.0, max_pages: int | None = None
) -> sqlite3.Connection:
    """Open (creating or migrating) the journal file; ``JournalError`` says why not.

    ``max_pages`` caps the file's size (SQLite's own limit; tests use it to
    reach a full disk for real)."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():  # call history is private; SQLite gives -wal/-shm the same mode
            path.touch(mode=0o600)
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    except (OSError, sqlite3.Error) as exc:
        raise JournalError(StorageProblem(Storage.UNOPENABLE, str(path), str(exc))) from exc
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise JournalError(
                StorageProblem(Storage.NEWER, str(path), f"schema {version} > {SCHEMA_VERSION}")
            )
        if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0] != "wal":
            raise JournalError(StorageProblem(Storage.FAILED, str(path), "no write-ahead log"))
        conn.execute("PRAGMA synchronous = FULL")
        if max_pages is not None:
            conn.execute(f"PRAGMA max_page_count = {int(max_pages)}")
        for number in range(version, SCHEMA_VERSION):
            conn.execute("BEGIN IMMEDIATE")
            for statement in MIGRATIONS[number].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number + 1}")
            conn.execute("COMMIT")
        conn.execute("SELECT count(*) FROM calls").fetchone()
    except JournalError:
        conn.close()
        raise
    except sqlite3.Error as exc:
        conn.close()
        raise JournalError(problem_of(exc, path)) from exc
    return conn


def is_damage(exc: BaseException) -> bool:
    text = str(exc)
    return isinstance(exc, sqlite3.DatabaseError) and (
        "not a database" in text or "disk image is malformed" in text or "corrupt" in text
    )


def problem_of(exc: BaseException, path: Path) -> StorageProblem:
    """What a database error means for the history, as a fact."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        kind = Storage.LOCKED
    elif is_damage(exc):
        kind = Storage.DAMAGED
    elif "full" in text:
        kind = Storage.FULL
    elif "readonly" in text or "read-only" in text:
        kind = Storage.READ_ONLY
    else:
        kind = Storage.FAILED
    return StorageProblem(kind, str(path), text)


def set_aside(path: Path) -> Path:
    """Move a damaged journal (and its -wal/-shm) out of the way, untouched."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    path.rename(target)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(target.with_name(target.name + suffix))
    return target


class Journal:
    def __init__(
        self,
        path: Path,
        profile: str,
        *,
        timeout: float = 2.0,
        max_pages: int | None = None,
        retry_every: float = RETRY_EVERY,
    ) -> None:
        self.path = path
        self._timeout = timeout
        self.profile = profile
        self.problem: StorageProblem | None = None  # why it cannot store right now
        self.notices: list[Notice] = []  # what happened to the file (set aside, skipped)
        self.max_pages = max_pages  # SQLite's size cap, read at each (re)connect
        self.retry_every = retry_every
        self._listeners: list[Callable[[StorageProblem | None], None]] = []
        self._notice_listeners: list[Callable[[Notice], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn: sqlite3.Connection | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kaphila-journal")
        self._queue: list[tuple[Entry, asyncio.Future[bool]]] = []
        self._writing: asyncio.Future[None] | None = None
        self._backlog: list[Entry] = []  # operator events not stored yet
        self._unsaved_rows: dict[str, CallRow] = {}  # newest row of each call not stored yet
        self._retrying: asyncio.Task[None] | None = None
        self._closed = False
        self.stored = 0
        self.batches = 0
        self.refused = 0

    def on_notice(self, listener: Callable[[Notice], None]) -> None:
        """``listener(notice)`` when something happened to the file while running (a
        damaged file set aside). Called on the loop thread."""
        self._notice_listeners.append(listener)

    def _notify_from_thread(self, notice: Notice) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # at open: the caller reads ``notices``
        for listener in self._notice_listeners:
            loop.call_soon_threadsafe(listener, notice)

    def on_problem(self, listener: Callable[[StorageProblem | None], None]) -> None:
        """``listener(problem)`` on every change: the problem while it cannot store,
        None once it stores again. Called on the loop thread."""
        self._listeners.append(listener)

    async def open(self) -> None:
        """Open the file. A damaged one is set aside and a fresh one started; any
        other failure leaves the journal refusing, and retrying, with ``problem``."""
        try:
            self._conn = await self._run(self._connect)
        except JournalError as exc:
            self._fail(exc.problem)
        self._loop = asyncio.get_running_loop()  # notices from now on reach listeners

    def _connect(self) -> sqlite3.Connection:
        try:
            return connect(self.path, timeout=self._timeout, max_pages=self.max_pages)
        except JournalError as exc:
            if not is_damage(exc.__cause__ or exc):
                raise
            why = exc.problem
        return self._start_afresh(why)

    def _start_afresh(self, why: StorageProblem) -> sqlite3.Connection:
        """Set the damaged file aside and open a fresh one (journal thread)."""
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
        try:
            moved = set_aside(self.path)
        except OSError as exc:
            raise JournalError(StorageProblem(Storage.DAMAGED, str(self.path), str(exc))) from exc
        notice = SetAside(str(self.path), moved.name, why)
        log.error("%s: set aside as %s, a new history started", why, moved.name)
        self.notices.append(notice)
        self._notify_from_thread(notice)
        return connect(self.path, timeout=self._timeout, max_pages=self.max_pages)

    @property
    def on(self) -> bool:
        return self._conn is not None and self.problem is None

    def append(
        self, event: Event, call_sid: str | None, request_id: str | None, row: CallRow | None
    ) -> asyncio.Future[bool]:
        """Queue one event; the future is True once it is committed and False if it
        could not be stored (at once while the journal cannot store)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        entry: Entry = (event, call_sid, request_id, row)
        if self._closed or not self.on:
            self._keep(entry)
            self.refused += 1
            future.set_result(False)
            return future
        self._queue.append((entry, future))
        if self._writing is None:
            self._write_next()
        return future

    def _keep(self, entry: Entry) -> None:
        """Keep what a failed write would lose until storing works again. Webhooks
        are not kept: their sender got a 503 and delivers them again."""
        event, _, _, row = entry
        if row is not None:
            self._unsaved_rows[row[0]] = row
        # A team stream's webhook has no sender to resend it (a restart would fetch it
        # again, but only if nothing after it was stored): kept like operator events.
        resent = isinstance(event, WebhookReceived) and not event.seq
        if not resent and len(self._backlog) < BACKLOG_LIMIT:
            self._backlog.append((event, entry[1], entry[2], None))

    def _write_next(self) -> None:
        batch, self._queue = self._queue, []
        if not batch:
            self._writing = None
            return
        loop = asyncio.get_running_loop()
        self._writing = loop.run_in_executor(
            self._executor, self._write, [entry for entry, _ in batch]
        )
        self._writing.add_done_callback(lambda done: self._written(done, batch))

    def _written(
        self, done: asyncio.Future[None], batch: list[tuple[Entry, asyncio.Future[bool]]]
    ) -> None:
        error = done.exception()
        if error is None:
            self.stored += len(batch)
            self.batches += 1
        else:
            self._fail(problem_of(error, self.path))
            for entry, _ in batch:
                self._keep(entry)
            for entry, future in self._queue:  # queued meanwhile: not stored either
                self._keep(entry)
                future.set_result(False)
            self._queue = []
        for _, future in batch:
            if not future.done():
                future.set_result(error is None)
        self._write_next()

    def _write(self, entries: Sequence[Entry]) -> None:
        """One transaction for the whole batch (this thread holds the only writer)."""
        try:
            self._transaction(entries)
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                raise
            # A page went bad under us: set the file aside, start afresh, store there.
            self._conn = self._start_afresh(problem_of(exc, self.path))
            self._transaction(entries)

    def _transaction(
        self, entries: Sequence[Entry], rows: dict[str, CallRow] | None = None
    ) -> None:
        conn = self._conn
        assert conn is not None
        events = []
        requests = []
        rows = dict(rows or {})
        seq, reset = 0, False
        for event, call_sid, request_id, row in entries:
            if isinstance(event, Rebuilt):
                seq, reset = event.seq, True
            else:
                seq = max(seq, getattr(event, "seq", 0))
            kind, body = encode_event(event)
            events.append(
                (
                    getattr(event, "at", 0.0),
                    self.profile,
                    kind,
                    storable(call_sid) if call_sid else call_sid,
                    storable(request_id) if request_id else request_id,
                    body,
                )
            )
            if request_id is not None:
                requests.append((kind, call_sid, request_id))
            if row is not None:
                rows[row[0]] = row
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                "INSERT INTO events (at, profile, kind, call_sid, request_id, body) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                events,
            )
            for kind, call_sid, request_id in requests:
                if kind in _OUTCOMES:
                    conn.execute("DELETE FROM pending WHERE request_id = ?", (request_id,))
                else:
                    conn.execute("INSERT OR IGNORE INTO pending VALUES (?)", (request_id,))
                if call_sid is not None and kind == "DialAccepted":
                    conn.execute(
                        "UPDATE events SET call_sid = ? WHERE request_id = ? AND call_sid IS NULL",
                        (call_sid, request_id),
                    )
            conn.executemany(_UPSERT_CALL, rows.values())
            if seq or reset:
                conn.execute(_STREAM_RESET if reset else _STREAM_SEQ, (self.profile, seq))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------ failing and back

    def _fail(self, problem: StorageProblem) -> None:
        if self.problem != problem:
            log.error("%s", problem)
            self.problem = problem
            self._tell(problem)
        if self._retrying is None and not self._closed:
            with contextlib.suppress(RuntimeError):  # no loop: open() failed outside one
                self._retrying = asyncio.get_running_loop().create_task(self._retry())

    async def _retry(self) -> None:
        """Try again every ``retry_every`` seconds: reconnect, store what waited."""
        try:
            while self.problem is not None and not self._closed:
                await asyncio.sleep(self.retry_every)
                while self._writing is not None:  # let the batch in flight finish first
                    await asyncio.wait([self._writing])
                if await self._store_waiting():
                    self.problem = None
                    self._tell(None)
        finally:
            self._retrying = None

    async def _store_waiting(self) -> bool:
        """Store the backlog and the unsaved rows; True once nothing waits."""
        first = True
        while first or self._backlog or self._unsaved_rows:
            backlog, rows = self._backlog, dict(self._unsaved_rows)
            waiting = len(backlog)
            try:
                store = self._reconnect_and_store if first else self._transaction
                await self._run(store, backlog[:waiting], rows)
            except (JournalError, sqlite3.Error, OSError) as exc:
                problem = (
                    exc.problem if isinstance(exc, JournalError) else problem_of(exc, self.path)
                )
                if problem != self.problem:
                    self.problem = problem
                    self._tell(problem)
                return False
            first = False
            del backlog[:waiting]  # what came in meanwhile goes in the next pass
            for sid, row in rows.items():
                if self._unsaved_rows.get(sid) is row:
                    self._unsaved_rows.pop(sid, None)
            log.warning("history is saved again (%d waiting events stored)", waiting)
        return True

    def _reconnect_and_store(self, backlog: list[Entry], rows: dict[str, CallRow]) -> None:
        """Journal thread: a fresh connection (a read-only or full state is not
        cached), then one transaction with everything that waited."""
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
        self._conn = self._connect()
        self._transaction(backlog, rows)

    def _tell(self, problem: StorageProblem | None) -> None:
        for listener in self._listeners:
            try:
                listener(problem)
            except Exception:  # a listener's bug must not stop storing
                log.exception("journal status listener failed")

    async def flush(self) -> None:
        """Wait until everything appended so far is written (or refused)."""
        while self._writing is not None:
            await asyncio.wait([self._writing])  # its done callback starts the next batch

    async def replay(self) -> list[Event]:
        """The events of this profile's calls that were live when the console
        stopped, and of requests still waiting for an answer, in order. A file
        that turns out damaged is set aside (and nothing replayed); an event
        that does not decode is skipped and counted in ``notices``."""
        if not self.on:
            return []
        try:
            rows = await self._run(self._select_replay)
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                self._fail(problem_of(exc, self.path))
                return []
            try:
                self._conn = await self._run(self._start_afresh, problem_of(exc, self.path))
            except JournalError as again:
                self._fail(again.problem)
            except (sqlite3.Error, OSError) as again:
                self._fail(problem_of(again, self.path))
            return []
        events: list[Event] = []
        unknown = undecodable = 0
        for kind, body in rows:
            try:
                event = decode_event(kind, body)
            except UndecodableEvent:
                undecodable += 1
                continue
            if event is None:
                unknown += 1
            else:
                events.append(event)
        if unknown:
            log.warning("journal: skipped %d events of kinds this console does not know", unknown)
        if undecodable:
            log.error("journal %s: %d stored events could not be read", self.path, undecodable)
            self.notices.append(EventsSkipped(undecodable, str(self.path)))
        return events

    def _select_replay(self) -> list[tuple[str, str]]:
        """Events to rebuild from: the live calls placed here, the newest
        ``FOREIGN_REPLAY`` live calls not placed here (a flood of unknown ids must
        not make a restart slow), the calls a live leg was forwarded from (so the
        leg is still ours), and requests still waiting for an answer."""
        assert self._conn is not None
        live = f"profile = ? AND status IN ({_LIVE_MARKS})"
        return self._conn.execute(
            "WITH live AS ("
            f"  SELECT sid FROM calls WHERE {live} AND placed_here = 1"
            f"  UNION ALL SELECT sid FROM (SELECT sid FROM calls WHERE {live}"
            "    AND placed_here = 0 ORDER BY started_at DESC LIMIT ?)),"
            " parents AS (SELECT DISTINCT sid FROM (SELECT CASE WHEN json_valid(body) THEN"
            "  coalesce(nullif(json_extract(body, '$.parent_sid'), ''),"
            "  json_extract(body, '$.params.ParentCallSid')) END AS sid FROM events"
            "  WHERE kind = 'WebhookReceived' AND call_sid IN (SELECT sid FROM live))"
            "  WHERE sid IS NOT NULL)"
            " SELECT kind, body FROM events WHERE profile = ? AND ("
            " call_sid IN (SELECT sid FROM live) OR call_sid IN (SELECT sid FROM parents)"
            " OR request_id IN (SELECT request_id FROM pending)) ORDER BY id",
            (
                self.profile,
                *LIVE_STATUSES,
                self.profile,
                *LIVE_STATUSES,
                FOREIGN_REPLAY,
                self.profile,
            ),
        ).fetchall()

    async def stream_seq(self) -> int:
        """The newest team-stream sequence stored for this profile (0: none)."""
        if not self.on:
            return 0
        await self.flush()
        try:
            return await self._run(self._select_stream_seq)
        except sqlite3.Error as exc:
            self._fail(problem_of(exc, self.path))
            return 0

    def _select_stream_seq(self) -> int:
        assert self._conn is not None
        row = self._conn.execute(
            "SELECT seq FROM stream WHERE profile = ?", (self.profile,)
        ).fetchone()
        return int(row[0]) if row else 0

    async def delete(self, before: float | None) -> int:
        """Delete finished calls (started before ``before``, or all) and their
        events; live calls stay. Returns how many calls went."""
        if not self.on:
            return 0
        await self.flush()
        return await self._run(self._delete, before)

    def _delete(self, before: float | None) -> int:
        conn = self._conn
        assert conn is not None
        where = f"status NOT IN ({_LIVE_MARKS})"
        if before is not None:
            where += " AND started_at < ?"
        args: tuple[Any, ...] = (*LIVE_STATUSES, *(() if before is None else (before,)))
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                f"DELETE FROM events WHERE call_sid IN (SELECT sid FROM calls WHERE {where})", args
            )
            conn.execute(
                "DELETE FROM events WHERE call_sid IS NULL AND request_id NOT IN "
                "(SELECT request_id FROM pending)" + (" AND at < ?" if before is not None else ""),
                () if before is None else (before,),
            )
            count = conn.execute(f"DELETE FROM calls WHERE {where}", args).rowcount
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return int(count)

    async def close(self) -> None:
        await self.flush()
        self._closed = True
        if self._retrying is not None:
            self._retrying.cancel()
            await asyncio.gather(self._retrying, return_exceptions=True)
        conn, self._conn = self._conn, None
        if conn is not None:
            await self._run(conn.close)
        self._executor.shutdown(wait=True)

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(*args, **kwargs))
