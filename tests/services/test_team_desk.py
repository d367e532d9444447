"""Team desks end to end: headless desks (and a Team profile's console) on a
real gateway in team mode, with real NATS and the sandbox as Kaphila."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from console.app import start_console
from console.config import Profile, Settings, save
from console.core.calls import ActionKind, CallStatus, Failure
from console.core.events import ActionFailed, ActionRequested, RunAction
from console.core.reducer import RequestState
from console.core.team import Link, Presence, read_only
from console.qt import wording
from console.services.secrets import MemoryStore
from console.services.team_desk import TeamDesk, open_team_desk
from console.services.telephony import Telephony
from tests.gateway.conftest import (  # noqa: F401 - the gateway's fixtures, used here
    StartGateway,
    http,
    nats_server,
    nats_url,
    sandbox,
    start_gateway,
)
from tests.gateway.team_rig import Team, add_operators, read_stream, remove_operator
from tests.helpers import CALLER_ID, HUMAN, TEST_KEY, until
from twilio.rest import Client

TO = "+" + HUMAN
FROM = "+" + CALLER_ID
FAST = {"heartbeat": 0.2, "tick_every": 0.2}  # quick presence and clock for tests


@pytest.fixture
async def team(
    start_gateway: StartGateway,  # noqa: F811
    nats_url: str,  # noqa: F811
    http: aiohttp.ClientSession,  # noqa: F811
) -> Team:
    tokens = await add_operators(nats_url)
    gateway = await asyncio.to_thread(start_gateway, upstream_key=TEST_KEY)
    return Team(gateway, tokens, http)


OpenDesk = Callable[..., Any]


@pytest.fixture
async def open_desk(team: Team) -> AsyncIterator[OpenDesk]:
    """``await open_desk(name, journal_path=None)``: a headless desk, closed at the end."""
    desks: list[TeamDesk] = []

    async def open_(name: str, journal_path: Path | None = None, **options: Any) -> TeamDesk:
        desk = await open_team_desk(
            team.gateway.url, team.tokens[name], journal_path, **{**FAST, **options}
        )
        desks.append(desk)
        await until(lambda: desk.team.link is Link.CONNECTED, what=f"{name}'s desk connected")
        return desk

    yield open_
    for desk in desks:
        await desk.close()


def placed_call(desk: TeamDesk, request_id: str) -> str:
    sid = desk.state.requests[request_id].call_sid
    assert sid is not None
    return sid


def words(desk: TeamDesk, sid: str) -> list[str]:
    return [wording.timeline(entry) for entry in desk.state.calls[sid].timeline]


async def answered(desk: TeamDesk, request_id: str) -> str:
    await until(
        lambda: desk.state.requests[request_id].state != RequestState.PENDING, what="dial answer"
    )
    assert desk.state.requests[request_id].state == RequestState.DONE, desk.state.requests
    sid = placed_call(desk, request_id)
    await until(
        lambda: sid in desk.state.calls and desk.state.calls[sid].status is CallStatus.IN_PROGRESS,
        what="the call answered",
    )
    return sid


# ------------------------------------------------------------------ one call, every desk


async def test_an_operator_desk_and_a_supervisor_desk_show_a_call_identically(
    open_desk: OpenDesk,
) -> None:
    alice, sue = await open_desk("alice"), await open_desk("sue")
    sid = await answered(alice, alice.dial(TO, FROM))
    await until(lambda: sid in sue.state.calls, what="the supervisor sees the call")
    alice.act(sid, ActionKind.SPEAK, "Hello from alice")
    await until(lambda: len(sue.state.calls[sid].spoken) == 1, what="alice's speak on sue's desk")
    sue.act(sid, ActionKind.SPEAK, "Supervisor here")
    await until(lambda: len(alice.state.calls[sid].spoken) == 2, what="sue's speak on alice's desk")
    sue.act(sid, ActionKind.HANG_UP)
    for desk in (alice, sue):
        await until(lambda d=desk: not d.state.calls[sid].live, what="the end on every desk")
    await until(lambda: alice.team.seq == sue.team.seq, what="both desks at the same sequence")
    assert words(alice, sid) == words(sue, sid)
    shown = words(sue, sid)
    assert shown[0] == f"Placed by alice to {TO}"
    assert "alice, operator, spoke: “Hello from alice”" in shown  # no document was running
    assert "sue, supervisor, spoke: “Supervisor here”" in shown
    assert "Hung up by sue, supervisor" in shown
    assert sum(", spoke: " in line for line in shown) == 2  # own outcomes added nothing


async def test_a_supervisor_takes_a_call_over_and_the_operator_only_watches_it(
    open_desk: OpenDesk,
) -> None:
    alice, sue = await open_desk("alice"), await open_desk("sue")
    sid = await answered(alice, alice.dial(TO, FROM))
    await until(lambda: alice.team.status.status is Presence.ON_CALL, what="alice on a call")
    await until(lambda: sid in sue.state.calls, what="the supervisor sees the call")
    request = sue.act(sid, ActionKind.TAKE_OVER)
    await until(lambda: alice.state.calls[sid].owner == "sue", what="the take-over on alice's desk")
    assert sue.state.requests[request].state == RequestState.DONE
    assert read_only(alice.team, alice.state.calls[sid])
    assert alice.state.calls[sid].taken_from == "alice"
    taken = "sue, supervisor, took over from alice"
    assert any(line.startswith(taken) for line in words(alice, sid))
    assert alice.team.status.status is Presence.WRAP_UP
    refused = alice.act(sid, ActionKind.HANG_UP)
    assert alice.state.requests[refused].reason is Failure.TAKEN_OVER
    sue.act(sid, ActionKind.HANG_UP)
    await until(lambda: not alice.state.calls[sid].live, what="the end, on the operator's desk")


async def test_the_gateways_refusal_arrives_as_a_failure_naming_the_owner(team: Team) -> None:
    bob = Client("AC" + "1" * 32, team.tokens["bob"], base_url=team.gateway.url, environment={})
    call = await asyncio.to_thread(bob.calls.create, to=TO, from_=FROM)
    alice = Telephony(
        Client("AC" + "1" * 32, team.tokens["alice"], base_url=team.gateway.url, environment={}),
        lambda: None,
        team=True,
    )
    try:
        outcome = await alice.act(
            RunAction(ActionRequested("r1", call.sid, ActionKind.HANG_UP, at=1.0))
        )
    finally:
        await asyncio.to_thread(alice.close)
        await asyncio.to_thread(bob.calls(call.sid).hangup)
        bob.close()
    assert isinstance(outcome, ActionFailed)
    assert (outcome.reason, outcome.status, outcome.code) == (Failure.FORBIDDEN, 403, 20003)
    assert "belongs to bob" in outcome.message


# ------------------------------------------------------------------ away and back


async def test_a_desk_offline_while_events_happen_applies_each_once_when_back(
    open_desk: OpenDesk, team: Team
) -> None:
    alice, sue = await open_desk("alice"), await open_desk("sue")
    start, applied = sue.team.seq, sue.team.applied
    await sue.stream.stop()  # the supervisor's network goes away
    calls = [await answered(alice, alice.dial(TO, FROM)) for _ in range(2)]
    for sid in calls:
        alice.act(sid, ActionKind.SPEAK, "while you were away")
        alice.act(sid, ActionKind.HANG_UP)
    for sid in calls:
        await until(lambda s=sid: not alice.state.calls[s].live, what="alice's calls ended")
    assert not any(sid in sue.state.calls for sid in calls)
    sue.stream.start()  # back
    await until(
        lambda: all(sid in sue.state.calls for sid in calls), what="the calls on sue's desk"
    )
    raw = await read_stream(team.session, team.gateway.url, team.tokens["sue"], after=start)
    try:
        await until(lambda: sue.team.seq == raw.last_id, what="sue caught up")
        expected = sum(1 for f in raw.frames if f.id is not None)
        assert sue.team.applied - applied == expected
        assert sue.team.skipped == 0
        for sid in calls:
            assert words(sue, sid) == words(alice, sid)
    finally:
        await raw.close()


async def test_a_desk_restarted_from_its_journal_resumes_from_its_stored_sequence(
    open_desk: OpenDesk, team: Team, tmp_path: Path
) -> None:
    path = tmp_path / "alice.sqlite3"
    alice = await open_desk("alice", path)
    sue = await open_desk("sue")
    sid = await answered(alice, alice.dial(TO, FROM))
    await until(lambda: sid in sue.state.calls, what="the supervisor sees the call")
    await until(lambda: alice.team.seq == sue.team.seq, what="alice caught up")
    stored = alice.team.seq
    await alice.close()
    sue.act(sid, ActionKind.SPEAK, "she is away")
    sue.act(sid, ActionKind.HANG_UP)
    await until(lambda: not sue.state.calls[sid].live, what="the end, while alice is away")

    again = await open_desk("alice", path)
    assert again.stream.connections == 1
    await until(lambda: not again.state.calls[sid].live, what="the end, after the restart")
    await until(lambda: again.team.seq == sue.team.seq, what="alice caught up again")
    assert words(again, sid) == words(sue, sid)
    raw = await read_stream(team.session, team.gateway.url, team.tokens["alice"], after=stored)
    try:
        await until(lambda: raw.last_id == again.team.seq, what="the raw stream read")
        after_restart = sum(1 for f in raw.frames if f.id is not None)
    finally:
        await raw.close()
    replayed = again.team.applied - after_restart  # from the journal, before the stream
    assert replayed > 0
    assert again.team.skipped == 0


async def test_a_removed_operators_desk_stops_and_says_revoked(
    open_desk: OpenDesk,
    nats_url: str,  # noqa: F811
) -> None:
    bob = await open_desk("bob")
    await remove_operator(nats_url, "bob")
    await until(lambda: bob.team.link is Link.REVOKED, what="bob's desk revoked")
    assert not bob.stream.running


# ------------------------------------------------------------------ presence


async def test_presence_follows_the_operators_calls_on_the_supervisors_desk(
    open_desk: OpenDesk,
) -> None:
    sue = await open_desk("sue")
    alice = await open_desk("alice")

    def alice_on_sues_desk() -> Presence | None:
        seen = sue.team.operators.get("alice")
        return seen.status if seen is not None else None

    await until(lambda: alice_on_sues_desk() is Presence.AVAILABLE, what="alice available")
    sid = await answered(alice, alice.dial(TO, FROM))
    await until(lambda: alice_on_sues_desk() is Presence.ON_CALL, what="alice on a call")
    assert sue.team.operators["alice"].call_sid == sid
    alice.act(sid, ActionKind.HANG_UP)
    await until(lambda: alice_on_sues_desk() is Presence.WRAP_UP, what="alice wrapping up")
    alice.set_status(Presence.AWAY, "coffee")
    await until(lambda: alice_on_sues_desk() is Presence.AWAY, what="alice away")
    assert sue.team.operators["alice"].reason == "coffee"
    await until(lambda: sue.team.figures is not None and sue.team.figures.placed >= 1)
    assert sue.team.figures is not None
    assert dict(sue.team.figures.per_operator).get("alice", 0) >= 1


# ------------------------------------------------------------------ the Team profile


async def test_a_team_profile_starts_no_sandbox_and_no_listener(team: Team, tmp_path: Path) -> None:
    settings_path = tmp_path / "settings.json"
    profile = Profile("Team", base_url=team.gateway.url, team=True)
    save(Settings(profiles=(profile,), active="Team"), settings_path)
    store = MemoryStore()
    store.set("Team", team.tokens["alice"])
    console = await start_console(settings_path, store, tmp_path / "data")
    try:
        assert console.listener is None
        assert console.sandbox is None
        assert console.team is not None
        assert console.webhook_url() == ""
        await until(lambda: console.team is not None and console.team.team.me.operator == "alice")
        request = console.team.dial(TO, FROM)
        await until(lambda: console.session.state.requests[request].state == RequestState.DONE)
        assert "kgo_" not in settings_path.read_text()
        assert json.loads(settings_path.read_text())["profiles"][0]["team"] is True
    finally:
        await console.close()
