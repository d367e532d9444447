"""One desk of a team, without Qt: the core session, the team's stream, the
desk's presence and telephony through the gateway.

The console's Team profile is built from it (``console.app``), and so are the
simulated operator desks of the team demo and the benchmarks: many desks run
in one asyncio process, each with its own token, session and (optionally)
journal; they may share one aiohttp session and one SDK thread pool.

    desk = await open_team_desk("https://gateway.example", token, journal_path)
    request_id = desk.dial("+15551230000", "+19876543210")
    ...
    await desk.close()

Nothing here listens: events come from the stream the desk opens outward, and
the SDK is pointed at the gateway with the operator token as its key (the SDK
finds out by itself that it talks to a gateway). No ``webhook_url`` is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from console.core.events import (
    ActionKind,
    ActionRequested,
    DialRequested,
    Effect,
    Event,
    PublishPresence,
    StatusRequested,
    Tick,
)
from console.core.reducer import State
from console.core.team import Presence, Team
from console.services.journal import Journal
from console.services.presence import HEARTBEAT, PresenceService
from console.services.session import Session
from console.services.team_api import TeamApi
from console.services.team_stream import IDLE_TIMEOUT, TeamStream
from console.services.telephony import Telephony
from twilio.rest import Client

ACCOUNT_SID = "AC" + "0" * 32  # the SDK wants one; the gateway knows the account
TICK_EVERY = 1.0


@dataclass
class TeamDesk:
    session: Session
    api: TeamApi
    telephony: Telephony
    stream: TeamStream
    presence: PresenceService
    journal: Journal | None = None
    tick_every: float = TICK_EVERY  # 0: the caller sends Tick (the Qt window's timer does)
    clock: Callable[[], float] = time.time
    _ticker: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def state(self) -> State:
        return self.session.state

    @property
    def team(self) -> Team:
        team = self.session.state.team
        assert team is not None  # a team desk's state always has its team
        return team

    async def run_effect(self, effect: Effect) -> Event:
        """The session's effects: presence to the gateway's team API, the rest to
        the SDK."""
        if isinstance(effect, PublishPresence):
            return await self.presence.publish(effect)
        return await self.telephony.run(effect)

    def start(self) -> None:
        self.stream.start()
        self.presence.start()
        if self.tick_every > 0 and self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick(), name="desk-tick")

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.tick_every)
            self.session.dispatch(Tick(self.clock()))

    # ------------------------------------------------------------ what an operator does

    def dial(
        self,
        to: str,
        caller_id: str,
        *,
        amd: bool = True,
        voice: str | None = None,
        ring_timeout: int = 30,
    ) -> str:
        """Place a call (E.164 numbers); the request id. The call is known once
        ``DialAccepted`` and the stream's ``placed`` event arrive."""
        request_id = uuid.uuid4().hex
        self.session.dispatch(
            DialRequested(request_id, to, caller_id, self.clock(), amd, voice, ring_timeout)
        )
        return request_id

    def act(self, call_sid: str, kind: ActionKind, text: str = "", **options: object) -> str:
        """Speak, gather, forward, hang up, or (a supervisor) take a call over."""
        request_id = uuid.uuid4().hex
        self.session.dispatch(
            ActionRequested(request_id, call_sid, kind, self.clock(), text, **options)  # type: ignore[arg-type]
        )
        return request_id

    def set_status(self, status: Presence, reason: str = "") -> None:
        self.session.dispatch(StatusRequested(status, self.clock(), reason))

    # ------------------------------------------------------------ closing

    async def close(self) -> None:
        """Stop the stream and the heartbeat, let requests in flight finish, write
        out the journal (with the last sequence applied)."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        await self.stream.stop()
        await self.presence.stop()
        self.session.stop_checks()
        try:
            async with asyncio.timeout(3.0):
                await self.session.drain()
        except TimeoutError:
            await self.session.cancel()
        await asyncio.get_running_loop().run_in_executor(None, self.telephony.close)
        if self.journal is not None:
            await self.journal.close()
        await self.api.close()


async def open_team_desk(
    gateway_url: str,
    token: str,
    journal_path: Path | None = None,
    *,
    profile: str = "Team",
    journal: Journal | None = None,
    http: aiohttp.ClientSession | None = None,
    executor: Executor | None = None,
    heartbeat: float = HEARTBEAT,
    idle_timeout: float = IDLE_TIMEOUT,
    tick_every: float = TICK_EVERY,
    start: bool = True,
    clock: Callable[[], float] = time.time,
) -> TeamDesk:
    """Build (and by default start) one headless desk.

    With a journal (``journal_path``, or an opened ``journal``) the desk
    rebuilds its live calls from it and resumes the stream after the last
    sequence it stored; without one it starts from the gateway's snapshot.
    ``http`` and ``executor`` may be shared by many desks in one process."""
    client = Client(
        ACCOUNT_SID,
        token,
        base_url=gateway_url,
        environment={},
        amd_not_sure_as="unknown",  # as the console: "not sure" is shown as such
    )
    telephony = Telephony(client, lambda: None, executor=executor, clock=clock, team=True)
    api = TeamApi(gateway_url, token, http)
    if journal is None and journal_path is not None:
        journal = Journal(journal_path, profile)
        await journal.open()
    holder: list[TeamDesk] = []

    async def run_effect(effect: Effect) -> Event:
        return await holder[0].run_effect(effect)

    session = Session(run_effect, State(team=Team()), journal)
    after = 0
    if journal is not None:
        session.restore(await journal.replay())
        session.fail_interrupted(clock())
        after = await journal.stream_seq()
    stream = TeamStream(api, session, client, after=after, clock=clock, idle_timeout=idle_timeout)
    presence = PresenceService(api, session, every=heartbeat, clock=clock)
    desk = TeamDesk(session, api, telephony, stream, presence, journal, tick_every, clock)
    holder.append(desk)
    if start:
        desk.start()
    return desk
