"""WebhookHelper.process_webhook: Kaphila JSON -> Twilio's form parameters."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import TEST_KEY
from twilio import TwilioException, WebhookHelper
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse


def make_client(**kwargs: Any) -> Client:
    return Client("ACform", TEST_KEY, environment={}, base_url="http://127.0.0.1:9", **kwargs)


def event(name: str, status: str | None, call_id: str = "100.1", **extra: Any) -> dict[str, Any]:
    stamp = f"2026-01-01T00:00:0{len(name) % 10}.000Z"
    payload = {
        "callId": call_id,
        "event": name,
        "timestamp": stamp,
        "number": "15551230000",
        "callerId": "19876543210",
        **extra,
    }
    if status is not None:
        payload["status"] = status
    return payload


@pytest.mark.parametrize(
    ("name", "status", "expected"),
    [
        ("call.initiated", "ringing", "ringing"),
        ("call.initiated", None, "initiated"),
        ("call.answered", "answered", "in-progress"),
        ("call.ended", "completed", "completed"),
        ("call.ended", "busy", "busy"),
        ("call.ended", "failed", "failed"),
        ("call.ended", "canceled", "canceled"),
        ("call.ended", None, "completed"),
        ("call.timeout", "no-answer", "no-answer"),
        ("call.timeout", None, "no-answer"),
        ("dtmf.received", "answered", "in-progress"),
        ("gather.complete", "answered", "in-progress"),
        ("recording.completed", "completed", "completed"),
    ],
)
def test_every_event_and_status_maps_to_twilios_call_status(
    name: str, status: str | None, expected: str
) -> None:
    form = WebhookHelper.process_webhook(
        event(name, status, call_id=f"{name}.{status}"), make_client()
    )
    assert form["CallStatus"] == expected


def test_the_standard_parameters_are_there() -> None:
    client = make_client()
    form = WebhookHelper.process_webhook(event("call.answered", "answered"), client)
    assert form == {
        "CallSid": "100.1",
        "AccountSid": "ACform",
        "From": "+19876543210",
        "To": "+15551230000",
        "CallStatus": "in-progress",
        "Direction": "outbound-api",
        "ApiVersion": "2010-04-01",
        "KaphilaEvent": "call.answered",
        "Timestamp": "2026-01-01T00:00:03.000Z",
    }
    assert form.raw["event"] == "call.answered"


@pytest.mark.parametrize(
    ("amd", "not_sure_as", "expected"),
    [
        ("HUMAN", "human", "human"),
        ("MACHINE", "human", "machine"),
        ("NOTSURE", "human", "human"),
        ("NOTSURE", "unknown", "unknown"),
    ],
)
def test_amd_results_become_answered_by(amd: str, not_sure_as: str, expected: str) -> None:
    client = make_client(amd_not_sure_as=not_sure_as)
    form = WebhookHelper.process_webhook(
        event("call.answered", "answered", amd={"status": amd, "confidence": 0.9}), client
    )
    assert (form["AnsweredBy"], form["MachineDetectionConfidence"]) == (expected, "0.9")
    assert client.calls("100.1").answered_by == expected


def test_digits_recordings_transcriptions_and_durations() -> None:
    client = make_client()
    assert (
        WebhookHelper.process_webhook(event("gather.complete", "answered", digits="123"), client)[
            "Digits"
        ]
        == "123"
    )
    form = WebhookHelper.process_webhook(
        event(
            "recording.completed",
            "completed",
            recordingId="RE1",
            duration=7,
            recordingUrl="http://127.0.0.1:9/recordings/RE1.wav",
            recordingDuration=7,
            transcriptionText="hello",
        ),
        client,
    )
    assert (form["RecordingUrl"], form["RecordingSid"], form["RecordingDuration"]) == (
        "http://127.0.0.1:9/recordings/RE1.wav",
        "RE1",
        "7",
    )
    assert form["TranscriptionText"] == "hello"
    assert form["CallDuration"] == "7"
    assert [r.sid for r in client.recordings.list()] == ["RE1"]


def test_from_and_to_fall_back_to_what_the_client_knows() -> None:
    client = make_client()
    client.call_store.update("100.1", to="+15551230000", **{"from": "+19876543210"})
    payload = {"callId": "100.1", "event": "dtmf.received", "status": "answered", "digits": "5"}
    form = WebhookHelper.process_webhook(payload, client)
    assert (form["From"], form["To"]) == ("+19876543210", "+15551230000")


def test_an_unknown_call_becomes_known_to_the_client() -> None:
    client = make_client()
    WebhookHelper.process_webhook(event("call.answered", "answered", call_id="7.7"), client)
    assert [c.sid for c in client.calls.list()] == ["7.7"]


def test_a_late_event_never_moves_a_finished_call_back() -> None:
    client = make_client()
    WebhookHelper.process_webhook(event("call.ended", "completed", duration=12), client)
    WebhookHelper.process_webhook(event("call.answered", "answered"), client)
    WebhookHelper.process_webhook(event("call.initiated", "ringing"), client)
    call = client.calls("100.1")
    assert (call.status, call.duration) == ("completed", 12)


def test_an_early_status_arriving_late_does_not_move_backwards() -> None:
    client = make_client()
    WebhookHelper.process_webhook(event("call.answered", "answered"), client)
    WebhookHelper.process_webhook(event("call.initiated", "ringing"), client)
    assert client.calls("100.1").status == "in-progress"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (None, "must be a JSON object, not NoneType"),
        ([1], "must be a JSON object, not list"),
        ({"event": "call.answered"}, "the webhook has no callId"),
        ({"callId": "", "event": "call.answered"}, "the webhook has no callId"),
        (
            {"callId": "1.1", "event": "call.exploded"},
            "unknown Kaphila webhook event 'call.exploded'",
        ),
        ({"callId": "1.1"}, "unknown Kaphila webhook event None"),
    ],
)
def test_bad_input_is_a_clear_twilio_exception(data: Any, message: str) -> None:
    with pytest.raises(TwilioException, match=message.replace("(", r"\(").replace(")", r"\)")):
        WebhookHelper.process_webhook(data, make_client())


# ------------------------------------------------ issue 12 item 6: a privacy bug


def test_twiml_rendered_by_a_later_request_on_the_same_thread_never_reaches_an_earlier_call(
    client: Client, sandbox: Any
) -> None:
    """A threaded server reuses its threads. A handler that took call A's webhook
    and answered nothing must not leave A's render context behind for the next
    request on that thread, whose TwiML is for someone else."""
    call_a = client.calls.create(to="+15551230000", from_="+19876543210").sid
    sandbox.wait_status(call_a, "answered")
    answered = {
        "callId": call_a,
        "event": "call.answered",
        "status": "answered",
        "timestamp": "2026-01-01T00:00:01.000Z",
        "number": "15551230000",
        "callerId": "19876543210",
    }

    from flask import Flask, request

    app = Flask("reused-thread")

    @app.post("/status")
    def took_the_webhook_said_nothing() -> str:
        WebhookHelper.process_webhook(request.get_json(), client)
        return ""

    @app.get("/balance")
    def another_endpoint_for_another_callee() -> str:
        response = VoiceResponse()
        response.say("Your balance is 1,234 dollars")
        return str(response)

    # Flask's test client serves each request on this very thread: a reused thread.
    web = app.test_client()
    assert web.post("/status", json=answered).status_code == 200
    assert web.get("/balance").status_code == 200
    assert client.twiml_runner.wait_idle(5.0)
    assert sandbox.call(call_a)["spoken"] == []


def test_twiml_rendered_while_handling_the_webhook_still_runs(client: Client, sandbox: Any) -> None:
    call_a = client.calls.create(to="+15551230000", from_="+19876543210").sid
    sandbox.wait_status(call_a, "answered")
    answered = {
        "callId": call_a,
        "event": "call.answered",
        "status": "answered",
        "timestamp": "2026-01-01T00:00:02.000Z",
        "number": "15551230000",
        "callerId": "19876543210",
    }

    from flask import Flask, request

    app = Flask("handler")

    def take(payload: dict[str, Any]) -> dict[str, str]:  # an app's own helper around it
        return dict(WebhookHelper.process_webhook(payload, client))

    @app.post("/voice")
    def voice() -> str:
        take(request.get_json())
        response = VoiceResponse()
        response.say("Hello from the handler")
        return str(response)

    assert app.test_client().post("/voice", json=answered).status_code == 200
    assert client.twiml_runner.wait_idle(5.0)
    assert [s["text"] for s in sandbox.call(call_a)["spoken"]] == ["Hello from the handler"]


def test_a_flood_of_unknown_call_ids_keeps_the_sdks_call_store_bounded() -> None:
    client = make_client()
    client.call_store.limit = 100
    for n in range(1_000):
        WebhookHelper.process_webhook(event("call.initiated", "ringing", call_id=f"x.{n}"), client)
    assert len(client.call_store.all()) == 100
    assert client.call_store.get("x.0") is None
    assert client.call_store.get("x.999") is not None
