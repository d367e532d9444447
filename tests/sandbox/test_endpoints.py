"""Every public endpoint answers with the API document's shapes, over real HTTP."""

from __future__ import annotations

import re

from console.sandbox import Sandbox
from tests.helpers import CALLER_ID, HUMAN, SandboxApi, WebhookReceiver
from tests.sandbox.conftest import TEST_TIME_SCALE

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
CALL_ID = re.compile(r"^\d{10}\.\d+$")


async def answered_call(
    api: SandboxApi, receiver: WebhookReceiver, number: str = HUMAN, **extra: object
) -> str:
    call_id = await api.call(number, receiver.url, **extra)
    await receiver.wait_event(call_id, "call.answered")
    return call_id


async def test_makecall_answers_with_the_documented_fields(
    api: SandboxApi, receiver: WebhookReceiver
) -> None:
    status, body = await api.post(
        "/makecall",
        {
            "number": HUMAN,
            "webhookUrl": receiver.url,
            "useAmd": True,
            "callerId": CALLER_ID,
            "voiceName": "en-US-Neural2-C",
            "ringTimeout": 25,
        },
    )
    assert status == 200
    assert set(body) == {
        "success",
        "callId",
        "status",
        "amdEnabled",
        "voiceName",
        "credits",
        "ringTimeoutSeconds",
        "timestamp",
    }
    assert body["success"] is True
    assert CALL_ID.match(body["callId"])
    assert body["status"] == "ringing"
    assert body["amdEnabled"] is True
    assert body["voiceName"] == "en-US-Neural2-C"
    assert body["ringTimeoutSeconds"] == 25
    assert ISO_MS.match(body["timestamp"])


async def test_makecall_defaults_and_credit_balance(
    api: SandboxApi, receiver: WebhookReceiver
) -> None:
    _, first = await api.post("/makecall", {"number": HUMAN, "callerId": CALLER_ID})
    _, second = await api.post("/makecall", {"number": HUMAN, "callerId": CALLER_ID})
    assert first["amdEnabled"] is False
    assert first["voiceName"] == "en-US-Neural2-A"
    assert first["ringTimeoutSeconds"] == 30
    # Each call costs one credit; the response carries the balance left.
    assert (first["credits"], second["credits"]) == (99, 98)
    assert first["callId"] != second["callId"]


async def test_get_call_reports_the_state_of_one_call(
    api: SandboxApi, receiver: WebhookReceiver
) -> None:
    call_id = await answered_call(api, receiver, useAmd=True)
    status, body = await api.get(f"/calls/{call_id}")
    assert status == 200
    assert body["success"] is True
    assert body["callId"] == call_id
    assert body["status"] == "answered"
    assert body["number"] == HUMAN
    assert body["callerId"] == CALLER_ID
    assert body["amd"]["status"] == "HUMAN"
    assert ISO_MS.match(body["answeredAt"])
    assert body["endedAt"] is None


async def test_voice_speaks_on_an_answered_call_and_keeps_every_text(
    api: SandboxApi, receiver: WebhookReceiver
) -> None:
    call_id = await answered_call(api, receiver)
    status, body = await api.post(
        "/voice", {"callId": call_id, "text": "Hello there.", "playTo": "bridge"}
    )
    assert status == 200
    ends_in = body.pop("endsInMs")
    assert body == {
        "success": True,
        "message": "TTS played successfully",
        "playbackId": f"tts-{call_id}-1",
    }
    # "Hello there." at 15 characters a simulated second, in real milliseconds.
    assert 0 < ends_in <= round(12 / 15 / TEST_TIME_SCALE * 1000) + 1
    await api.post(
        "/voice",
        {
            "callId": call_id,
            "text": "Second line, a little longer.",
            "voiceName": "en-GB-Neural2-B",
        },
    )
    record = await api.sandbox_call(call_id)
    spoken = [(s["text"], s["voice"]) for s in record["spoken"]]
    assert spoken == [
        ("Hello there.", "en-US-Neural2-A"),
        ("Second line, a little longer.", "en-GB-Neural2-B"),
    ]
    # Speech takes time in proportion to the text, and queues behind earlier speech.
    first, second = record["spoken"]
    assert second["startedAt"] >= first["endedAt"]
    assert second["endedAt"] > second["startedAt"]


async def test_gather_starts_and_reports_its_id(api: SandboxApi, receiver: WebhookReceiver) -> None:
    call_id = await answered_call(api, receiver)
    status, body = await api.post(
        "/gather", {"callId": call_id, "text": "Press 1.", "numDigits": 1, "timeout": 10000}
    )
    assert status == 200
    assert body.pop("endsInMs") >= 0
    assert body == {"success": True, "message": "Gather started", "gatherId": f"gather-{call_id}-1"}
    started = await receiver.wait_event(call_id, "gather.started")
    assert started["gatherId"] == body["gatherId"]
    assert started["numDigits"] == 1
    assert started["timeout"] == 10000


async def test_forwardcall_starts_a_new_leg_and_ends_the_original(
    api: SandboxApi, receiver: WebhookReceiver
) -> None:
    call_id = await answered_call(api, receiver)
    status, body = await api.post(
        "/forwardcall", {"callId": call_id, "forwardNumber": "15557654321"}
    )
    assert status == 200
    assert body["success"] is True
    assert body["message"] == "Call forwarded to 15557654321"
    leg = body["forwardedCallId"]
    assert CALL_ID.match(leg)
    assert leg != call_id

    ended = await receiver.wait_event(call_id, "call.ended")
    assert ended["reason"] == "forwarded"
    assert ended["forwardedTo"] == "15557654321"
    assert ended["forwardedCallId"] == leg

    initiated = await receiver.wait_event(leg, "call.initiated")
    assert initiated["forwardedFrom"] == call_id
    assert initiated["number"] == "15557654321"
    await receiver.wait_event(leg, "call.answered")
    _, leg_state = await api.get(f"/calls/{leg}")
    assert leg_state["status"] == "answered"


async def test_hangup_ends_an_answered_call_as_completed(
    api: SandboxApi, receiver: WebhookReceiver
) -> None:
    call_id = await answered_call(api, receiver)
    status, body = await api.post("/hangup", {"callId": call_id})
    assert status == 200
    assert body["success"] is True
    assert body["status"] == "completed"
    ended = await receiver.wait_event(call_id, "call.ended")
    assert ended["status"] == "completed"
    assert ended["hangupBy"] == "caller"
    assert ended["reason"] == "hangup"


async def test_hangup_while_ringing_cancels_the_call(
    api: SandboxApi, receiver: WebhookReceiver
) -> None:
    call_id = await api.call("15551230008", receiver.url)  # rings for 10 s
    await receiver.wait_event(call_id, "call.initiated")
    status, body = await api.post("/hangup", {"callId": call_id})
    assert status == 200
    assert body["status"] == "canceled"
    ended = await receiver.wait_event(call_id, "call.ended")
    assert ended["status"] == "canceled"
    assert ended["duration"] == 0


async def test_recording_events_carry_a_url_the_sandbox_serves(
    api: SandboxApi, receiver: WebhookReceiver, sandbox: Sandbox
) -> None:
    import io
    import wave

    call_id = await answered_call(api, receiver, record=True)
    started = await receiver.wait_event(call_id, "recording.started")
    await api.post("/hangup", {"callId": call_id})
    completed = await receiver.wait_event(call_id, "recording.completed")
    assert completed["recordingId"] == started["recordingId"]
    assert completed["recordingUrl"].startswith(sandbox.url + "/recordings/")
    assert isinstance(completed["recordingDuration"], int)
    async with api.session.get(completed["recordingUrl"]) as resp:
        assert resp.status == 200
        assert resp.content_type == "audio/wav"
        audio = await resp.read()
    with wave.open(io.BytesIO(audio)) as wav:
        assert wav.getnchannels() == 1
        assert wav.getframerate() == 8000
        assert wav.getnframes() > 0
    assert receiver.events(call_id)[-2:] == ["call.ended", "recording.completed"]
