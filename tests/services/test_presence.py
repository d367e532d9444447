"""The desk's presence service: the heartbeat, a status posted at once, and
what happens when posts fail or the token is revoked (a small real server)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from console.core.events import Identified, LinkChanged, PublishPresence, StatusRequested
from console.core.reducer import State
from console.core.team import Link, Presence, Role, Team
from console.services.presence import PresenceService
from console.services.session import Session
from console.services.team_api import TeamApi
from tests.helpers import until
from tests.services.test_team_stream import TOKEN, FakeGateway, no_effects, serve  # noqa: F401


async def idle(response: web.StreamResponse, n: int) -> None:
    return None


def desk(url: str, every: float = 0.05) -> tuple[PresenceService, Session, TeamApi]:
    session = Session(no_effects, State(team=Team()))
    api = TeamApi(url, TOKEN)
    return PresenceService(api, session, every=every), session, api


async def test_the_heartbeat_repeats_the_status_once_the_desk_knows_who_it_is(
    serve: Callable[[FakeGateway], Awaitable[FakeGateway]],  # noqa: F811
) -> None:
    gateway = await serve(FakeGateway(idle))
    presence, session, api = desk(gateway.url)
    presence.start()
    await asyncio.sleep(0.15)
    assert gateway.posted == []  # not before the greeting says whose desk this is
    session.dispatch(Identified("alice", Role.OPERATOR, 1.0))
    session.dispatch(StatusRequested(Presence.AWAY, 2.0, "lunch"))
    await until(lambda: len(gateway.posted) >= 3, what="three heartbeats")
    assert gateway.posted[-1] == {"status": "away", "reason": "lunch"}
    session.dispatch(LinkChanged(Link.REVOKED, 3.0))
    await until(lambda: presence._task is not None and presence._task.done(), what="it stops")
    await presence.stop()
    await api.close()


async def test_a_status_is_posted_at_once_and_its_outcome_comes_back(
    serve: Callable[[FakeGateway], Awaitable[FakeGateway]],  # noqa: F811
) -> None:
    gateway = await serve(FakeGateway(idle))
    presence, _, api = desk(gateway.url, every=60)
    outcome = await presence.publish(PublishPresence(Presence.ON_CALL, "", "CA1"))
    assert outcome.ok
    assert gateway.posted == [{"status": "on-call", "callId": "CA1"}]
    await api.close()


async def test_an_unreachable_gateway_is_remembered_once_not_at_every_beat() -> None:
    presence, session, api = desk("http://127.0.0.1:9", every=0.02)
    changes: list[bool] = []
    session.subscribe(lambda s: s.team is not None and changes.append(s.team.presence_failed))
    session.dispatch(Identified("alice", Role.OPERATOR, 1.0))
    presence.start()
    await until(lambda: presence.failed >= 3, what="three failed beats")
    assert session.state.team is not None
    assert session.state.team.presence_failed
    assert changes.count(True) == 1
    await presence.stop()
    await api.close()
