"""Gathers: digits pressed through the control API, as the person on the phone."""

from __future__ import annotations

from typing import Any

from tests.helpers import HUMAN, SandboxApi, WebhookReceiver

LONG = 60000  # ms: long enough that a test never races the timer


async def gather_on_answered_call(api: SandboxApi, receiver: WebhookReceiver, **params: Any) -> str:
    call_id = await api.call(HUMAN, receiver.url)
    await receiver.wait_event(call_id, "call.answered")
    status, body = await api.post("/gather", {"callId": call_id, **params})
    assert status == 200, body
    await receiver.wait_event(call_id, "gather.started")
    return call_id


async def press(api: SandboxApi, call_id: str, digits: str) -> None:
    status, body = await api.post(f"/sandbox/calls/{call_id}/press", {"digits": digits})
    assert status == 200, body


def gather_events(receiver: WebhookReceiver, call_id: str) -> list[tuple[str, str]]:
    return [
        (d.event, d.payload.get("digits", ""))
        for d in receiver.accepted(call_id)
        if d.event.startswith(("gather.", "dtmf."))
    ]


async def test_gather_completes_when_num_digits_are_pressed(
    api: SandboxApi, receiver: WebhookReceiver
) -> None:
    call_id = await gather_on_answered_call(api, receiver, numDigits=2, timeout=LONG)
    await press(api, call_id, "42")
    complete = await receiver.wait_event(call_id, "gather.complete")
    assert complete["digits"] == "42"
    assert gather_events(receiver, call_id) == [
        ("gather.started", ""),
        ("dtmf.received", "4"),
        ("gather.progress", "4"),
        ("dtmf.received", "2"),
        ("gather.progress", "42"),
        ("gather.complete", "42"),
    ]


async def test_gather_collects_digits_until_finish_key(
    api: SandboxApi, receiver: WebhookReceiver
) -> None:
    call_id = await gather_on_answered_call(api, receiver, finishOnKey="#", timeout=LONG)
    await press(api, call_id, "123456#")
    complete = await receiver.wait_event(call_id, "gather.complete")
    assert complete["digits"] == "123456"


async def test_gather_with_no_digits_times_out(api: SandboxApi, receiver: WebhookReceiver) -> None:
    call_id = await gather_on_answered_call(api, receiver, numDigits=1, timeout=1000)
    timeout = await receiver.wait_event(call_id, "gather.timeout")
    assert timeout["digits"] == ""
    # The call stays up after a timed-out gather.
    _, state = await api.get(f"/calls/{call_id}")
    assert state["status"] == "answered"


async def test_gather_timeout_waits_for_the_prompt_to_finish(
    api: SandboxApi, receiver: WebhookReceiver
) -> None:
    prompt = "Please enter your six digit PIN code, followed by the pound key. " * 2
    call_id = await gather_on_answered_call(api, receiver, text=prompt, numDigits=6, timeout=1000)
    await receiver.wait_event(call_id, "gather.timeout")
    record = await api.sandbox_call(call_id)
    from datetime import datetime

    gather_started = datetime.fromisoformat(record["gathers"][0]["startedAt"])
    timed_out = datetime.fromisoformat(receiver.payload(call_id, "gather.timeout")["timestamp"])
    # ~130 characters at 15/s is ~8.7 s of speech, then 1 s of silence.
    assert (timed_out - gather_started).total_seconds() >= 9
    assert record["spoken"][0]["text"] == prompt


async def test_a_partial_entry_with_a_fixed_count_times_out_with_what_was_typed(
    api: SandboxApi, receiver: WebhookReceiver
) -> None:
    call_id = await gather_on_answered_call(api, receiver, numDigits=4, timeout=2000)
    await press(api, call_id, "12")
    timeout = await receiver.wait_event(call_id, "gather.timeout")
    assert timeout["digits"] == "12"


async def test_a_partial_entry_without_a_count_completes_on_timeout(
    api: SandboxApi, receiver: WebhookReceiver
) -> None:
    call_id = await gather_on_answered_call(api, receiver, timeout=2000)
    await press(api, call_id, "7")
    complete = await receiver.wait_event(call_id, "gather.complete")
    assert complete["digits"] == "7"


async def test_an_invalid_digit_fails_the_gather(
    api: SandboxApi, receiver: WebhookReceiver
) -> None:
    call_id = await gather_on_answered_call(
        api, receiver, numDigits=1, validDigits="12", timeout=LONG
    )
    await press(api, call_id, "5")
    failed = await receiver.wait_event(call_id, "gather.failed")
    assert failed["reason"] == "digit '5' is not one of '12'"


async def test_hanging_up_during_a_gather_fails_it(
    api: SandboxApi, receiver: WebhookReceiver
) -> None:
    call_id = await gather_on_answered_call(api, receiver, numDigits=3, timeout=LONG)
    await press(api, call_id, "9")
    await receiver.wait_event(call_id, "gather.progress")
    status, _ = await api.post(f"/sandbox/calls/{call_id}/hangup", {})
    assert status == 200
    await receiver.wait_event(call_id, "call.ended")
    failed = receiver.payload(call_id, "gather.failed")
    assert failed["reason"] == "call ended"
    assert failed["digits"] == "9"
    assert receiver.events(call_id)[-2:] == ["gather.failed", "call.ended"]


async def test_only_one_gather_at_a_time(api: SandboxApi, receiver: WebhookReceiver) -> None:
    call_id = await gather_on_answered_call(api, receiver, numDigits=1, timeout=LONG)
    status, body = await api.post("/gather", {"callId": call_id, "numDigits": 1})
    assert status == 400
    assert "already has a gather in progress" in body["error"]


async def test_digits_outside_a_gather_are_still_reported(
    api: SandboxApi, receiver: WebhookReceiver
) -> None:
    call_id = await api.call(HUMAN, receiver.url)
    await receiver.wait_event(call_id, "call.answered")
    await press(api, call_id, "*0")
    await receiver.wait_for(lambda: receiver.events(call_id).count("dtmf.received") == 2)
    assert gather_events(receiver, call_id) == [("dtmf.received", "*"), ("dtmf.received", "0")]
    _, state = await api.get(f"/calls/{call_id}")
    assert state["digits"] == "*0"
