"""Kaphila's API through the gateway: forwarded with the caller's key, answered verbatim,
and /makecall registering the call and pointing its webhooks at the intake."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import pytest
from nats.aio.client import Client as Nats

from console.gateway import registry, wire
from console.gateway.server import GatewayThread
from console.sandbox import SandboxThread
from tests.gateway.conftest import Api, StartGateway, stored_events, wait_for_event
from tests.helpers import CALLER_ID, HUMAN, OTHER_KEY, TEST_KEY

CLIENT_HOOK = "http://127.0.0.1:9/client-hook"


async def test_upstream_gets_the_intake_url_not_the_clients(
    gateway: GatewayThread, api: Api, sandbox: SandboxThread
) -> None:
    call_id = await api.place_call(webhookUrl=CLIENT_HOOK)
    # The sandbox's own record (its control API shows hook URLs masked).
    sent = sandbox.sandbox.simulator.calls[call_id].webhook_url or ""
    intake = gateway.url + "/hooks/"
    assert sent.startswith(intake)
    segment = sent[len(intake) :]
    token = wire.verify_token(segment, gateway.ctx.mac_key)
    assert token is not None
    reg = gateway.run(registry.get(gateway.ctx, token))
    assert reg is not None
    assert reg.call_id == call_id
    assert reg.relay_url == CLIENT_HOOK
    assert (reg.to, reg.from_) == (HUMAN, CALLER_ID)
    assert reg.account == wire.account_of(TEST_KEY)
    assert TEST_KEY not in reg.key
    assert gateway.ctx.sealer.open(reg.key) == TEST_KEY
    assert gateway.run(registry.token_for(gateway.ctx, call_id)) == token


async def test_get_call_shows_the_clients_webhook_url_never_the_intake_url(
    api: Api, nc: Nats
) -> None:
    relayed = await api.place_call(webhookUrl=CLIENT_HOOK)
    plain = await api.place_call()
    await wait_for_event(nc.jetstream(), plain, "call.initiated")
    status, data, _ = await api.get(f"/calls/{relayed}")
    assert (status, data["callId"], data["webhookUrl"]) == (200, relayed, CLIENT_HOOK)
    status, data, _ = await api.get(f"/calls/{plain}")
    assert (status, data["webhookUrl"]) == (200, None)
    assert (await api.get("/calls/nope"))[0] == 404


async def test_the_answer_is_kaphilas_verbatim(api: Api, sandbox_api: Api) -> None:
    body = {"number": HUMAN, "callerId": "15550009999"}
    direct = await sandbox_api.post("/makecall", body)
    through = await api.post("/makecall", body)
    assert through[:2] == direct[:2]
    assert through[0] == 400
    assert "is not verified" in through[1]["error"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/voice", {"callId": "nope", "text": "hi"}),
        ("/gather", {"callId": "nope"}),
        ("/hangup", {"callId": "nope"}),
        ("/forwardcall", {"callId": "nope", "forwardNumber": HUMAN}),
        ("/voice", {"callId": 5}),
    ],
)
async def test_other_endpoints_pass_through(
    api: Api, sandbox_api: Api, path: str, body: dict[str, object]
) -> None:
    assert (await api.post(path, body))[:2] == (await sandbox_api.post(path, body))[:2]


async def test_a_live_call_is_driven_through_the_gateway(
    api: Api, nc: Nats, sandbox_api: Api
) -> None:
    call_id = await api.place_call()
    await wait_for_event(nc.jetstream(), call_id, "call.answered")
    status, data, _ = await api.post("/voice", {"callId": call_id, "text": "Hello"})
    assert (status, data["success"]) == (200, True)
    status, data, _ = await api.get(f"/calls/{call_id}")
    assert (status, data["callId"]) == (200, call_id)
    assert (await api.post("/hangup", {"callId": call_id}))[0] == 200
    events = await wait_for_event(nc.jetstream(), call_id, "call.ended")
    assert events[-1] == "call.ended"
    spoken = (await sandbox_api.get(f"/sandbox/calls/{call_id}"))[1]["call"]["spoken"]
    assert [s["text"] for s in spoken] == ["Hello"]


async def test_a_refused_call_leaves_no_registration(
    gateway: GatewayThread, api: Api, nc: Nats
) -> None:
    status, _, _ = await api.post("/makecall", {"number": "12", "callerId": CALLER_ID})
    assert status == 400
    assert gateway.run(registry.for_account(gateway.ctx, wire.account_of(TEST_KEY))) == []
    assert (await api.get("/calls"))[1] == {"success": True, "calls": []}


@pytest.mark.parametrize(
    "path", ["/makecall", "/voice", "/gather", "/hangup", "/forwardcall", "/calls/1/twiml"]
)
async def test_every_api_route_needs_a_bearer_key(api: Api, sandbox_api: Api, path: str) -> None:
    status, data, _ = await api.post(path, {"callId": "1"}, key=None)
    assert status == 401
    assert data == (await sandbox_api.post("/makecall", {}, key=None))[1]
    status, data, _ = await api.post(path, {}, headers={"Authorization": "Basic abc"}, key=None)
    assert status == 401
    assert "malformed Authorization header" in data["error"]


@pytest.mark.parametrize("path", ["/calls", "/calls/123"])
async def test_get_routes_need_a_bearer_key(api: Api, path: str) -> None:
    assert (await api.get(path, key=None))[0] == 401


async def test_an_unknown_key_is_kaphilas_401(api: Api) -> None:
    status, data, _ = await api.post("/makecall", {"number": HUMAN}, key="ak_nobody")
    assert (status, data) == (401, {"success": False, "error": "unknown API key"})


async def test_retry_after_comes_back_with_a_429(api: Api, sandbox_api: Api) -> None:
    await sandbox_api.put("/sandbox/faults", {"throttle": {"rate": 1, "count": 1}})
    status, data, headers = await api.post("/voice", {"callId": "x", "text": "hi"})
    assert status == 429
    assert data["error"] == "injected fault: too many requests"
    assert headers["Retry-After"] == "1"


async def test_a_dead_upstream_is_a_502(
    start_gateway: StartGateway, http: aiohttp.ClientSession
) -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{placeholder.getsockname()[1]}"
    gateway = start_gateway(upstream=dead)
    api = Api(gateway.url, http)
    status, data, _ = await api.post("/makecall", {"number": HUMAN, "callerId": CALLER_ID})
    assert status == 502
    assert data["success"] is False
    assert data["error"].startswith("Kaphila did not answer: cannot connect to 127.0.0.1:")
    # Kaphila surely placed nothing: the registration is gone again.
    assert gateway.run(registry.for_account(gateway.ctx, wire.account_of(TEST_KEY))) == []
    assert (await api.post("/voice", {"callId": "1", "text": "x"}))[0] == 502


async def test_a_stalled_upstream_is_a_504(
    start_gateway: StartGateway, sandbox_api: Api, http: aiohttp.ClientSession
) -> None:
    gateway = start_gateway(upstream_timeout=0.3)
    await sandbox_api.put("/sandbox/faults", {"stall": {"rate": 1, "count": 1}, "stall_ms": 2000})
    api = Api(gateway.url, http)
    status, data, _ = await api.post("/voice", {"callId": "1", "text": "x"})
    assert status == 504
    assert data["error"].startswith("Kaphila did not answer: no answer to POST /voice within 0.3 s")


async def test_the_twilio_extension_is_kept_and_never_sent_upstream(
    gateway: GatewayThread, api: Api, sandbox_api: Api
) -> None:
    extension = {
        "url": "http://127.0.0.1:9/app",
        "method": "get",
        "statusCallback": "http://127.0.0.1:9/status",
        "statusCallbackEvent": ["initiated", "answered", "completed"],
        "accountSid": "AC" + "1" * 32,
        "authToken": "app-auth-token-123",
        "machineDetection": "Enable",
    }
    call_id = await api.place_call(twilio=extension)
    token = gateway.run(registry.token_for(gateway.ctx, call_id))
    assert token is not None
    reg = gateway.run(registry.get(gateway.ctx, token))
    assert reg is not None
    assert reg.twilio is not None
    intent = reg.twilio
    assert (intent.url, intent.method) == ("http://127.0.0.1:9/app", "GET")
    assert intent.status_callback_events == ["initiated", "answered", "completed"]
    assert intent.machine_detection == "Enable"
    assert intent.auth_token is not None
    assert "app-auth-token-123" not in intent.auth_token
    assert gateway.ctx.sealer.open(intent.auth_token) == "app-auth-token-123"
    assert reg.relay_url is None
    requests = (await sandbox_api.get("/sandbox/stats"))[1]["requests"]
    assert requests.get("/makecall") == 1  # and Kaphila did not refuse an unknown field


@pytest.mark.parametrize(
    ("extension", "words"),
    [
        ({"callbackUrl": "http://127.0.0.1/x"}, "twilio.callbackUrl is not a field"),
        ({"method": "PUT"}, "twilio.method must be GET or POST, not 'PUT'"),
        ({"url": "ftp://127.0.0.1/x"}, "twilio.url is refused"),
        ({"url": 5}, "twilio.url must be a string, not a number"),
        ({"statusCallbackEvent": ["ringing", "busy"]}, "twilio.statusCallbackEvent has 'busy'"),
        ({"twiml": "x" * 70_000}, "request body is larger than"),
        ({"machineDetection": "Always"}, "twilio.machineDetection must be Enable"),
        ({"authToken": 12345}, "twilio.authToken must be a string"),
        ("https://example.com", "twilio must be an object, not a string"),
    ],
)
async def test_a_bad_extension_is_a_400_naming_the_key(
    api: Api, sandbox_api: Api, extension: object, words: str
) -> None:
    body = {"number": HUMAN, "callerId": CALLER_ID, "twilio": extension}
    status, data, _ = await api.post("/makecall", body)
    assert status in (400, 413)
    assert words in data["error"]
    assert "12345" not in data["error"]
    assert (await sandbox_api.get("/sandbox/stats"))[1]["requests"].get("/makecall") is None


async def test_loopback_apps_are_refused_unless_allowed(
    start_gateway: StartGateway, http: aiohttp.ClientSession, sandbox_api: Api
) -> None:
    gateway = start_gateway(allow_loopback=False)
    api = Api(gateway.url, http)
    body = {"number": HUMAN, "callerId": CALLER_ID, "twilio": {"url": "http://127.0.0.1/app"}}
    status, data, _ = await api.post("/makecall", body)
    assert status == 400
    assert data["error"] == "twilio.url is refused: 127.0.0.1 is a loopback address"
    body = {"number": HUMAN, "callerId": CALLER_ID, "webhookUrl": "http://localhost/relay"}
    status, data, _ = await api.post("/makecall", body)
    assert (status, data["error"]) == (400, "webhookUrl is refused: localhost is a loopback host")


async def test_discovery_names_the_gateway(api: Api, sandbox_api: Api) -> None:
    status, data, _ = await api.get(wire.DISCOVERY_PATH, key=None)
    assert (status, data) == (
        200,
        {"gateway": "kaphila", "version": 1, "extensions": ["twilio", "documents", "calls"]},
    )
    assert (await sandbox_api.get(wire.DISCOVERY_PATH))[0] == 404  # how the SDK tells them apart


async def test_calls_lists_the_accounts_calls_newest_first(
    api: Api, sandbox: SandboxThread
) -> None:
    first = await api.place_call()
    second = await api.place_call()
    other = Api(api.base_url, api.session, OTHER_KEY)
    _, data, _ = await other.get("/calls")
    assert data == {"success": True, "calls": []}
    status, data, _ = await api.get("/calls")
    assert status == 200
    assert [c["callId"] for c in data["calls"]] == [second, first]
    assert set(data["calls"][0]) == {
        *("callId", "status", "to", "from", "startTime", "endTime", "duration", "answeredBy"),
        "createdAt",
    }
    assert data["calls"][0]["to"] == HUMAN
    assert data["calls"][0]["createdAt"].endswith("Z")


async def test_a_document_is_published_on_the_calls_partition(
    gateway: GatewayThread, api: Api, nc: Nats
) -> None:
    call_id = await api.place_call()
    token = gateway.run(registry.token_for(gateway.ctx, call_id))
    twiml = "<Response><Say>Hi</Say></Response>"
    status, data, _ = await api.post(f"/calls/{call_id}/twiml", {"twiml": twiml})
    assert (status, data) == (200, {"success": True})
    js = nc.jetstream()
    documents = [m for m in await stored_events(js, call_id) if m["kind"] == "document"]
    assert documents == [
        wire.document_message(token or "", call_id, twiml=twiml, url=None, method="POST")
    ]
    status, _, _ = await api.post(
        f"/calls/{call_id}/twiml", {"url": "http://127.0.0.1:9/next", "method": "GET"}
    )
    assert status == 200


async def test_a_document_with_an_idempotency_key_runs_once(api: Api, nc: Nats) -> None:
    call_id = await api.place_call()
    for _ in range(2):
        status, _, _ = await api.post(
            f"/calls/{call_id}/twiml", {"twiml": "<Response/>"}, headers={"Idempotency-Key": "k1"}
        )
        assert status == 200
    stored = await stored_events(nc.jetstream(), call_id)
    assert len([m for m in stored if m["kind"] == "document"]) == 1


async def test_a_document_for_another_accounts_call_is_a_404(api: Api) -> None:
    call_id = await api.place_call()
    other = Api(api.base_url, api.session, OTHER_KEY)
    status, data, _ = await other.post(f"/calls/{call_id}/twiml", {"twiml": "<Response/>"})
    assert (status, data["error"]) == (404, f"no call with callId {call_id!r}")
    assert (await api.post("/calls/nope/twiml", {"twiml": "<Response/>"}))[0] == 404


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, "send either twiml"),
        ({"twiml": "<Response/>", "url": "http://127.0.0.1/x"}, "send either twiml"),
        ({"twiml": 5}, "twiml must be a string"),
        ({"url": "http://127.0.0.1/x", "method": "PATCH"}, "method must be GET or POST"),
        ({"url": "file:///etc/passwd"}, "url is refused"),
        ({"twiml": "<Response/>", "extra": 1}, "extra is not a field here"),
    ],
)
async def test_a_bad_document_is_a_400(api: Api, body: dict[str, object], words: str) -> None:
    call_id = await api.place_call()
    status, data, _ = await api.post(f"/calls/{call_id}/twiml", body)
    assert status == 400
    assert words in data["error"]


async def test_a_document_for_an_ended_call_is_refused(gateway: GatewayThread, api: Api) -> None:
    call_id = await api.place_call()
    token = gateway.run(registry.token_for(gateway.ctx, call_id))
    assert token is not None

    def end(reg: wire.Registration) -> None:
        reg.status = "completed"

    gateway.run(registry.update(gateway.ctx, token, end))
    status, data, _ = await api.post(f"/calls/{call_id}/twiml", {"twiml": "<Response/>"})
    assert status == 400
    assert "has ended (completed)" in data["error"]


async def test_an_unknown_path_is_a_json_404(api: Api) -> None:
    status, data, _ = await api.get("/nowhere", key=None)
    assert (status, data["success"]) == (404, False)


async def test_a_slow_request_does_not_hold_up_others(
    start_gateway: StartGateway, sandbox_api: Api, http: aiohttp.ClientSession
) -> None:
    gateway = start_gateway()
    api = Api(gateway.url, http)
    await sandbox_api.put("/sandbox/faults", {"stall": {"rate": 1, "count": 1}, "stall_ms": 500})
    slow = asyncio.create_task(api.post("/voice", {"callId": "1", "text": "x"}))
    await asyncio.sleep(0.05)
    assert (await api.get(wire.DISCOVERY_PATH, key=None))[0] == 200
    assert not slow.done()
    assert (await slow)[0] == 400
