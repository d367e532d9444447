"""Every error the API can give: a JSON body with a clear message, never a 500."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from console.sandbox import Account, Sandbox
from tests.helpers import (
    CALLER_ID,
    HUMAN,
    OTHER_CALLER_ID,
    OTHER_KEY,
    TEST_KEY,
    SandboxApi,
    WebhookReceiver,
)
from tests.sandbox.conftest import make_config


def error_of(status: int, body: dict[str, Any], expected_status: int) -> str:
    assert status == expected_status, body
    assert body["success"] is False
    assert isinstance(body["error"], str)
    assert body["error"]
    return str(body["error"])


# ------------------------------------------------------------------------ 401


@pytest.mark.parametrize("path", ["/makecall", "/forwardcall", "/voice", "/gather", "/hangup"])
async def test_every_endpoint_needs_a_key(api: SandboxApi, path: str) -> None:
    async with api.session.post(api.base_url + path, json={}) as resp:
        message = error_of(resp.status, await resp.json(), 401)
    assert "Authorization" in message


async def test_get_call_needs_a_key(api: SandboxApi) -> None:
    async with api.session.get(api.base_url + "/calls/1.1") as resp:
        error_of(resp.status, await resp.json(), 401)


async def test_unknown_key_is_refused_without_echoing_it(api: SandboxApi) -> None:
    status, body = await api.post(
        "/makecall", {"number": HUMAN, "callerId": CALLER_ID}, key="ak_nobody_knows_this_key"
    )
    message = error_of(status, body, 401)
    assert message == "unknown API key"
    assert "ak_nobody" not in message


async def test_malformed_authorization_header_is_refused(api: SandboxApi) -> None:
    status, body = await api.post("/makecall", {}, headers={"Authorization": f"Basic {TEST_KEY}"})
    assert "malformed" in error_of(status, body, 401)


# ------------------------------------------------------------------------ 400


@pytest.mark.parametrize(
    ("number", "why"),
    [
        ("+15551234567", "without '+'"),
        ("555123", "10-15 digits"),
        ("1555123456789012", "10-15 digits"),
        ("1555abc4567", "10-15 digits"),
        ("", "10-15 digits"),
    ],
)
async def test_makecall_rejects_numbers_that_are_not_10_to_15_digits(
    api: SandboxApi, number: str, why: str
) -> None:
    status, body = await api.post("/makecall", {"number": number, "callerId": CALLER_ID})
    message = error_of(status, body, 400)
    assert message.startswith("number ")
    assert why in message


async def test_makecall_rejects_a_caller_id_not_on_the_account(api: SandboxApi) -> None:
    status, body = await api.post("/makecall", {"number": HUMAN, "callerId": OTHER_CALLER_ID})
    assert error_of(status, body, 400) == (
        f"callerId {OTHER_CALLER_ID} is not verified on this account"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"callerId": CALLER_ID}, "number is required"),
        ({"number": HUMAN}, "callerId is required"),
        ({"number": 15551230000, "callerId": CALLER_ID}, "number must be a string, not a number"),
        (
            {"number": HUMAN, "callerId": CALLER_ID, "useAmd": "yes"},
            "useAmd must be true or false, not a string",
        ),
        (
            {"number": HUMAN, "callerId": CALLER_ID, "ringTimeout": "30"},
            "ringTimeout must be a whole number, not a string",
        ),
        (
            {"number": HUMAN, "callerId": CALLER_ID, "ringTimeout": 2.5},
            "ringTimeout must be a whole number, not 2.5",
        ),
        (
            {"number": HUMAN, "callerId": CALLER_ID, "ringTimeout": 0},
            "ringTimeout must be between 1 and 600, not 0",
        ),
        (
            {"number": HUMAN, "callerId": CALLER_ID, "webhookUrl": "ftp://x/y"},
            "webhookUrl 'ftp://x/y' is not an http(s) URL",
        ),
        (
            {"number": HUMAN, "callerId": CALLER_ID, "voiceName": ["a"]},
            "voiceName must be a string, not an array",
        ),
    ],
)
async def test_makecall_names_the_field_that_is_missing_or_wrong(
    api: SandboxApi, body: dict[str, Any], message: str
) -> None:
    status, answer = await api.post("/makecall", body)
    assert error_of(status, answer, 400) == message


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "request body is not valid JSON"),
        (b"", "request body is empty"),
        (b"[1, 2]", "request body must be a JSON object, not an array"),
        (b'"text"', "request body must be a JSON object, not a string"),
        (b"\xff\xfe\x00", "request body is not UTF-8 text"),
        (b"[" * 5000 + b"]" * 5000, "request body is nested too deeply"),
    ],
)
async def test_bodies_that_are_not_a_json_object_are_refused(
    api: SandboxApi, raw: bytes, message: str
) -> None:
    status, body = await api.post("/makecall", raw=raw)
    assert error_of(status, body, 400).startswith(message)


@pytest.mark.parametrize("path", ["/voice", "/gather", "/hangup", "/forwardcall"])
async def test_an_unknown_call_id_is_refused(api: SandboxApi, path: str) -> None:
    status, body = await api.post(path, {"callId": "123.456", "text": "x", "forwardNumber": HUMAN})
    assert error_of(status, body, 400) == "unknown callId '123.456'"


async def test_another_accounts_call_is_unknown_to_you(
    api: SandboxApi, receiver: WebhookReceiver
) -> None:
    call_id = await api.call(HUMAN, receiver.url)
    status, body = await api.post("/hangup", {"callId": call_id}, key=OTHER_KEY)
    assert error_of(status, body, 400) == f"unknown callId {call_id!r}"
    status, body = await api.get(f"/calls/{call_id}", key=OTHER_KEY)
    error_of(status, body, 404)


async def test_get_of_an_unknown_call_is_404(api: SandboxApi) -> None:
    status, body = await api.get("/calls/999.999")
    assert error_of(status, body, 404) == "no call with callId '999.999'"


@pytest.mark.parametrize(
    ("path", "extra", "verb"),
    [
        ("/voice", {"text": "hello"}, "speak on"),
        ("/gather", {"numDigits": 1}, "gather on"),
        ("/forwardcall", {"forwardNumber": HUMAN}, "forward"),
    ],
)
async def test_actions_need_an_answered_call(
    api: SandboxApi, receiver: WebhookReceiver, path: str, extra: dict[str, Any], verb: str
) -> None:
    call_id = await api.call("15551230008", receiver.url)  # still ringing for 10 s
    status, body = await api.post(path, {"callId": call_id, **extra})
    assert error_of(status, body, 400) == (
        f"cannot {verb} call {call_id}: it is ringing, not answered"
    )


@pytest.mark.parametrize(
    ("path", "extra"),
    [
        ("/voice", {"text": "hello"}),
        ("/gather", {}),
        ("/forwardcall", {"forwardNumber": HUMAN}),
        ("/hangup", {}),
    ],
)
async def test_actions_on_an_ended_call_are_refused(
    api: SandboxApi, receiver: WebhookReceiver, path: str, extra: dict[str, Any]
) -> None:
    call_id = await api.call("15551230003", receiver.url)  # busy
    await receiver.wait_event(call_id, "call.ended")
    status, body = await api.post(path, {"callId": call_id, **extra})
    assert error_of(status, body, 400) == f"call {call_id} has already ended (busy)"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"numDigits": 0}, "numDigits must be between 1 and 64, not 0"),
        ({"timeout": -1}, "timeout must be between 100 and 600000, not -1"),
        ({"finishOnKey": "A"}, "finishOnKey 'A' is not one of 0-9, * or #"),
        ({"finishOnKey": "##"}, "finishOnKey is longer than 1 characters"),
        ({"validDigits": "12x"}, "validDigits '12x' may only hold 0-9, * and #"),
    ],
)
async def test_gather_parameters_are_checked(
    api: SandboxApi, receiver: WebhookReceiver, body: dict[str, Any], message: str
) -> None:
    call_id = await api.call(HUMAN, receiver.url)
    await receiver.wait_event(call_id, "call.answered")
    status, answer = await api.post("/gather", {"callId": call_id, **body})
    assert error_of(status, answer, 400) == message


async def test_voice_needs_text_to_speak(api: SandboxApi, receiver: WebhookReceiver) -> None:
    call_id = await api.call(HUMAN, receiver.url)
    await receiver.wait_event(call_id, "call.answered")
    status, body = await api.post("/voice", {"callId": call_id, "text": "   "})
    assert error_of(status, body, 400) == "text is empty; there is nothing to speak"


# ------------------------------------------------------------------------ 402


async def test_makecall_without_credits_is_402_and_charges_nothing(
    receiver: WebhookReceiver,
) -> None:
    config = make_config(accounts=[Account(TEST_KEY, (CALLER_ID,), 2, "poor")], call_cost=1)
    async with Sandbox(config) as sandbox, aiohttp.ClientSession() as session:
        api = SandboxApi(sandbox.url, TEST_KEY, session)
        balances = [
            (await api.post("/makecall", {"number": HUMAN, "callerId": CALLER_ID}))[1].get(
                "credits"
            )
            for _ in range(2)
        ]
        assert balances == [1, 0]
        status, body = await api.post("/makecall", {"number": HUMAN, "callerId": CALLER_ID})
        assert error_of(status, body, 402) == (
            "insufficient credits: the balance is 0 and a call costs 1"
        )
        _, listing = await api.get("/sandbox/calls")
        assert len(listing["calls"]) == 2


# ------------------------------------------------------------------------ 413


async def test_an_oversized_body_is_413() -> None:
    config = make_config(max_body_bytes=1024)
    async with Sandbox(config) as sandbox, aiohttp.ClientSession() as session:
        api = SandboxApi(sandbox.url, TEST_KEY, session)
        big = {"number": HUMAN, "callerId": CALLER_ID, "voiceName": "x" * 4000}
        status, body = await api.post("/makecall", big)
        assert error_of(status, body, 413) == "request body is larger than the 1024-byte limit"
        # ... and the server keeps serving.
        status, _ = await api.post("/makecall", {"number": HUMAN, "callerId": CALLER_ID})
        assert status == 200


# ------------------------------------------------------------------------ 429


async def test_past_the_rate_limit_is_429_per_key() -> None:
    config = make_config(rate_limit=5.0)  # bursts of 10
    async with Sandbox(config) as sandbox, aiohttp.ClientSession() as session:
        api = SandboxApi(sandbox.url, TEST_KEY, session)
        statuses = [(await api.get("/calls/1.1"))[0] for _ in range(12)]
        assert statuses[:10] == [404] * 10
        assert statuses[10:] == [429, 429]
        status, body = await api.get("/calls/1.1")
        assert "rate limit exceeded: 5 requests per second per API key" in error_of(
            status, body, 429
        )
        # Another key has its own bucket.
        status, _ = await api.get("/calls/1.1", key=OTHER_KEY)
        assert status == 404


# ------------------------------------------------------------------------ routing


async def test_unknown_paths_and_methods_answer_json(api: SandboxApi) -> None:
    status, body = await api.post("/nothing-here", {})
    assert error_of(status, body, 404) == "no such endpoint: POST /nothing-here"
    status, body = await api.get("/makecall")
    assert error_of(status, body, 405) == "GET is not allowed on /makecall"
