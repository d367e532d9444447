"""The desk's outward connection to its team's stream (``GET /team/events``).

Server-sent events over a long HTTP response the desk opens itself: it works
behind NAT and through an HTTP proxy (``TeamApi`` honours HTTP(S)_PROXY). The
protocol is docs/TEAM.md's; what the desk does with it:

- **Once each.** Every frame has a stream sequence (``id``); one at or below
  the last applied is skipped. The last applied sequence is stored in the
  journal with the events that carried it, so a restart resumes after it
  (``Last-Event-ID``); the reducer holds the same rule (``Team.seq``).
- **Resume.** A dropped connection, a read that hears nothing (not even the
  10-second keepalive) for ``idle_timeout``, a gateway that says ``bye``
  (draining), a network that comes back after sleep: reconnect with
  ``Last-Event-ID``, with exponential backoff and jitter while it fails. The
  link state (``LinkChanged``) drives the header's "reconnecting…".
- **Gap.** A desk away longer than the stream keeps (``hello.gap``), or a desk
  that never streamed, rebuilds from ``GET /team/calls`` (+ ``/team/presence``)
  and streams on after the snapshot's sequence.
- **Revoked.** ``event: revoked``, or a 401 when connecting: the operator was
  removed (or the token is wrong). The stream stops and the link says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import aiohttp

from console.core.events import Identified, LinkChanged, Rebuilt
from console.core.team import Link
from console.services.session import Session
from console.services.team_api import CALLS, PRESENCE, TeamApi, TeamApiError
from console.services.team_events import ROLES, BadEvent, presence, seen_call, stream_event
from twilio.rest import Client

log = logging.getLogger("kaphila.console.team")

IDLE_TIMEOUT = 35.0  # seconds without a byte (keepalives come every 10 s) before reconnecting
BACKOFF_FIRST = 0.5  # seconds before the first retry; doubles up to BACKOFF_MAX
BACKOFF_MAX = 30.0


@dataclass(frozen=True, slots=True)
class Frame:
    """One server-sent event: ``id`` (None when absent), ``event``, ``data``."""

    id: str | None
    event: str
    data: str


async def frames(lines: AsyncIterator[bytes]) -> AsyncIterator[Frame]:
    """Server-sent events from a stream of lines (the HTML standard's rules that
    the team stream uses: ``id``, ``event``, multi-line ``data``, comments)."""
    event_id: str | None = None
    kind = ""
    data: list[str] = []
    async for raw in lines:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            if data or kind:
                yield Frame(event_id, kind or "message", "\n".join(data))
            event_id, kind, data = None, "", []
            continue
        if line.startswith(":"):  # a comment: the keepalive
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "id":
            event_id = value
        elif name == "event":
            kind = value
        elif name == "data":
            data.append(value)


async def _lines(resp: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    while True:
        line = await resp.content.readline()
        if not line:
            return
        yield line


class TeamStream:
    def __init__(
        self,
        api: TeamApi,
        session: Session,
        client: Client,
        *,
        after: int = 0,
        clock: Callable[[], float] = time.time,
        idle_timeout: float = IDLE_TIMEOUT,
        backoff_first: float = BACKOFF_FIRST,
        backoff_max: float = BACKOFF_MAX,
    ) -> None:
        self._api = api
        self._session = session
        self._client = client  # the SDK's one webhook mapping needs its settings
        self._clock = clock
        self.idle_timeout = idle_timeout
        self._backoff_first = backoff_first
        self._backoff_max = backoff_max
        team = session.state.team
        self.last = max(after, team.seq if team is not None else 0)  # newest sequence applied
        self.connections = 0  # connections opened (tests, diagnostics)
        self.skipped = 0  # frames at or below ``last``, not applied again
        self.bad = 0  # frames that could not be used
        self.rebuilds = 0
        self.revoked = False
        self._task: asyncio.Task[None] | None = None
        self._on_rebuild: list[Callable[[], object]] = []

    def on_rebuild(self, callback: Callable[[], object]) -> None:
        """``callback()`` after each rebuild from the snapshot (presence reloads)."""
        self._on_rebuild.append(callback)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run(), name="team-stream")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def _link(self, link: Link) -> None:
        team = self._session.state.team
        if team is None or team.link is not link:
            self._session.dispatch(LinkChanged(link, self._clock()))

    async def run(self) -> None:
        """Connect, read, reconnect, until revoked or stopped."""
        failures = 0
        while True:
            try:
                if self.last == 0 and self.rebuilds == 0:  # never streamed: start from now's view
                    await self.rebuild()
                healthy = await self._connect_once()
            except TeamApiError as exc:
                if exc.refused_token:
                    self._revoke("the gateway refused the token (401)")
                    return
                log.warning("team stream: %s", exc)
                healthy = False
            except (aiohttp.ClientError, TimeoutError, ConnectionError) as exc:
                log.warning("team stream lost: %s: %s", type(exc).__name__, exc)
                healthy = False
            if self.revoked:
                return
            self._link(Link.RECONNECTING)
            failures = 0 if healthy else failures + 1
            if failures:
                delay = min(self._backoff_max, self._backoff_first * 2 ** (failures - 1))
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))

    async def _connect_once(self) -> bool:
        """One connection, read to its end; True when it got as far as the greeting
        (the next attempt goes at once)."""
        resp = await self._api.open_events(self.last, self.idle_timeout)
        self.connections += 1
        greeted = False
        try:
            async for frame in frames(_lines(resp)):
                if frame.event == "hello":
                    await self._hello(frame)
                    greeted = True
                elif frame.event == "revoked":
                    self._revoke("the operator was removed")
                    return True
                elif frame.event == "bye":
                    log.info("team stream: the gateway is draining; reconnecting")
                    return True
                else:
                    self._apply(frame)
        finally:
            resp.release()
        return greeted

    async def _hello(self, frame: Frame) -> None:
        data = json.loads(frame.data or "{}")
        role = data.get("role")
        try:
            self._session.dispatch(
                Identified(str(data.get("operator", "")), ROLES[role], self._clock())
            )
        except KeyError:
            log.warning("team stream: a greeting with an unknown role %r", role)
        newest = data.get("seq")
        if isinstance(newest, int) and newest < self.last:
            # The stream was started afresh (its store wiped): its sequences begin
            # again below ours, and skipping them would skip everything.
            log.warning("team stream: the gateway's stream restarted at %d; rebuilding", newest)
            await self.rebuild(reset=True)
        elif data.get("gap") is True:
            await self.rebuild()
        self._link(Link.CONNECTED)

    def _apply(self, frame: Frame) -> None:
        try:
            seq = int(frame.id or "")
        except ValueError:
            self.bad += 1
            log.warning("team stream: a %s event without a sequence", frame.event)
            return
        if seq <= self.last:
            self.skipped += 1
            return
        try:
            data = json.loads(frame.data)
            if not isinstance(data, dict):
                raise BadEvent("the data is not an object")
            event = stream_event(frame.event, seq, data, self._client)
        except (ValueError, BadEvent) as exc:
            self.bad += 1
            log.warning("team stream: event %d (%s) skipped: %s", seq, frame.event, exc)
            event = None
        self.last = seq
        if event is not None:
            self._session.dispatch(event)

    async def rebuild(self, reset: bool = False) -> None:
        """Load the gateway's view of the live calls (and everyone's presence) and
        go on after the snapshot's sequence (``reset``: even a lower one)."""
        self._link(Link.REBUILDING)
        snapshot = await self._api.get(CALLS)
        seq = snapshot.get("seq")
        if not isinstance(seq, int):
            raise TeamApiError(0, "the gateway's snapshot has no sequence")
        now = self._clock()
        for data in snapshot.get("calls") or ():
            try:
                self._session.dispatch(seen_call(data, now))
            except (BadEvent, AttributeError) as exc:
                self.bad += 1
                log.warning("team snapshot: a call skipped: %s", exc)
        await load_presence(self._api, self._session)
        self._session.dispatch(Rebuilt(seq, self._clock()))
        self.last = seq if reset else max(self.last, seq)
        self.rebuilds += 1
        for callback in self._on_rebuild:
            callback()

    def _revoke(self, why: str) -> None:
        log.error("team stream stopped: %s", why)
        self.revoked = True
        self._link(Link.REVOKED)


async def load_presence(api: TeamApi, session: Session) -> int:
    """Everyone's presence (a supervisor's desk) or the desk's own; how many."""
    listing = await api.get(PRESENCE)
    count = 0
    for data in listing.get("operators") or ():
        try:
            session.dispatch(presence(data))
            count += 1
        except (BadEvent, AttributeError) as exc:
            log.warning("team presence: an entry skipped: %s", exc)
    return count
