"""Fault injection, from the API and from configuration, each kind on its own."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest

from console.sandbox import Sandbox
from console.sandbox.faults import FaultConfig
from tests.helpers import CALLER_ID, HUMAN, TEST_KEY, SandboxApi, WebhookReceiver
from tests.sandbox.conftest import make_config


async def set_faults(api: SandboxApi, **faults: Any) -> dict[str, Any]:
    status, body = await api.put("/sandbox/faults", faults)
    assert status == 200, body
    return dict(body["faults"])


# ------------------------------------------------------------------ webhook faults


async def test_drop_never_delivers_the_event(api: SandboxApi, receiver: WebhookReceiver) -> None:
    await set_faults(api, drop={"rate": 1, "count": 1})
    call_id = await api.call(HUMAN, receiver.url)
    await receiver.wait_event(call_id, "call.answered")
    assert receiver.events(call_id) == ["call.answered"]
    record = await api.sandbox_call(call_id)
    assert [(e["fault"], e["event"]) for e in record["timeline"] if e["type"] == "fault"] == [
        ("drop", "call.initiated")
    ]


async def test_duplicate_delivers_the_same_event_twice(
    api: SandboxApi, receiver: WebhookReceiver
) -> None:
    await set_faults(api, duplicate={"rate": 1, "count": 1})
    call_id = await api.call(HUMAN, receiver.url)
    await receiver.wait_event(call_id, "call.answered")
    assert receiver.events(call_id) == ["call.initiated", "call.initiated", "call.answered"]
    first, again, _ = receiver.accepted(call_id)
    assert first.event_id == again.event_id
    assert first.payload == again.payload


async def test_reorder_lets_the_next_event_overtake(
    api: SandboxApi, receiver: WebhookReceiver
) -> None:
    await set_faults(api, reorder={"rate": 1, "count": 1}, delay_ms=2000)
    call_id = await api.call(HUMAN, receiver.url)
    await receiver.wait_for(lambda: len(receiver.events(call_id)) == 2)
    assert receiver.events(call_id) == ["call.answered", "call.initiated"]


async def test_a_held_event_is_sent_anyway_if_nothing_overtakes(
    api: SandboxApi, receiver: WebhookReceiver
) -> None:
    call_id = await api.call(HUMAN, receiver.url)
    await receiver.wait_event(call_id, "call.answered")
    await set_faults(api, reorder={"rate": 1, "count": 1}, delay_ms=50)
    await api.post("/hangup", {"callId": call_id})
    ended = await receiver.wait_event(call_id, "call.ended")
    assert ended["status"] == "completed"


async def test_delay_holds_an_event_back(api: SandboxApi, receiver: WebhookReceiver) -> None:
    await set_faults(api, delay={"rate": 1, "count": 1}, delay_ms=400)
    started = time.monotonic()
    call_id = await api.call("15551230003", receiver.url)
    await receiver.wait_event(call_id, "call.initiated")
    assert time.monotonic() - started >= 0.4
    await receiver.wait_event(call_id, "call.ended")
    assert receiver.events(call_id) == ["call.initiated", "call.ended"]


# ------------------------------------------------------------------ API faults


async def test_error_fault_answers_500_then_recovers(api: SandboxApi) -> None:
    await set_faults(api, error={"rate": 1, "count": 2})
    body = {"number": HUMAN, "callerId": CALLER_ID}
    results = [await api.post("/makecall", body) for _ in range(3)]
    assert [status for status, _ in results] == [500, 500, 200]
    assert results[0][1] == {"success": False, "error": "injected fault: internal server error"}


async def test_throttle_fault_answers_429_with_retry_after(api: SandboxApi) -> None:
    await set_faults(api, throttle={"rate": 1, "count": 1})
    async with api.session.get(
        api.base_url + "/calls/1.1", headers={"Authorization": f"Bearer {TEST_KEY}"}
    ) as resp:
        assert resp.status == 429
        assert resp.headers["Retry-After"] == "1"


async def test_stall_fault_holds_the_request(api: SandboxApi) -> None:
    await set_faults(api, stall={"rate": 1, "count": 1}, stall_ms=300)
    started = time.monotonic()
    status, _ = await api.get("/calls/1.1")
    assert status == 404
    assert time.monotonic() - started >= 0.3


async def test_faults_never_touch_the_control_api(api: SandboxApi) -> None:
    await set_faults(api, error=1.0, throttle=1.0)
    status, _ = await api.get("/sandbox/health")
    assert status == 200


async def test_a_fractional_rate_fires_about_that_often(api: SandboxApi) -> None:
    await set_faults(api, error=0.3)
    statuses = [(await api.get("/calls/1.1"))[0] for _ in range(200)]
    fired = statuses.count(500)
    assert 30 <= fired <= 90, fired  # seeded: deterministic, but not a hard-coded count


# ------------------------------------------------------------------ configuration


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"explode": 1}, "unknown fault 'explode'"),
        ({"drop": 2}, "drop: rate must be between 0 and 1, not 2.0"),
        ({"drop": True}, "drop: expected a rate (0..1) or {rate, count}, not a boolean"),
        ({"drop": {"rate": 1, "count": -1}}, "drop: count cannot be negative, not -1"),
        ({"drop": {"often": 1}}, "drop: unknown keys ['often']"),
        ({"delay_ms": -5}, "delay_ms must be a whole number of milliseconds >= 0"),
    ],
)
async def test_bad_fault_settings_are_refused_and_change_nothing(
    api: SandboxApi, body: dict[str, Any], message: str
) -> None:
    before = (await api.get("/sandbox/faults"))[1]["faults"]
    status, answer = await api.put("/sandbox/faults", {"duplicate": 0.5, **body})
    assert status == 400
    assert answer["error"].startswith(f"faults: {message}")
    assert (await api.get("/sandbox/faults"))[1]["faults"] == before


async def test_faults_from_configuration_apply_from_the_start(receiver: WebhookReceiver) -> None:
    config = make_config(faults=FaultConfig.from_mapping({"duplicate": 1.0}))
    async with Sandbox(config) as sandbox, aiohttp.ClientSession() as session:
        api = SandboxApi(sandbox.url, TEST_KEY, session)
        call_id = await api.call("15551230003", receiver.url)
        await receiver.wait_for(lambda: len(receiver.events(call_id)) == 4)
        assert receiver.events(call_id) == ["call.initiated"] * 2 + ["call.ended"] * 2


async def test_reset_restores_configured_faults_accounts_and_forgets_calls(
    api: SandboxApi, receiver: WebhookReceiver
) -> None:
    await api.call(HUMAN, receiver.url)
    await set_faults(api, error={"rate": 1, "count": 5})
    status, _ = await api.post("/sandbox/reset", {})
    assert status == 200
    _, faults = await api.get("/sandbox/faults")
    assert faults["faults"]["error"] == {"rate": 0.0, "count": None}
    _, calls = await api.get("/sandbox/calls")
    assert calls["calls"] == []
    _, accounts = await api.get("/sandbox/accounts")
    assert accounts["accounts"][0]["credits"] == 100
