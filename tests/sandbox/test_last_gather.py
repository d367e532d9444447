"""GET /calls/{callId} reports the newest gather's result (``lastGather``, assumed),
so a client with no webhook receiver can wait for a gather by polling."""

from __future__ import annotations

from tests.helpers import HUMAN, SandboxApi, WebhookReceiver

LONG = 60000  # ms: long enough that a test never races the timer


async def test_last_gather_is_null_until_a_gather_starts(
    api: SandboxApi, receiver: WebhookReceiver
) -> None:
    call_id = await api.call(HUMAN, receiver.url)
    await receiver.wait_event(call_id, "call.answered")
    _, body = await api.get(f"/calls/{call_id}")
    assert body["lastGather"] is None


async def test_last_gather_follows_the_newest_gather_to_its_outcome(
    api: SandboxApi, receiver: WebhookReceiver
) -> None:
    call_id = await api.call(HUMAN, receiver.url)
    await receiver.wait_event(call_id, "call.answered")
    _, started = await api.post(
        "/gather", {"callId": call_id, "numDigits": 3, "finishOnKey": "#", "timeout": LONG}
    )
    _, body = await api.get(f"/calls/{call_id}")
    assert body["lastGather"] == {"gatherId": started["gatherId"], "outcome": None, "digits": ""}

    status, _ = await api.post(f"/sandbox/calls/{call_id}/press", {"digits": "1#"})
    assert status == 200
    await receiver.wait_event(call_id, "gather.complete")
    _, body = await api.get(f"/calls/{call_id}")
    # The finish key ends the gather and is not one of the digits.
    assert body["lastGather"] == {
        "gatherId": started["gatherId"],
        "outcome": "complete",
        "digits": "1",
    }
