"""Team mode from outside (issue 13; docs/TEAM.md): operator tokens, who may do
what, the audit on the stream, take-over, the team stream to desks, presence,
the live view and the day's figures. A real gateway in team mode, real NATS,
the sandbox as Kaphila."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import aiohttp
import pytest
from flask import Flask

from console.gateway import team as team_module
from console.sandbox import SandboxThread
from tests.gateway.conftest import Api, StartGateway
from tests.gateway.team_rig import Team, add_operators, read_stream, remove_operator
from tests.gateway.test_twilio_apps import Look
from tests.helpers import CALLER_ID, HUMAN, TEST_KEY
from tests.sdk.conftest import AppServer
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

MACHINE = "15551230001"
NO_ANSWER = "15551230004"


@pytest.fixture
async def team(start_gateway: StartGateway, nats_url: str, http: aiohttp.ClientSession) -> Team:
    tokens = await add_operators(nats_url)
    gateway = await asyncio.to_thread(start_gateway, upstream_key=TEST_KEY)
    return Team(gateway, tokens, http)


def sdk(team: Team, name: str) -> Client:
    return Client("AC" + "1" * 32, team.tokens[name], base_url=team.gateway.url, environment={})


async def place(api: Api, number: str = HUMAN) -> str:
    status, data, _ = await api.post(
        "/makecall", {"number": number, "callerId": CALLER_ID, "useAmd": True}
    )
    assert status == 200, data
    return str(data["callId"])


# ----------------------------------------------------------------- who may do what


async def test_no_token_an_unknown_one_and_the_account_key_get_401(team: Team) -> None:
    api = team.api("alice")
    for key, words in (
        (None, "send your operator token"),
        ("kgo_" + "x" * 43, "unknown operator token"),
        (TEST_KEY, "holds the account's Kaphila key itself"),
    ):
        status, data, headers = await api.post(
            "/makecall", {"number": HUMAN, "callerId": CALLER_ID}, key=key
        )
        assert status == 401, data
        assert words in data["error"]
        assert headers["WWW-Authenticate"].startswith("Bearer")
        assert TEST_KEY not in data["error"]
    status, _, _ = await api.get("/team/events", key=None)
    assert status == 401


async def test_an_operator_acts_on_their_calls_only_and_a_supervisor_on_any(team: Team) -> None:
    alice, bob, sue = team.api("alice"), team.api("bob"), team.api("sue")
    call = await place(alice)

    status, data, _ = await bob.post("/voice", {"callId": call, "text": "not mine"})
    assert status == 403
    assert "belongs to alice" in data["error"]
    status, data, _ = await bob.get(f"/calls/{call}")
    assert status == 403
    status, data, _ = await bob.get("/calls")
    assert status == 200
    assert data["calls"] == []

    # The SDK says it as Twilio would: status 403, code 20003.
    with pytest.raises(TwilioRestException) as refused:
        await asyncio.to_thread(sdk(team, "bob").calls(call).update, status="completed")
    assert (refused.value.status, refused.value.code) == (403, 20003)
    assert "belongs to alice" in refused.value.msg

    status, data, _ = await alice.get(f"/calls/{call}")
    assert status == 200, data
    deadline = time.monotonic() + 10
    while True:  # a call can be forwarded once answered
        status, data, _ = await sue.get(f"/calls/{call}")
        assert status == 200, data
        if data["status"] == "answered" or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    status, data, _ = await sue.post(
        "/forwardcall", {"callId": call, "forwardNumber": "15557654321"}
    )
    assert status == 200, data
    status, data, _ = await alice.get("/calls")
    assert [c["callId"] for c in data["calls"]] == [call]

    status, data, _ = await bob.get("/team/stats")
    assert status == 403
    assert "only a supervisor" in data["error"]
    status, data, _ = await bob.post(f"/team/calls/{call}/takeover", {})
    assert status == 403
    status, data, _ = await bob.post("/voice", {"callId": "CA-nope", "text": "x"})
    assert status == 404


async def test_every_action_is_recorded_on_the_stream_with_who_and_role(team: Team) -> None:
    sue_stream = await read_stream(team.session, team.gateway.url, team.tokens["sue"])
    alice_stream = await read_stream(team.session, team.gateway.url, team.tokens["alice"])
    bob_stream = await read_stream(team.session, team.gateway.url, team.tokens["bob"])
    try:
        alice, sue = team.api("alice"), team.api("sue")
        call = await place(alice)
        await alice_stream.wait_for(
            lambda f: f.kind == "webhook" and f.data["payload"]["event"] == "call.answered",
            what="the answer",
        )
        status, data, _ = await alice.post("/voice", {"callId": call, "text": "Hello from Alice"})
        assert status == 200, data
        status, data, _ = await sue.post("/hangup", {"callId": call})
        assert status == 200, data
        for stream in (alice_stream, sue_stream):
            await stream.wait_for(
                lambda f: f.kind == "action" and f.data["action"] == "hangup", what="the hang-up"
            )
            actions = [
                (f.data["action"], f.data["by"], f.data["role"], f.data["detail"])
                for f in stream.of("action", call)
            ]
            assert actions == [
                ("speak", "alice", "operator", "Hello from Alice"),
                ("hangup", "sue", "supervisor", ""),
            ]
            placed = stream.of("placed", call)
            assert [(p.data["owner"], p.data["to"]) for p in placed] == [("alice", HUMAN)]
        # Both desks saw the same frames for the call, in the same order.
        assert [f.id for f in alice_stream.frames if f.data.get("callId") == call] == [
            f.id for f in sue_stream.frames if f.data.get("callId") == call
        ]
        await asyncio.sleep(0.3)
        assert [f for f in bob_stream.frames if f.data.get("callId") == call] == []
        async with team.session.get(team.gateway.url + "/metrics") as resp:
            metrics = await resp.text()
        assert "kgw_desks_connected 3.0" in metrics
        fanned = [
            line for line in metrics.splitlines() if line.startswith("kgw_fanout_seconds_count")
        ]
        assert fanned
        assert float(fanned[0].split()[-1]) > 0
        assert team.tokens["alice"] not in metrics
    finally:
        for stream in (sue_stream, alice_stream, bob_stream):
            await stream.close()


async def test_an_action_ends_a_running_twiml_document_first(
    team: Team, sandbox: SandboxThread
) -> None:
    look = Look(sandbox)
    stream = await read_stream(team.session, team.gateway.url, team.tokens["sue"])
    try:
        twiml = (
            '<Response><Say>First words.</Say><Pause length="2"/>'
            "<Say>Words nobody hears.</Say></Response>"
        )
        call = await asyncio.to_thread(
            lambda: (
                sdk(team, "alice")
                .calls.create(to="+" + HUMAN, from_="+" + CALLER_ID, twiml=twiml)
                .sid
            )
        )
        await stream.wait_for(
            lambda f: f.kind == "webhook" and f.data["payload"]["event"] == "call.answered",
            what="the answer",
        )
        await asyncio.to_thread(
            look.wait, lambda: "First words." in look.heard(call), "the first words"
        )
        status, data, _ = await team.api("sue").post(
            "/voice", {"callId": call, "text": "Supervisor here"}
        )
        assert status == 200, data
        action = await stream.wait_for(lambda f: f.kind == "action", what="the action")
        assert action.data["endedDocument"] is True
        assert (action.data["by"], action.data["role"]) == ("sue", "supervisor")
        await asyncio.sleep(3)  # past the document's pause
        spoken = [s["text"] for s in (await asyncio.to_thread(look.call, call))["spoken"]]
        assert spoken == ["First words.", "Supervisor here"]
        assert (await asyncio.to_thread(look.call, call))["status"] == "answered"
    finally:
        await stream.close()


async def test_an_action_on_a_call_with_no_document_says_none_was_ended(team: Team) -> None:
    """The SDK sends its extension with every call; one without url or twiml
    runs no document, so an action ends none."""
    stream = await read_stream(team.session, team.gateway.url, team.tokens["alice"])
    try:
        alice = team.api("alice")
        status, data, _ = await alice.post(
            "/makecall", {"number": HUMAN, "callerId": CALLER_ID, "twilio": {}}
        )
        assert status == 200, data
        call = data["callId"]
        await stream.wait_for(
            lambda f: f.kind == "webhook" and f.data["payload"]["event"] == "call.answered",
            what="the answer",
        )
        status, data, _ = await alice.post("/voice", {"callId": call, "text": "Hello"})
        assert status == 200, data
        action = await stream.wait_for(lambda f: f.kind == "action", what="the action")
        assert action.data["endedDocument"] is False
    finally:
        await stream.close()


async def test_take_over_makes_the_call_the_supervisors_and_the_operator_read_only(
    team: Team,
) -> None:
    alice, sue = team.api("alice"), team.api("sue")
    alice_stream = await read_stream(team.session, team.gateway.url, team.tokens["alice"])
    try:
        call = await place(alice)
        status, data, _ = await sue.post(f"/team/calls/{call}/takeover", {})
        assert status == 200, data
        assert (data["owner"], data["takenFrom"]) == ("sue", "alice")
        status, data, _ = await alice.post("/voice", {"callId": call, "text": "mine?"})
        assert status == 403
        assert "taken over by sue" in data["error"]
        status, data, _ = await alice.get(f"/calls/{call}")
        assert status == 200  # still visible to her
        status, data, _ = await sue.post("/hangup", {"callId": call})
        assert status == 200, data
        await alice_stream.wait_for(
            lambda f: f.kind == "webhook" and f.data["payload"]["event"] == "call.ended",
            what="the end, seen by the operator it was taken from",
        )
        taken = alice_stream.of("action", call)
        assert next((a.data["action"], a.data["by"], a.data["detail"]) for a in taken) == (
            "takeover",
            "sue",
            "alice",
        )
    finally:
        await alice_stream.close()


async def test_a_removed_operator_is_refused_and_their_stream_closed(
    team: Team, nats_url: str
) -> None:
    stream = await read_stream(team.session, team.gateway.url, team.tokens["bob"])
    try:
        await remove_operator(nats_url, "bob")
        async with asyncio.timeout(5):
            await stream.ended.wait()
        assert stream.frames[-1].kind == "revoked"
        status, data, _ = await team.api("bob").post(
            "/makecall", {"number": HUMAN, "callerId": CALLER_ID}
        )
        assert status == 401
        assert "unknown operator token" in data["error"]
    finally:
        await stream.close()


# ----------------------------------------------------------------- the stream


async def test_a_desk_that_was_away_gets_every_event_once_from_where_it_stopped(
    team: Team,
) -> None:
    alice = team.api("alice")
    first = await read_stream(team.session, team.gateway.url, team.tokens["alice"])
    call = await place(alice)
    await first.wait_for(lambda f: f.kind == "placed", what="the placement")
    stopped_at = first.last_id
    await first.close()
    # Away: the call is answered, spoken to, and hung up.
    await asyncio.sleep(1.0)
    status, _, _ = await alice.post("/voice", {"callId": call, "text": "while you were away"})
    assert status == 200
    status, _, _ = await alice.post("/hangup", {"callId": call})
    assert status == 200
    await asyncio.sleep(0.5)
    again = await read_stream(
        team.session, team.gateway.url, team.tokens["alice"], after=stopped_at
    )
    try:
        await again.wait_for(
            lambda f: f.kind == "webhook" and f.data["payload"]["event"] == "call.ended",
            what="the end",
        )
        hello = again.frames[0]
        assert hello.kind == "hello"
        assert hello.data["gap"] is False
        ids = [f.id for f in again.frames if f.id is not None]
        assert ids == sorted(set(ids)), "each event once, in order"
        assert min(ids) > stopped_at
        everything = await read_stream(
            team.session, team.gateway.url, team.tokens["alice"], after=0
        )
        try:
            await everything.wait_for(lambda f: f.id == max(ids), what="the same last event")
            before = [f.id for f in everything.frames if f.id is not None and f.id <= stopped_at]
            assert sorted(before + ids) == [f.id for f in everything.frames if f.id is not None]
        finally:
            await everything.close()
    finally:
        await again.close()


async def test_a_desk_behind_the_feeds_memory_catches_up_from_the_stream(
    team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A desk older than what the gateway keeps in memory reads the stream itself."""
    feed = team.gateway.gateway._team.feed  # type: ignore[union-attr]
    alice = team.api("alice")
    calls = [await place(alice) for _ in range(3)]
    stream = await read_stream(team.session, team.gateway.url, team.tokens["alice"], after=0)
    try:
        for call in calls:
            await stream.wait_for(
                lambda f, c=call: f.kind == "placed" and f.data["callId"] == c, what="placed"
            )
        assert feed.ring, "the feed has frames in memory"
        ids = [f.id for f in stream.frames if f.id is not None]
        assert ids == sorted(set(ids))
    finally:
        await stream.close()


# ----------------------------------------------------------------- presence and figures


async def test_presence_is_posted_listed_and_marked_offline_without_heartbeat(
    team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(team_module, "OFFLINE_AFTER", 1.0)
    monkeypatch.setattr(team_module, "SWEEP_EVERY", 0.2)
    sue_stream = await read_stream(team.session, team.gateway.url, team.tokens["sue"])
    try:
        alice = team.api("alice")
        status, data, _ = await alice.post("/team/presence", {"status": "away", "reason": "lunch"})
        assert status == 200, data
        status, data, _ = await alice.post("/team/presence", {"status": "sleeping"})
        assert status == 400
        assert "available" in data["error"]
        status, data, _ = await team.api("sue").get("/team/presence")
        listed = {o["operator"]: (o["status"], o["reason"]) for o in data["operators"]}
        assert listed == {
            "alice": ("away", "lunch"),
            "bob": ("offline", ""),
            "sue": ("offline", ""),
        }
        status, data, _ = await alice.get("/team/presence")
        assert [o["operator"] for o in data["operators"]] == ["alice"]
        frame = await sue_stream.wait_for(
            lambda f: f.kind == "presence" and f.data["status"] == "offline",
            what="alice marked offline",
        )
        assert frame.data["operator"] == "alice"
        statuses = [f.data["status"] for f in sue_stream.of("presence")]
        assert statuses == ["away", "offline"]
    finally:
        await sue_stream.close()


async def test_the_live_view_and_the_days_figures(
    team: Team, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kaphila.gateway.team")
    alice, bob, sue = team.api("alice"), team.api("bob"), team.api("sue")
    answered = await place(alice)
    machine = await place(bob, MACHINE)
    missed = await place(bob, NO_ANSWER)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        status, data, _ = await sue.get("/team/calls")
        states = {c["callId"]: c["status"] for c in data["calls"]}
        if states.get(answered) == "in-progress" and states.get(machine) == "in-progress":
            break
        await asyncio.sleep(0.1)
    assert states[answered] == "in-progress"
    status, data, _ = await alice.get("/team/calls")
    assert [c["callId"] for c in data["calls"]] == [answered]
    assert data["calls"][0]["owner"] == "alice"
    assert data["seq"] > 0

    await alice.post("/hangup", {"callId": answered})
    await bob.post("/hangup", {"callId": machine})
    await bob.post("/hangup", {"callId": missed})
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        status, figures, _ = await sue.get("/team/stats")
        assert status == 200, figures
        if figures["live"] == 0 and figures["answered"] + figures["notAnswered"] == 3:
            break
        await asyncio.sleep(0.1)
    assert figures["placed"] == 3
    assert (figures["answered"], figures["notAnswered"]) == (2, 1)
    assert figures["answerRate"] == pytest.approx(2 / 3, abs=1e-3)
    assert figures["amd"] == {"human": 1, "machine": 1, "unknown": 0}
    assert figures["perOperator"] == {"alice": 1, "bob": 2}
    assert figures["avgHandleSeconds"] is not None
    # One INFO line per call when it ends, with its call id and operator as fields.
    summaries = [r for r in caplog.records if r.getMessage().startswith("call ended")]
    assert sorted(getattr(r, "call_id", "") for r in summaries) == sorted(
        [answered, machine, missed]
    )
    assert sorted(getattr(r, "operator", "") for r in summaries) == ["alice", "bob", "bob"]


async def test_a_desk_heard_by_one_gateway_is_not_marked_offline_by_another(
    start_gateway: StartGateway,
    nats_url: str,
    http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Heartbeats are kept in each gateway's memory and shared through one record
    per gateway: the gateway that did not hear the desk must not take it for gone."""
    monkeypatch.setattr(team_module, "OFFLINE_AFTER", 1.5)
    monkeypatch.setattr(team_module, "SWEEP_EVERY", 0.1)
    monkeypatch.setattr(team_module, "LIVENESS_EVERY", 0.3)
    tokens = await add_operators(nats_url)
    first = await asyncio.to_thread(start_gateway, upstream_key=TEST_KEY)
    second = await asyncio.to_thread(start_gateway, upstream_key=TEST_KEY)
    heard_by_first = Api(first.url, http, key=tokens["alice"])
    status, data, _ = await heard_by_first.post("/team/presence", {"status": "available"})
    assert status == 200, data
    watcher = await read_stream(http, second.url, tokens["sue"])
    try:
        for _ in range(12):  # 3.6 s of heartbeats, all to the first gateway
            await asyncio.sleep(0.3)
            status, data, _ = await heard_by_first.post("/team/presence", {"status": "available"})
            assert status == 200, data
        status, data, _ = await Api(second.url, http, key=tokens["sue"]).get("/team/presence")
        alice = next(o for o in data["operators"] if o["operator"] == "alice")
        assert alice["status"] == "available"
        assert watcher.of("presence") == [], "no one was marked offline"
        # Silence: now either gateway may mark her offline, and one does.
        frame = await watcher.wait_for(lambda f: f.kind == "presence", within=5, what="offline")
        assert (frame.data["operator"], frame.data["status"]) == ("alice", "offline")
        await asyncio.sleep(0.5)
        assert len(watcher.of("presence")) == 1, "announced once, by one gateway"
    finally:
        await watcher.close()


async def test_an_action_during_a_slow_app_fetch_ends_the_document_for_good(
    team: Team, sandbox: SandboxThread
) -> None:
    """The interpreter was mid-step (waiting for the app) when the desk acted: the
    document it then fetched must not run. Before, its save overwrote the ended
    program and the callee heard the app's words after the supervisor's."""
    look = Look(sandbox)
    fetching, release = threading.Event(), threading.Event()
    app = Flask("slow")

    @app.post("/voice")
    def voice() -> str:
        fetching.set()
        release.wait(10)
        return "<Response><Say>Too late.</Say></Response>"

    server = AppServer(app)
    stream = await read_stream(team.session, team.gateway.url, team.tokens["sue"])
    try:
        call = await asyncio.to_thread(
            lambda: (
                sdk(team, "alice")
                .calls.create(to="+" + HUMAN, from_="+" + CALLER_ID, url=server.url + "/voice")
                .sid
            )
        )
        assert await asyncio.to_thread(fetching.wait, 10), "the app was never asked"
        status, data, _ = await team.api("sue").post(
            "/voice", {"callId": call, "text": "Supervisor here"}
        )
        assert status == 200, data
        action = await stream.wait_for(lambda f: f.kind == "action", what="the action")
        assert action.data["endedDocument"] is True
        release.set()
        await asyncio.sleep(1.0)
        spoken = [s["text"] for s in (await asyncio.to_thread(look.call, call))["spoken"]]
        assert spoken == ["Supervisor here"]
    finally:
        release.set()
        server.stop()
        await stream.close()
