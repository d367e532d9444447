"""The desk's presence in its team (docs/TEAM.md, "Presence").

The reducer decides the desk's own status (``Team.status``: on-call while one
of its own calls is live, wrap-up after, the operator's pick otherwise) and
asks for it to be published (``PublishPresence``); this service posts it to
``POST /team/presence`` at once, and again every ``HEARTBEAT`` seconds as
the desk's heartbeat (the gateway marks a desk offline after 15 s without
one). A supervisor's desk also loads the team's figures (``GET
/team/stats``) on the same beat; everyone's presence is loaded at start and
after a rebuild (``team_stream.load_presence``), changes come on the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from console.core.events import FiguresLoaded, PresencePosted, PublishPresence
from console.core.team import Link, Presence
from console.services.session import Session
from console.services.team_api import PRESENCE, STATS, TeamApi, TeamApiError
from console.services.team_events import BadEvent, figures
from console.services.team_stream import load_presence

log = logging.getLogger("kaphila.console.team")

HEARTBEAT = 5.0  # seconds between posts of the same status (the gateway's offline is 15 s)


class PresenceService:
    def __init__(
        self,
        api: TeamApi,
        session: Session,
        every: float = HEARTBEAT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._api = api
        self._session = session
        self.every = every
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self.posted = 0  # posts that reached the gateway
        self.failed = 0

    async def publish(self, effect: PublishPresence) -> PresencePosted:
        """Post one status now (the reducer's effect); the outcome is an event."""
        ok = await self._post(effect.status, effect.reason, effect.call_sid)
        return PresencePosted(effect.status, self._clock(), ok)

    async def _post(self, status: Presence, reason: str, call_sid: str) -> bool:
        body: dict[str, str] = {"status": status.value}
        if reason:
            body["reason"] = reason
        if call_sid:
            body["callId"] = call_sid
        try:
            await self._api.post(PRESENCE, body)
        except TeamApiError as exc:
            self.failed += 1
            log.warning("presence not posted: %s", exc)
            return False
        self.posted += 1
        return True

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run(), name="presence")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run(self) -> None:
        """The heartbeat (and a supervisor's figures), every ``every`` seconds."""
        loaded = False
        while True:
            team = self._session.state.team
            if team is not None and team.link is Link.REVOKED:  # the token is no more
                return
            if team is not None and team.me.known:  # the greeting says who we are first
                if team.supervisor and not loaded:
                    loaded = await self._load_presence()
                await self.beat()
                if team.supervisor:
                    await self.load_figures()
            await asyncio.sleep(self.every)

    async def beat(self) -> None:
        """Post the desk's current status again; the state hears only of a change
        in whether posts get through."""
        team = self._session.state.team
        if team is None:
            return
        own = team.status
        ok = await self._post(own.status, own.reason, own.call_sid)
        if ok == team.presence_failed:
            self._session.dispatch(PresencePosted(own.status, self._clock(), ok))

    async def _load_presence(self) -> bool:
        try:
            await load_presence(self._api, self._session)
        except TeamApiError as exc:
            log.warning("team presence not loaded: %s", exc)
            return False
        return True

    async def load_figures(self) -> None:
        try:
            data = await self._api.get(STATS)
            loaded = figures(data, self._clock())
        except (TeamApiError, BadEvent) as exc:
            log.warning("team figures not loaded: %s", exc)
            return
        self._session.dispatch(FiguresLoaded(loaded, self._clock()))
