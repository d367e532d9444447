"""Team mode attacked from outside, over loopback HTTP only (docs/TEAM.md).

A real gateway in team mode, real NATS, the sandbox as Kaphila; alice and bob
are operators, sue a supervisor. Each test is an attack: a plain test where
the gateway held (so it stays held), and where it broke before the fixes
(each of those failed on the code it attacked)."""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from nats.aio.client import Client as Nats

from console.gateway import bus
from tests.gateway.conftest import Api, StartGateway
from tests.gateway.team_rig import (
    Reader,
    Team,
    add_operators,
    read_stream,
    remove_operator,
)
from tests.helpers import CALLER_ID, HUMAN, TEST_KEY
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client


@pytest.fixture
async def team(start_gateway: StartGateway, nats_url: str, http: aiohttp.ClientSession) -> Team:
    tokens = await add_operators(nats_url)
    gateway = await asyncio.to_thread(start_gateway, upstream_key=TEST_KEY)
    return Team(gateway, tokens, http)


def sdk(team: Team, name: str) -> Client:
    return Client("AC" + "1" * 32, team.tokens[name], base_url=team.gateway.url, environment={})


async def place(api: Api) -> str:
    status, data, _ = await api.post("/makecall", {"number": HUMAN, "callerId": CALLER_ID})
    assert status == 200, data
    return str(data["callId"])


async def answered(stream: Reader, call: str) -> None:
    await stream.wait_for(
        lambda f: (
            f.kind == "webhook"
            and f.data["callId"] == call
            and f.data["payload"]["event"] == "call.answered"
        ),
        what="the answer",
    )


async def raw_request(
    team: Team,
    method: str,
    path: str,
    *,
    token: str | None,
    body: bytes | None = None,
    ctype: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, str, dict[str, str]]:
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    if ctype is not None:
        sent["Content-Type"] = ctype
    async with team.session.request(
        method, team.gateway.url + path, data=body, headers=sent
    ) as resp:
        return resp.status, await resp.text(), dict(resp.headers)


async def refuse_team_publishes(nc: Nats) -> None:
    """The events stream takes no message bigger than 64 bytes: every team event
    (placed, action, presence) is refused, while key-value storage still works."""
    await nc.jetstream().update_stream(replace(bus.event_stream_config(), max_msg_size=64))


async def accept_team_publishes(nc: Nats) -> None:
    await nc.jetstream().update_stream(bus.event_stream_config())


async def never(stream: Reader, predicate: Any, within: float) -> bool:
    """True when no frame matching ``predicate`` came within ``within`` seconds."""
    try:
        await stream.wait_for(predicate, within=within)
    except AssertionError:
        return True
    return False


# ----------------------------------------------------------------- authority


async def test_an_operator_reaches_another_operators_call_by_no_path(team: Team) -> None:
    alice_stream = await read_stream(team.session, team.gateway.url, team.tokens["alice"])
    bob_stream = await read_stream(team.session, team.gateway.url, team.tokens["bob"])
    try:
        alice = team.api("alice")
        call = await place(alice)
        await answered(alice_stream, call)
        status, _, _ = await alice.post("/team/presence", {"status": "on-call", "callId": call})
        assert status == 200
        bob = team.tokens["bob"]

        bodies: list[tuple[bytes, str]] = [
            (json.dumps({"callId": call}).encode(), "application/json"),
            (b'{"callId":"x","callId":"%s"}' % call.encode(), "application/json"),
            (b'{"callId":"%s","callId":"x"}' % call.encode(), "application/json"),
            (json.dumps({"callId": call}).encode(), "text/plain"),
            (json.dumps({"callId": call}).encode(), "application/x-www-form-urlencoded"),
            (f"callId={call}".encode(), "application/x-www-form-urlencoded"),
            (json.dumps({"callId": [call]}).encode(), "application/json"),
            (json.dumps({"callId": {"$eq": call}}).encode(), "application/json"),
            (json.dumps({"callId": call + " "}).encode(), "application/json"),
            (json.dumps({"call\u0131d": call}).encode(), "application/json"),  # dotless i
            (json.dumps({"\uff43allId": call}).encode(), "application/json"),  # fullwidth c
            (b'{"\\u0063allId":"%s"}' % call.encode(), "application/json"),  # "c" escaped
            (b"", "application/json"),
        ]
        for path in ("/voice", "/gather", "/forwardcall", "/hangup"):
            for body, ctype in bodies:
                status, text, _ = await raw_request(
                    team, "POST", f"{path}?callId={call}", token=bob, body=body, ctype=ctype
                )
                assert status in (400, 403, 404, 415), (path, body, ctype, status, text)

        for path in (
            f"/calls/{call}",
            f"/calls/{call}?callId={call}",
            f"/calls/x%2F..%2F{call}",
            f"/calls/%2e%2e%2f{call}",
            f"/calls/{call}%2F",
        ):
            status, text, _ = await raw_request(team, "GET", path, token=bob)
            assert status in (403, 404), (path, status, text)
        status, text, _ = await raw_request(
            team,
            "POST",
            f"/calls/{call}/twiml",
            token=bob,
            body=b'{"twiml":"<Response><Hangup/></Response>"}',
            ctype="application/json",
        )
        assert status == 403, text
        status, text, _ = await raw_request(team, "POST", f"/team/calls/{call}/takeover", token=bob)
        assert status == 403, text
        status, text, _ = await raw_request(team, "GET", "/team/stats", token=bob)
        assert status == 403, text

        bob_api = team.api("bob")
        status, data, _ = await bob_api.get("/calls")
        assert (status, data["calls"]) == (200, [])
        status, data, _ = await bob_api.get("/team/calls")
        assert (status, data["calls"]) == (200, [])
        status, data, _ = await bob_api.get("/team/presence")
        assert [o["operator"] for o in data["operators"]] == ["bob"]

        # The SDK, bob's token as its auth token: fetch and update are refused alike.
        client = sdk(team, "bob")
        for attempt in (
            lambda: client.calls(call).fetch(),
            lambda: client.calls(call).update(status="completed"),
            lambda: client.calls(call).update(twiml="<Response><Hangup/></Response>"),
        ):
            with pytest.raises(TwilioRestException) as refused:
                await asyncio.to_thread(attempt)
            assert (refused.value.status, refused.value.code) == (403, 20003)

        # Nothing was done to alice's call, and bob's stream heard nothing of it
        # nor of alice's presence.
        status, data, _ = await alice.get(f"/calls/{call}")
        assert (status, data["status"]) == (200, "answered")
        assert alice_stream.of("action", call) == []
        await asyncio.sleep(0.2)
        assert [f.kind for f in bob_stream.frames] == ["hello"]
    finally:
        await alice_stream.close()
        await bob_stream.close()


async def test_a_supervisor_sees_alices_presence_and_calls_bob_does_not(team: Team) -> None:
    sue_stream = await read_stream(team.session, team.gateway.url, team.tokens["sue"])
    bob_stream = await read_stream(team.session, team.gateway.url, team.tokens["bob"])
    try:
        call = await place(team.api("alice"))
        await team.api("alice").post("/team/presence", {"status": "away", "reason": "lunch"})
        await answered(sue_stream, call)
        await sue_stream.wait_for(lambda f: f.kind == "presence", what="alice's presence")
        status, data, _ = await team.api("sue").post(f"/team/calls/{call}/takeover", {})
        assert (status, data["owner"], data["takenFrom"]) == (200, "sue", "alice")
        await sue_stream.wait_for(lambda f: f.kind == "action", what="the takeover")
        assert [f.kind for f in bob_stream.frames] == ["hello"]
        # alice, whose call it was, now only follows it.
        status, data, _ = await team.api("alice").post("/hangup", {"callId": call})
        assert status == 403
        assert "taken over by sue" in data["error"]
    finally:
        await sue_stream.close()
        await bob_stream.close()


# ----------------------------------------------------------------- authentication


async def test_authentication_takes_bearer_tokens_only(team: Team) -> None:
    token = team.tokens["alice"]
    held = {
        f"bearer {token}": 200,
        f"BEARER {token}": 200,
        f"Bearer   {token}  ": 200,
        f"Bearer\t{token}": 401,
        f"Bearer {token.upper()}": 401,
        f"Bearer {token} {token}": 401,
        f"Bearer {token[:-1]}": 401,
        f"Basic {base64.b64encode(f'alice:{token}'.encode()).decode()}": 401,
        f"Basic {token}": 401,
        f"Token {token}": 401,
        f"Bearer {TEST_KEY}": 401,
        "Bearer ": 401,
        "Bearer kgo_" + "x" * 7000: 401,
        "Bearer kgo_" + "x" * 20_000: 400,  # past aiohttp's header limit
    }
    for header, expected in held.items():
        status, text, headers = await raw_request(
            team, "GET", "/team/me", token=None, headers={"Authorization": header}
        )
        assert status == expected, (header[:40], status, text)
        if status == 401:
            assert headers["WWW-Authenticate"].startswith("Bearer")
        assert token not in text
        assert TEST_KEY not in text


async def test_a_removed_operator_is_refused_on_an_open_connection_and_a_new_token(
    team: Team, nats_url: str
) -> None:
    old = team.tokens["bob"]
    headers = {"Authorization": f"Bearer {old}"}
    stream = await read_stream(team.session, team.gateway.url, old)
    # One connection, kept alive across the removal.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as one:
        async with one.get(team.gateway.url + "/team/me", headers=headers) as resp:
            assert resp.status == 200
        await remove_operator(nats_url, "bob")
        await asyncio.wait_for(stream.ended.wait(), 5)
        assert [f.kind for f in stream.frames] == ["hello", "revoked"]
        for path in ("/team/me", "/calls", "/team/events"):
            async with one.get(team.gateway.url + path, headers=headers) as resp:
                assert resp.status == 401, path
        new = (await add_operators(nats_url, (("bob", "operator"),)))["bob"]
        await asyncio.sleep(0.3)
        async with one.get(team.gateway.url + "/team/me", headers=headers) as resp:
            assert resp.status == 401
        async with one.get(
            team.gateway.url + "/team/me", headers={"Authorization": f"Bearer {new}"}
        ) as resp:
            assert resp.status == 200
            assert (await resp.json())["operator"] == "bob"


# ----------------------------------------------------------------- hostile input


async def test_a_last_event_id_past_the_stream_is_not_taken_silently(team: Team) -> None:
    stream = await read_stream(team.session, team.gateway.url, team.tokens["alice"], after=2**70)
    try:
        if stream.status == 400:
            return
        hello = stream.frames[0]
        await team.api("alice").post("/team/presence", {"status": "away", "reason": "x"})
        got_own_presence = not await never(stream, lambda f: f.kind == "presence", 0.5)
        assert hello.data["gap"] is True or got_own_presence
    finally:
        await stream.close()


async def test_hostile_bodies_and_stream_positions_are_refused_with_a_4xx(team: Team) -> None:
    token = team.tokens["alice"]
    for body, ctype, expected in (
        (b'{"status":"away","reason":"' + b"x" * 81 + b'"}', "application/json", 400),
        (b'{"status":"away","reason":123}', "application/json", 400),
        (b'{"status":"away","reason":["a"]}', "application/json", 400),
        (b'{"status":null}', "application/json", 400),
        (b'{"status":["away"]}', "application/json", 400),
        (b'{"status":{"away":1}}', "application/json", 400),
        (b'{"status":"offline"}', "application/json", 400),
        (b'{"status":"available","callId":[1]}', "application/json", 400),
        (b'{"status":"available","callId":"' + b"c" * 129 + b'"}', "application/json", 400),
        (b"[]", "application/json", 400),
        (b"null", "application/json", 400),
        (b"", "application/json", 400),
        (b"[" * 30_000 + b"]" * 30_000, "application/json", 400),  # nested too deep
        (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "application/json", 400),
        (b"[" * 100_000, "application/json", 413),
        (b'{"status":"away","reason":"\xff"}', "application/json", 400),
        (b'{"status":"away","reason":1e999}', "application/json", 400),
        (b'{"status":"away","reason":NaN}', "application/json", 400),
        (b"status=away", "application/x-www-form-urlencoded", 415),
        (b'{"status":"away"}', "text/plain", 415),
    ):
        status, text, _ = await raw_request(
            team, "POST", "/team/presence", token=token, body=body, ctype=ctype
        )
        assert status == expected, (body[:40], status, text)
        assert json.loads(text)["success"] is False
    # Hostile stream positions: 400, never a stream.
    for value in ("abc", "-1", "1.5", "2e3", "0x10", "9" * 5000, "NaN"):
        for headers, query in (({"Last-Event-ID": value}, ""), ({}, f"?after={value}")):
            status, text, _ = await raw_request(
                team, "GET", "/team/events" + query, token=team.tokens["alice"], headers=headers
            )
            assert status == 400, (value[:20], status, text)
    # A JSON bomb in an action's body is a 400 too, not a 500.
    status, text, _ = await raw_request(
        team,
        "POST",
        "/voice",
        token=token,
        body=b"[" * 30_000 + b"]" * 30_000,
        ctype="application/json",
    )
    assert status == 400, text
    status, data, _ = await team.api("alice").post(
        "/team/presence", {"status": "away", "reason": None}
    )
    assert status == 200, data


async def test_a_lone_surrogate_in_a_presence_reason_does_not_silence_the_team_stream(
    team: Team,
) -> None:
    sue = await read_stream(team.session, team.gateway.url, team.tokens["sue"])
    try:
        status, _, _ = await raw_request(
            team,
            "POST",
            "/team/presence",
            token=team.tokens["alice"],
            body=b'{"status":"away","reason":"\\ud800"}',
            ctype="application/json",
        )
        assert status in (200, 400)
        status, _, _ = await team.api("bob").post("/team/presence", {"status": "available"})
        assert status == 200
        await sue.wait_for(
            lambda f: f.kind == "presence" and f.data["operator"] == "bob",
            within=0.7,
            what="bob's presence after alice's",
        )
    finally:
        await sue.close()


async def test_a_lone_surrogate_call_id_is_refused_with_a_4xx(team: Team) -> None:
    status, text, _ = await raw_request(
        team,
        "POST",
        "/hangup",
        token=team.tokens["alice"],
        body=b'{"callId":"\\ud800"}',
        ctype="application/json",
    )
    assert 400 <= status < 500, (status, text)


async def test_five_hundred_streams_from_one_token_leave_the_gateway_serving(
    team: Team,
) -> None:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as many:
        headers = {"Authorization": f"Bearer {team.tokens['alice']}"}

        async def one() -> aiohttp.ClientResponse:
            resp = await many.get(
                team.gateway.url + "/team/events",
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=None),
            )
            await resp.content.readline()  # event: hello
            return resp

        opened = await asyncio.gather(*(one() for _ in range(500)))
        try:
            assert {resp.status for resp in opened} == {200}
            status, data, _ = await team.api("sue").get("/team/me")
            assert status == 200, data
            # A desk connected after them still gets its events.
            sue = await read_stream(team.session, team.gateway.url, team.tokens["sue"])
            try:
                await team.api("alice").post("/team/presence", {"status": "wrap-up"})
                await sue.wait_for(lambda f: f.kind == "presence", within=3.0)
            finally:
                await sue.close()
        finally:
            for resp in opened:
                resp.close()


# ----------------------------------------------------------------- secrets


async def test_no_key_token_or_intake_url_in_any_answer_frame_or_metrics(team: Team) -> None:
    sue = await read_stream(team.session, team.gateway.url, team.tokens["sue"])
    try:
        alice = team.api("alice")
        call = await place(alice)
        await answered(sue, call)
        seen: list[str] = []
        for name, path in (
            ("alice", f"/calls/{call}"),
            ("alice", "/calls"),
            ("sue", "/team/calls"),
            ("sue", "/team/presence"),
            ("sue", "/team/stats"),
            ("alice", "/team/me"),
            ("bob", f"/calls/{call}"),
            ("bob", "/calls/nope"),
        ):
            status, text, headers = await raw_request(team, "GET", path, token=team.tokens[name])
            seen += [text, json.dumps(headers)]
        status, text, headers = await raw_request(
            team, "POST", "/voice", token=team.tokens["alice"],
            body=json.dumps({"callId": call, "text": "hello"}).encode(),
            ctype="application/json",
        )  # fmt: skip
        assert status == 200, text
        seen += [text, json.dumps(headers)]
        await sue.wait_for(lambda f: f.kind == "action", what="the audit frame")
        seen += [json.dumps(f.data) for f in sue.frames]
        async with team.session.get(team.gateway.url + "/metrics") as resp:
            seen.append(await resp.text())
        everything = "\n".join(seen)
        assert TEST_KEY not in everything
        for token in team.tokens.values():
            assert token not in everything
            assert token[4:] not in everything
        assert "/hooks/" not in everything
    finally:
        await sue.close()


# ----------------------------------------------------------------- a 2xx that did not store


async def test_an_action_answered_200_has_its_audit_frame(team: Team, nc: Nats) -> None:
    sue = await read_stream(team.session, team.gateway.url, team.tokens["sue"])
    try:
        alice = team.api("alice")
        call = await place(alice)
        await answered(sue, call)
        await refuse_team_publishes(nc)
        try:
            status, data, _ = await alice.post("/voice", {"callId": call, "text": "unaudited"})
        finally:
            await accept_team_publishes(nc)
        if status >= 300:
            return  # refused: the desk knows, nothing unrecorded happened
        assert not await never(
            sue,
            lambda f: f.kind == "action" and f.data["detail"] == "unaudited",
            within=0.7,
        ), f"answered {status} {data} with no audit frame"
    finally:
        await sue.close()


async def test_a_status_change_retried_after_a_503_is_announced(team: Team, nc: Nats) -> None:
    sue = await read_stream(team.session, team.gateway.url, team.tokens["sue"])
    try:
        alice = team.api("alice")
        await refuse_team_publishes(nc)
        try:
            status, data, _ = await alice.post("/team/presence", {"status": "wrap-up"})
        finally:
            await accept_team_publishes(nc)
        assert status == 503, data
        status, data, _ = await alice.post("/team/presence", {"status": "wrap-up"})
        assert status == 200, data
        await sue.wait_for(
            lambda f: f.kind == "presence" and f.data["status"] == "wrap-up",
            within=0.7,
            what="alice's wrap-up",
        )
    finally:
        await sue.close()


async def test_a_takeover_retried_after_a_503_is_announced(team: Team, nc: Nats) -> None:
    alice_stream = await read_stream(team.session, team.gateway.url, team.tokens["alice"])
    try:
        call = await place(team.api("alice"))
        await answered(alice_stream, call)
        sue = team.api("sue")
        await refuse_team_publishes(nc)
        try:
            status, data, _ = await sue.post(f"/team/calls/{call}/takeover", {})
        finally:
            await accept_team_publishes(nc)
        assert status == 503, data
        status, data, _ = await sue.post(f"/team/calls/{call}/takeover", {})
        assert (status, data["owner"]) == (200, "sue"), data
        await alice_stream.wait_for(
            lambda f: f.kind == "action" and f.data["action"] == "takeover",
            within=0.7,
            what="the takeover",
        )
    finally:
        await alice_stream.close()


async def test_a_desk_cannot_claim_another_operators_call_as_its_current_one(team: Team) -> None:
    """Found by the attack: alice could post bob's call as the one she is on."""
    call = await place(team.api("bob"))
    status, data, _ = await team.api("alice").post(
        "/team/presence", {"status": "on-call", "callId": call}
    )
    assert status == 400, data
    assert "not one of your calls" in data["error"]
    status, data, _ = await team.api("bob").post(
        "/team/presence", {"status": "on-call", "callId": call}
    )
    assert status == 200, data
    status, data, _ = await team.api("sue").post(
        "/team/presence", {"status": "on-call", "callId": call}
    )
    assert status == 200, data  # a supervisor may be on any call
