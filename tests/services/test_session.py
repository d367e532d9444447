"""The session: one dial from the operator's click to the live call, over real HTTP."""

from __future__ import annotations

import asyncio

import pytest

from console.core.calls import CallStatus
from console.core.events import DialRequested
from console.core.reducer import RequestState, State
from console.sandbox import Sandbox
from console.services.session import Session
from console.services.telephony import Telephony
from console.services.webhooks import WebhookListener, new_token
from tests.helpers import CALLER_ID, TEST_KEY
from tests.sandbox.conftest import make_config
from twilio.rest import Client


async def test_a_dial_becomes_a_live_call_with_amd_through_the_real_stack() -> None:
    async with Sandbox(make_config()) as sandbox:
        client = Client("ACs", TEST_KEY, base_url=sandbox.url, environment={})
        listener_holder: list[WebhookListener] = []
        telephony = Telephony(client, lambda: listener_holder[0].url)
        session = Session(telephony.run)
        listener = WebhookListener(client, session.dispatch, new_token())
        listener_holder.append(listener)
        await listener.start()
        seen: list[State] = []
        answered = asyncio.Event()

        def watch(state: State) -> None:
            seen.append(state)
            if any(c.status is CallStatus.IN_PROGRESS and c.amd for c in state.calls.values()):
                answered.set()

        session.subscribe(watch)
        session.dispatch(DialRequested("r1", "+15551230001", "+" + CALLER_ID, at=0.0))
        async with asyncio.timeout(10):
            await answered.wait()
        [call] = session.state.calls.values()
        assert call.placed_here
        assert call.amd is not None
        assert call.amd.answered_by == "machine"
        assert session.state.requests["r1"].state == RequestState.DONE
        assert session.state.credits == 99
        assert len(seen) >= 3  # dial, accepted, webhooks: subscribers hear each
        await session.drain()
        await listener.stop()
        telephony.close()


async def test_a_failing_service_is_logged_and_the_session_keeps_going(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(effect: object) -> object:
        raise RuntimeError("bug")

    session = Session(broken)  # type: ignore[arg-type]
    session.dispatch(DialRequested("r1", "+15551230000", "+19876543210", at=0.0))
    await session.drain()
    assert "carrying out PlaceCall" in caplog.text
    assert isinstance(session.state, State)
    assert not session.busy
