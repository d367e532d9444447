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

``PRAGMA user_version`` is the schema version; ``MIGRATIONS[n]`` takes a file
from version n to n + 1. A file from a newer console, a corrupt or locked file
or a full disk turns the journal off with a message for the operator: the
console keeps running without history and nothing stored is overwritten.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from console.core.calls import Call, CallStatus
from console.core.events import Event
from console.services.codec import decode_event, encode_event

log = logging.getLogger("kaphila.console.journal")

T = TypeVar("T")

FILE_NAME = "journal.sqlite3"
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
)
SCHEMA_VERSION = len(MIGRATIONS)

CALL_COLUMNS = ("sid", "profile", "number", "caller_id", "started_at", "answered_at",
                "ended_at", "duration", "status", "amd", "amd_confidence", "digits",
                "forwards", "spoken", "end_reason", "placed_here")
_UPSERT_CALL = (
    f"INSERT INTO calls ({', '.join(CALL_COLUMNS)}) VALUES ({', '.join('?' * len(CALL_COLUMNS))}) "
    "ON CONFLICT (sid) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in CALL_COLUMNS[2:]))
_OUTCOMES = ("DialAccepted", "DialFailed", "ActionSucceeded", "ActionFailed")

CallRow = tuple[Any, ...]
Entry = tuple[Event, str | None, str | None, CallRow | None]  # event, call, request, row


class JournalError(Exception):
    """The journal cannot be used; the message is for the operator."""


def call_row(call: Call, profile: str) -> CallRow:
    """The history row of a call, in ``CALL_COLUMNS`` order."""
    duration = (call.ended_at - call.answered_at
                if call.ended_at is not None and call.answered_at is not None else None)
    spoken = " | ".join(e.summary.removeprefix("Spoke: ") for e in call.timeline
                        if e.kind == "operator.speak")
    return (call.sid, profile, call.to, call.from_, call.created_at, call.answered_at,
            call.ended_at, duration, call.status.value,
            call.amd.answered_by if call.amd else "", call.amd.confidence if call.amd else None,
            call.digits, call.forwarded_to or "", spoken, call.end_reason or "",
            int(call.placed_here))


def connect(path: Path, *, timeout: float = 2.0,
            max_pages: int | None = None) -> sqlite3.Connection:
    """Open (creating or migrating) the journal file; ``JournalError`` says why not.

    ``max_pages`` caps the file's size (SQLite's own limit; tests use it to
    reach a full disk for real)."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():  # call history is private; SQLite gives -wal/-shm the same mode
            path.touch(mode=0o600)
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None,
                               check_same_thread=False)
    except (OSError, sqlite3.Error) as exc:
        raise JournalError(f"The history file {path} cannot be opened ({exc}).") from exc
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise JournalError(
                f"The history file {path} was written by a newer version of the console "
                f"(schema {version}, this one knows {SCHEMA_VERSION}); it is left untouched.")
        if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0] != "wal":
            raise JournalError(f"The history file {path} cannot use write-ahead logging.")
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
        raise JournalError(describe(exc, path)) from exc
    return conn


def describe(exc: sqlite3.Error, path: Path) -> str:
    """A database error in the operator's words."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        return (f"The history file {path} is locked by another program (is a second console "
                "running?). History is off until the console restarts.")
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return (f"The history file {path} is damaged ({text}). It is left untouched; "
                "history is off. Move the file away to start a new history.")
    if "full" in text:
        return (f"The disk holding {path} is full: new events are no longer stored. "
                "Free some space and restart the console.")
    return f"The history file {path} failed: {text}. History is off."


class Journal:
    def __init__(self, path: Path, profile: str, *, timeout: float = 2.0,
                 max_pages: int | None = None) -> None:
        self.path = path
        self._timeout = timeout
        self.profile = profile
        self.off_reason: str | None = None
        self._max_pages = max_pages
        self._conn: sqlite3.Connection | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kaphila-journal")
        self._queue: list[tuple[Entry, asyncio.Future[bool]]] = []
        self._writing: asyncio.Future[None] | None = None
        self.stored = 0
        self.batches = 0

    async def open(self) -> None:
        """Open the file; on failure the journal is off and ``off_reason`` says why."""
        try:
            self._conn = await self._run(connect, self.path, timeout=self._timeout,
                                         max_pages=self._max_pages)
        except JournalError as exc:
            self._turn_off(str(exc))

    @property
    def on(self) -> bool:
        return self._conn is not None and self.off_reason is None

    def append(self, event: Event, call_sid: str | None, request_id: str | None,
               row: CallRow | None) -> asyncio.Future[bool]:
        """Queue one event; the future is True once it is committed, False if it
        could not be stored, and True at once while the journal is off."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        if not self.on:
            future.set_result(True)
            return future
        self._queue.append(((event, call_sid, request_id, row), future))
        if self._writing is None:
            self._write_next()
        return future

    def _write_next(self) -> None:
        batch, self._queue = self._queue, []
        if not batch:
            self._writing = None
            return
        loop = asyncio.get_running_loop()
        self._writing = loop.run_in_executor(self._executor, self._write,
                                             [entry for entry, _ in batch])
        self._writing.add_done_callback(lambda done: self._written(done, batch))

    def _written(self, done: asyncio.Future[None],
                 batch: list[tuple[Entry, asyncio.Future[bool]]]) -> None:
        error = done.exception()
        if error is None:
            self.stored += len(batch)
            self.batches += 1
        else:
            message = (describe(error, self.path) if isinstance(error, sqlite3.Error)
                       else f"The history file {self.path} failed: {error}")
            self._turn_off(message)
        for _, future in batch:
            if not future.done():
                future.set_result(error is None)
        if error is not None:  # whatever queued meanwhile is not stored either
            for _, future in self._queue:
                future.set_result(False)
            self._queue = []
        self._write_next()

    def _write(self, entries: Sequence[Entry]) -> None:
        """One transaction for the whole batch (this thread holds the only writer)."""
        conn = self._conn
        assert conn is not None
        events = []
        requests = []
        rows: dict[str, CallRow] = {}
        for event, call_sid, request_id, row in entries:
            kind, body = encode_event(event)
            events.append((getattr(event, "at", 0.0), self.profile, kind, call_sid,
                           request_id, body))
            if request_id is not None:
                requests.append((kind, call_sid, request_id))
            if row is not None:
                rows[row[0]] = row
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("INSERT INTO events (at, profile, kind, call_sid, request_id, body) "
                             "VALUES (?, ?, ?, ?, ?, ?)", events)
            for kind, call_sid, request_id in requests:
                if kind in _OUTCOMES:
                    conn.execute("DELETE FROM pending WHERE request_id = ?", (request_id,))
                else:
                    conn.execute("INSERT OR IGNORE INTO pending VALUES (?)", (request_id,))
                if call_sid is not None and kind == "DialAccepted":
                    conn.execute("UPDATE events SET call_sid = ? WHERE request_id = ? "
                                 "AND call_sid IS NULL", (call_sid, request_id))
            conn.executemany(_UPSERT_CALL, rows.values())
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    async def flush(self) -> None:
        """Wait until everything appended so far is written (or refused)."""
        while self._writing is not None:
            await asyncio.wait([self._writing])  # its done callback starts the next batch

    async def replay(self) -> list[Event]:
        """The events of this profile's calls that were live when the console
        stopped, and of requests still waiting for an answer, in order."""
        if not self.on:
            return []
        rows = await self._run(self._select_replay)
        events = []
        for kind, body in rows:
            event = decode_event(kind, body)
            if event is None:
                log.warning("journal: skipped an event of unknown kind %r", kind)
            else:
                events.append(event)
        return events

    def _select_replay(self) -> list[tuple[str, str]]:
        assert self._conn is not None
        return self._conn.execute(
            "SELECT kind, body FROM events WHERE profile = ? AND ("
            " call_sid IN (SELECT sid FROM calls WHERE profile = ? AND status IN"
            f" ({_LIVE_MARKS}))"
            " OR request_id IN (SELECT request_id FROM pending)) ORDER BY id",
            (self.profile, self.profile, *LIVE_STATUSES)).fetchall()

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
            conn.execute("DELETE FROM events WHERE call_sid IN "
                         f"(SELECT sid FROM calls WHERE {where})", args)
            conn.execute("DELETE FROM events WHERE call_sid IS NULL AND request_id NOT IN "
                         "(SELECT request_id FROM pending)"
                         + (" AND at < ?" if before is not None else ""),
                         () if before is None else (before,))
            count = conn.execute(f"DELETE FROM calls WHERE {where}", args).rowcount
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return int(count)

    async def close(self) -> None:
        await self.flush()
        conn, self._conn = self._conn, None
        if conn is not None:
            await self._run(conn.close)
        self._executor.shutdown(wait=True)

    def _turn_off(self, reason: str) -> None:
        if self.off_reason is None:
            log.error("%s", reason)
            self.off_reason = reason

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(*args, **kwargs))
