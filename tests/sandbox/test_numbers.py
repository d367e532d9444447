"""Absurd numbers in any field of any endpoint are a clear 400, never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.helpers import CALLER_ID, HUMAN, TEST_KEY, SandboxApi, WebhookReceiver

HUGE_NUMBERS = {
    "1e400": "1e400",
    "-1e400": "-1e400",
    "400 digits": "1" + "0" * 400,
    "5000 digits": "9" * 5000,
    "-5000 digits": "-" + "9" * 5000,
    "float of 5000 digits": "9" * 5000 + ".5",
    "NaN": "NaN",
    "Infinity": "Infinity",
    "-Infinity": "-Infinity",
}

# (method, path, field, body): "@" marks the field that gets the number;
# {call} stands for a live, answered call.
NUMERIC_FIELDS = [
    (
        "POST",
        "/makecall",
        "ringTimeout",
        {"number": HUMAN, "callerId": CALLER_ID, "ringTimeout": "@"},
    ),
    ("POST", "/makecall", "number", {"number": "@", "callerId": CALLER_ID}),
    ("POST", "/makecall", "useAmd", {"number": HUMAN, "callerId": CALLER_ID, "useAmd": "@"}),
    ("POST", "/gather", "numDigits", {"callId": "{call}", "numDigits": "@"}),
    ("POST", "/gather", "timeout", {"callId": "{call}", "timeout": "@"}),
    ("POST", "/gather", "finishOnKey", {"callId": "{call}", "finishOnKey": "@"}),
    ("POST", "/voice", "text", {"callId": "{call}", "text": "@"}),
    ("POST", "/forwardcall", "forwardNumber", {"callId": "{call}", "forwardNumber": "@"}),
    ("POST", "/hangup", "callId", {"callId": "@"}),
    ("POST", "/sandbox/calls/{call}/press", "digits", {"digits": "@"}),
    ("PUT", "/sandbox/faults", "drop", {"drop": "@"}),
    ("PUT", "/sandbox/faults", "error.rate", {"error": {"rate": "@", "count": 1}}),
    ("PUT", "/sandbox/faults", "error.count", {"error": {"rate": 1, "count": "@"}}),
    ("PUT", "/sandbox/faults", "delay_ms", {"delay_ms": "@"}),
    ("PUT", "/sandbox/faults", "stall_ms", {"stall_ms": "@"}),
    ("PUT", "/sandbox/faults", "nested", {"unknown": {"deep": ["@"]}}),
]


@pytest.fixture
async def live_call(api: SandboxApi, receiver: WebhookReceiver) -> str:
    call_id = await api.call(HUMAN, receiver.url)
    await receiver.wait_event(call_id, "call.answered")
    return call_id


@pytest.mark.parametrize(
    ("method", "path", "field", "body"),
    NUMERIC_FIELDS,
    ids=[f"{m} {p} {f}" for m, p, f, _ in NUMERIC_FIELDS],
)
@pytest.mark.parametrize("number", list(HUGE_NUMBERS.values()), ids=list(HUGE_NUMBERS))
async def test_an_absurd_number_in_any_field_is_a_clear_400(
    api: SandboxApi,
    live_call: str,
    method: str,
    path: str,
    field: str,
    body: dict[str, Any],
    number: str,
) -> None:
    raw = json.dumps(body).replace('"@"', number).replace("{call}", live_call)
    before_faults = (await api.get("/sandbox/faults"))[1]["faults"]
    before_calls = (await api.get("/sandbox/calls"))[1]["calls"]
    headers = {"Authorization": f"Bearer {TEST_KEY}", "Content-Type": "application/json"}
    async with api.session.request(
        method, api.base_url + path.replace("{call}", live_call), data=raw.encode(), headers=headers
    ) as resp:
        status, answer = resp.status, await resp.json()
    assert status == 400, answer
    assert answer["success"] is False
    message = answer["error"]
    assert "number" in message or "NaN" in message, message
    assert len(message) < 200, message
    assert (await api.get("/sandbox/faults"))[1]["faults"] == before_faults
    assert len((await api.get("/sandbox/calls"))[1]["calls"]) == len(before_calls)
    # ...and the live call is still there to act on.
    status, _ = await api.post("/voice", {"callId": live_call, "text": "still here"})
    assert status == 200


@pytest.mark.parametrize(("field", "value"), [("delay_ms", 10**12), ("stall_ms", 600_001)])
async def test_fault_times_are_bounded(api: SandboxApi, field: str, value: int) -> None:
    status, answer = await api.put("/sandbox/faults", {field: value})
    assert (status, answer["error"]) == (
        400,
        f"faults: {field} must be a whole number of milliseconds >= 0 and at most 600000",
    )
