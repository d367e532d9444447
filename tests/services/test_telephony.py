"""Telephony against the sandbox: effects in, events out, errors in words."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest
from aiohttp import web

from console.core.events import (
    ActionFailed,
    ActionKind,
    ActionRequested,
    ActionSucceeded,
    DialAccepted,
    DialFailed,
    DialRequested,
    Effect,
    Event,
    PlaceCall,
    RunAction,
)
from console.core.reducer import RequestState
from console.qt import wording
from console.sandbox import Account, Sandbox
from console.services.session import Session
from console.services.telephony import Telephony
from tests.helpers import CALLER_ID, TEST_KEY, SandboxApi, WebhookReceiver
from tests.sandbox.conftest import make_config
from twilio.rest import Client

FROM = "+" + CALLER_ID


def telephony_for(url: str, hook: str | None, key: str = TEST_KEY) -> Telephony:
    client = Client("ACt", key, base_url=url, environment={}, backoff=0.01)
    return Telephony(client, lambda: hook)


def said(event: DialFailed | ActionFailed, caller_id: str = "") -> str:
    """The failure as the operator reads it (facts in the event, words in wording)."""
    return wording.refusal(event.reason, event.message, event.code, event.status, caller_id)


def dial(request_id: str = "r1", to: str = "+15551230000", caller_id: str = FROM) -> PlaceCall:
    return PlaceCall(request_id, to, caller_id, amd=True, voice=None, ring_timeout=30)


async def test_a_dial_is_accepted_with_its_sid_and_credits(
    sandbox: Sandbox, receiver: WebhookReceiver
) -> None:
    telephony = telephony_for(sandbox.url, receiver.url)
    event = await telephony.run(dial())
    telephony.close()
    assert isinstance(event, DialAccepted)
    assert event.credits == 99
    answered = await receiver.wait_event(event.call_sid, "call.answered")
    assert answered["amd"]["status"] == "HUMAN"


@pytest.mark.parametrize(
    ("caller_id", "message"),
    [
        ("+15550001111", "Caller ID +15550001111 is not verified on this account (Kaphila 400)"),
    ],
)
async def test_an_unverified_caller_id_is_explained(
    sandbox: Sandbox, caller_id: str, message: str
) -> None:
    telephony = telephony_for(sandbox.url, None)
    event = await telephony.run(dial(caller_id=caller_id))
    telephony.close()
    assert isinstance(event, DialFailed)
    assert (said(event, caller_id), event.code) == (message, 21210)


async def test_no_credits_is_explained() -> None:
    config = make_config(accounts=[Account(TEST_KEY, (CALLER_ID,), 0, "broke")])
    async with Sandbox(config) as sandbox:
        telephony = telephony_for(sandbox.url, None)
        event = await telephony.run(dial())
        telephony.close()
    assert isinstance(event, DialFailed)
    assert said(event) == "Out of credits (Kaphila 402)"


async def test_throttling_is_explained(sandbox: Sandbox, api: SandboxApi) -> None:
    await api.put("/sandbox/faults", {"throttle": {"rate": 1, "count": 1}})
    telephony = telephony_for(sandbox.url, None)
    event = await telephony.run(dial())
    telephony.close()
    assert isinstance(event, DialFailed)
    assert said(event) == "Too many requests; wait a moment and try again (Kaphila 429)"


async def test_a_stopped_sandbox_is_explained() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    telephony = telephony_for(dead, None)
    event = await telephony.run(dial())
    telephony.close()
    assert isinstance(event, DialFailed)
    assert said(event) == "Cannot reach Kaphila (connection refused)"


async def test_an_operators_speak_is_not_a_document_the_call_stays_up_after_it(
    sandbox: Sandbox, receiver: WebhookReceiver, api: SandboxApi
) -> None:
    """Twilio hangs up at the end of a TwiML document, update(twiml=...) included;
    the console's Speak is an action on a live call and must not end it."""
    telephony = telephony_for(sandbox.url, receiver.url)
    accepted = await telephony.run(dial())
    assert isinstance(accepted, DialAccepted)
    sid = accepted.call_sid
    await receiver.wait_event(sid, "call.answered")
    speak = RunAction(ActionRequested("a1", sid, ActionKind.SPEAK, at=0.0, text="Hold on."))
    assert isinstance(await telephony.run(speak), ActionSucceeded)
    await asyncio.sleep(0.3)  # far past the last word (simulated time runs 100x)
    record = await api.sandbox_call(sid)
    assert record["status"] == "answered"
    assert [s["interrupted"] for s in record["spoken"]] == [False]
    stats = (await api.get("/sandbox/stats"))[1]
    assert "/hangup" not in stats["requests"]
    telephony.close()


async def test_speak_gather_forward_and_hang_up_reach_the_call(
    sandbox: Sandbox, receiver: WebhookReceiver, api: SandboxApi
) -> None:
    telephony = telephony_for(sandbox.url, receiver.url)
    accepted = await telephony.run(dial())
    assert isinstance(accepted, DialAccepted)
    sid = accepted.call_sid
    await receiver.wait_event(sid, "call.answered")

    def action(kind: ActionKind, request_id: str, **kw: object) -> RunAction:
        return RunAction(ActionRequested(request_id, sid, kind, at=0.0, **kw))  # type: ignore[arg-type]

    assert isinstance(
        await telephony.run(action(ActionKind.SPEAK, "a1", text="Hello", voice="en-GB-Neural2-B")),
        ActionSucceeded,
    )
    assert isinstance(
        await telephony.run(
            action(
                ActionKind.GATHER,
                "a2",
                text="Enter PIN",
                num_digits=4,
                timeout=30,
                valid_digits="0123456789",
            )
        ),
        ActionSucceeded,
    )
    record = await api.sandbox_call(sid)
    assert [(s["text"], s["voice"]) for s in record["spoken"]] == [
        ("Hello", "en-GB-Neural2-B"),
        ("Enter PIN", "en-US-Neural2-A"),
    ]
    gather = record["gathers"][0]
    assert (gather["numDigits"], gather["timeout"], gather["finishOnKey"]) == (4, 30000, "#")
    assert isinstance(
        await telephony.run(action(ActionKind.FORWARD, "a3", text="+15557654321")), ActionSucceeded
    )
    record = await api.sandbox_call(sid)
    assert (record["status"], record["forwardedTo"]) == ("completed", "15557654321")

    failed = await telephony.run(action(ActionKind.HANG_UP, "a4"))
    telephony.close()
    assert isinstance(failed, ActionFailed)
    assert said(failed) == (
        f"Kaphila refused: call {sid} has already ended (completed) (Kaphila 400)"
    )


# ------------------------------------------------ every outcome comes back as an event


async def _odd_kaphila(answer: Callable[[], web.Response]) -> web.AppRunner:
    """A server that answers every request the same odd way (the SDK's gateway
    probe included: a fresh response each time, as one can be sent only once)."""

    async def handle(request: web.Request) -> web.Response:
        return answer()

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (
            lambda: web.Response(status=301, headers={"Location": "https://127.0.0.1:9/makecall"}),
            "redirect",
        ),
        (lambda: web.json_response({"success": True, "status": "queued"}), "no callId"),
    ],
)
async def test_a_dial_whose_answer_has_no_call_id_fails_instead_of_staying_pending(
    answer: Callable[[], web.Response], words: str
) -> None:
    runner = await _odd_kaphila(answer)
    host, port = runner.addresses[0][:2]
    telephony = telephony_for(f"http://{host}:{port}", None)
    try:
        event = await telephony.run(dial())
    finally:
        telephony.close()
        await runner.cleanup()
    assert isinstance(event, DialFailed)
    assert words in said(event)


async def test_a_service_that_raises_still_ends_the_request_and_the_number_can_be_redialled() -> (
    None
):
    async def broken(effect: Effect) -> Event:
        raise RuntimeError("a bug")

    session = Session(broken)
    session.dispatch(DialRequested("r1", "+15551230000", FROM, at=1.0))
    await session.drain()
    request = session.state.requests["r1"]
    assert request.state == RequestState.FAILED
    assert "RuntimeError" in request.message
    session.dispatch(DialRequested("r2", "+15551230000", FROM, at=2.0))
    assert session.state.requests["r2"].state == RequestState.PENDING
    await session.drain()
