"""POST /hooks/{token}: Kaphila's webhooks into the events stream, 2xx only once stored."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from nats.aio.client import Client as Nats

from console.gateway import wire
from console.gateway.natsserver import NatsServer
from console.gateway.server import GatewayThread
from tests.gateway.conftest import Api, StartGateway, hook_path, stored_events, wait_for_event
from tests.helpers import until

EVENT: dict[str, Any] = {
    "callId": "1758549398.181",
    "event": "call.answered",
    "status": "answered",
    "amd": {"status": "HUMAN", "confidence": 0.9},
    "timestamp": "2025-09-20T19:44:29Z",
}


async def test_a_webhook_is_in_the_stream_when_the_200_comes(
    gateway: GatewayThread, api: Api, nc: Nats
) -> None:
    token = wire.new_token()
    status, data, _ = await api.post(hook_path(gateway, token), EVENT, key=None)
    assert (status, data) == (200, {"success": True})
    # No waiting: the answer was sent after JetStream acknowledged the event.
    js = nc.jetstream()
    last = await js.get_last_msg(wire.EVENTS_STREAM, wire.events_subject(EVENT["callId"]))
    message = json.loads(last.data or b"{}")
    assert message["kind"] == "webhook"
    assert message["token"] == token
    assert message["payload"] == EVENT
    assert isinstance(message["receivedAt"], float)


async def test_the_same_event_posted_twice_is_stored_once(
    gateway: GatewayThread, api: Api, nc: Nats
) -> None:
    path = hook_path(gateway)
    headers = {"X-Kaphila-Event-Id": "evt-42"}
    for _ in range(2):
        status, _data, _ = await api.post(path, EVENT, key=None, headers=headers)
        assert status == 200  # the retry is acknowledged too, so Kaphila stops
    assert len(await stored_events(nc.jetstream())) == 1


async def test_without_an_event_id_the_same_content_is_one_event(
    gateway: GatewayThread, api: Api, nc: Nats
) -> None:
    path = hook_path(gateway)
    for _ in range(2):
        assert (await api.post(path, EVENT, key=None))[0] == 200
    later = {**EVENT, "timestamp": "2025-09-20T19:44:30Z"}
    assert (await api.post(path, later, key=None))[0] == 200
    assert len(await stored_events(nc.jetstream())) == 2


async def test_an_event_id_in_the_body_counts_when_the_header_is_missing(
    gateway: GatewayThread, api: Api, nc: Nats
) -> None:
    path = hook_path(gateway)
    for event_id in ("e1", "e2", "e1"):
        assert (await api.post(path, {**EVENT, "eventId": event_id}, key=None))[0] == 200
    assert len(await stored_events(nc.jetstream())) == 2


async def test_a_call_delivered_twice_by_kaphila_is_stored_once_per_event(
    gateway: GatewayThread, api: Api, sandbox_api: Api, nc: Nats
) -> None:
    assert (await sandbox_api.put("/sandbox/faults", {"duplicate": 1.0}))[0] == 200
    call_id = await api.place_call()
    js = nc.jetstream()
    await wait_for_event(js, call_id, "call.answered")
    assert (await api.post("/hangup", {"callId": call_id}))[0] == 200
    await wait_for_event(js, call_id, "call.ended")
    for _ in range(200):  # every copy delivered and acknowledged
        stats = (await sandbox_api.get("/sandbox/stats"))[1]["webhooks"]
        if (
            stats["delivered"] >= 6
            and not (await sandbox_api.get("/sandbox/stats"))[1]["pendingWebhooks"]
        ):
            break
        await asyncio.sleep(0.02)
    assert stats["duplicated"] >= 3, stats
    events = await wait_for_event(js, call_id, "call.ended")
    assert events == ["call.initiated", "call.answered", "call.ended"]


async def test_a_forged_token_is_a_404_without_touching_the_stream(
    gateway: GatewayThread, api: Api, nc: Nats
) -> None:
    forged = wire.new_token() + "0" * wire.TOKEN_HEX
    for segment in (forged, "short", "z" * 64, wire.sign_token(wire.new_token(), b"k" * 32)):
        status, data, _ = await api.post(f"/hooks/{segment}", EVENT, key=None)
        assert (status, data) == (404, {"success": False, "error": "no such webhook URL"})
    assert await stored_events(nc.jetstream()) == []


BAD_BODIES: list[tuple[str, bytes, dict[str, str], int]] = [
    ("not JSON", b"{nope", {}, 400),
    ("empty", b"", {}, 400),
    ("an array", b"[1, 2]", {}, 400),
    ("NaN", b'{"callId": "1", "event": "call.answered", "x": NaN}', {}, 400),
    ("a huge number", b'{"callId": "1", "event": "call.answered", "x": 1e999}', {}, 400),
    (
        "a long integer",
        b'{"callId": "1", "event": "call.answered", "x": ' + b"9" * 30 + b"}",
        {},
        400,
    ),
    ("deep nesting", b"[" * 30_000 + b"]" * 30_000, {}, 400),
    ("no callId", b'{"event": "call.answered"}', {}, 400),
    ("a numeric callId", b'{"callId": 5, "event": "call.answered"}', {}, 400),
    ("an unknown event", b'{"callId": "1", "event": "party.started"}', {}, 400),
    ("no event", b'{"callId": "1"}', {}, 400),
    ("a bad timestamp", b'{"callId": "1", "event": "call.ended", "timestamp": "soon"}', {}, 400),
    (
        "a timestamp in 1900",
        b'{"callId": "1", "event": "call.ended", "timestamp": "1900-01-01T00:00:00Z"}',
        {},
        400,
    ),
    ("not UTF-8", b'{"callId": "\xff", "event": "call.ended"}', {}, 400),
    ("text/plain", json.dumps(EVENT).encode(), {"Content-Type": "text/plain"}, 415),
    (
        "a form",
        b"callId=1&event=call.ended",
        {"Content-Type": "application/x-www-form-urlencoded"},
        415,
    ),
    (
        "too large",
        b'{"callId": "1", "event": "call.ended", "pad": "' + b"x" * 70_000 + b'"}',
        {},
        413,
    ),
]


@pytest.mark.parametrize(
    ("raw", "headers", "expected"),
    [case[1:] for case in BAD_BODIES],
    ids=[case[0] for case in BAD_BODIES],
)
async def test_bad_bodies_get_a_4xx_that_says_why(
    gateway: GatewayThread, api: Api, nc: Nats, raw: bytes, headers: dict[str, str], expected: int
) -> None:
    status, data, _ = await api.post(hook_path(gateway), raw=raw, headers=headers, key=None)
    assert status == expected
    assert data["success"] is False
    assert data["error"]
    assert await stored_events(nc.jetstream()) == []


async def test_newer_members_of_known_event_families_are_stored(
    gateway: GatewayThread, api: Api
) -> None:
    body = {"callId": "1", "event": "recording.ready"}
    assert (await api.post(hook_path(gateway), body, key=None))[0] == 200


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_only_post_is_allowed(gateway: GatewayThread, api: Api, method: str) -> None:
    async with api.session.request(method, api.base_url + hook_path(gateway)) as resp:
        assert resp.status == 405
        assert (await resp.json())["success"] is False


async def test_a_body_that_stops_halfway_is_cut_off_with_a_408(
    start_gateway: StartGateway,
) -> None:
    gateway = start_gateway(body_timeout=0.3)
    port = int(gateway.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST {hook_path(gateway)} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    )
    writer.write(head.encode() + b'{"callId": ')
    await writer.drain()
    async with asyncio.timeout(5):
        assert await reader.readline() == b"HTTP/1.1 408 Request Timeout\r\n"
        await reader.read()  # and the gateway hangs up: the rest may never come
    writer.close()


async def test_with_nats_down_the_answer_is_503_with_retry_after(
    gateway: GatewayThread, api: Api, nats_server: NatsServer
) -> None:
    nats_server.stop()
    await until(lambda: not gateway.ctx.nc.is_connected, within=5, what="the gateway to notice")
    status, data, headers = await api.post(hook_path(gateway), EVENT, key=None)
    assert status == 503
    assert "deliver it again" in data["error"]
    assert headers["Retry-After"] == "2"
    # Bad input is still a 4xx: the store's trouble is not the sender's fault.
    status, _, _ = await api.post(hook_path(gateway), {"callId": 1}, key=None)
    assert status == 400


async def test_readyz_says_what_is_wrong_when_nats_is_down(
    gateway: GatewayThread, api: Api, nats_server: NatsServer
) -> None:
    assert (await api.get("/readyz", key=None))[:2] == (200, {"success": True, "ready": True})
    assert (await api.get("/healthz", key=None))[0] == 200
    nats_server.stop()
    await until(lambda: not gateway.ctx.nc.is_connected, within=5, what="the gateway to notice")
    status, data, _ = await api.get("/readyz", key=None)
    assert status == 503
    assert "NATS is not connected" in data["error"]
    assert (await api.get("/healthz", key=None))[0] == 200  # alive all the same
