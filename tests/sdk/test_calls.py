"""client.calls against the sandbox over loopback."""

from __future__ import annotations

import re
import warnings
from datetime import datetime

import pytest

from tests.helpers import CALLER_ID, HUMAN, OTHER_CALLER_ID
from tests.sdk.conftest import SandboxHandle
from twilio.base.exceptions import (
    KaphilaCompatibilityWarning,
    KaphilaNotSupportedError,
    TwilioRestException,
)
from twilio.rest import Client

TO = "+" + HUMAN
FROM = "+" + CALLER_ID


def test_quick_start_creates_a_call_with_twilio_properties(
    client: Client, sandbox: SandboxHandle
) -> None:
    call = client.calls.create(to=TO, from_=FROM, url="http://127.0.0.1:9/webhook")
    assert re.match(r"^\d+\.\d+$", call.sid)
    assert call.status == "ringing"
    assert (call.to, call.from_, call._from) == (TO, FROM, FROM)
    assert call.direction == "outbound-api"
    assert call.api_version == "2010-04-01"
    assert call.machine_detection == "none"
    assert call.answered_by is None
    assert isinstance(call.date_created, datetime)
    assert call.account_sid == client.account_sid
    assert repr(call) == (
        f"<Twilio.Api.V2010.CallInstance account_sid={client.account_sid} sid={call.sid}>"
    )
    record = sandbox.call(call.sid)
    assert (record["number"], record["callerId"]) == (HUMAN, CALLER_ID)
    assert record["webhookUrl"] == "http://127.0.0.1:9/webhook"
    assert record["amdEnabled"] is False


@pytest.mark.parametrize("setting", ["enable", "Enable", "DetectMessageEnd"])
def test_machine_detection_turns_amd_on(
    client: Client, sandbox: SandboxHandle, setting: str
) -> None:
    call = client.calls.create(to=TO, from_=FROM, machine_detection=setting)
    assert call.machine_detection == "enable"
    assert sandbox.call(call.sid)["amdEnabled"] is True


def test_voice_timeout_and_record_reach_kaphila(client: Client, sandbox: SandboxHandle) -> None:
    call = client.calls.create(to=TO, from_=FROM, voice="en-GB-Neural2-B", timeout=45, record=True)
    record = sandbox.call(call.sid)
    assert (record["voiceName"], record["ringTimeoutSeconds"], record["record"]) == (
        "en-GB-Neural2-B",
        45,
        True,
    )


def test_status_callback_is_the_webhook_when_there_is_no_url(
    client: Client, sandbox: SandboxHandle
) -> None:
    call = client.calls.create(to=TO, from_=FROM, status_callback="http://127.0.0.1:9/status")
    assert sandbox.call(call.sid)["webhookUrl"] == "http://127.0.0.1:9/status"


def test_parameters_kaphila_cannot_honour_are_named_in_one_warning(
    client: Client, sandbox: SandboxHandle
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client.calls.create(
            to=TO,
            from_=FROM,
            url="http://127.0.0.1:9/a",
            status_callback="http://127.0.0.1:9/b",
            status_callback_event=["initiated", "answered"],
            fallback_url="http://127.0.0.1:9/c",
            send_digits="1234",
        )
    compatibility = [w for w in caught if w.category is KaphilaCompatibilityWarning]
    assert len(compatibility) == 1
    message = str(compatibility[0].message)
    for name in (
        "status_callback (Kaphila sends every event to url)",
        "send_digits",
        "status_callback_event",
    ):
        assert name in message
    # The SDK's own interpreter honours it without a gateway (twilio.rest.twiml_runner).
    assert "fallback_url" not in message


def test_an_unknown_keyword_is_a_type_error_as_in_twilio(client: Client) -> None:
    with pytest.raises(TypeError, match="unexpected keyword arguments: colour"):
        client.calls.create(to=TO, from_=FROM, colour="red")


@pytest.mark.parametrize(
    ("to", "from_", "code", "field"),
    [
        ("+invalid", FROM, 21211, "'To' number '+invalid'"),
        ("+1555", FROM, 21211, "'To' number '+1555'"),
        (TO, "12", 21212, "'From' number '12'"),
    ],
)
def test_numbers_are_checked_before_anything_is_sent(
    client: Client, sandbox: SandboxHandle, to: str, from_: str, code: int, field: str
) -> None:
    with pytest.raises(TwilioRestException) as raised:
        client.calls.create(to=to, from_=from_)
    assert (raised.value.code, raised.value.status) == (code, 400)
    assert field in raised.value.msg
    assert sandbox.calls() == []


def test_an_unverified_caller_id_is_21210(client: Client) -> None:
    with pytest.raises(TwilioRestException) as raised:
        client.calls.create(to=TO, from_="+" + OTHER_CALLER_ID)
    assert raised.value.code == 21210
    assert raised.value.msg == f"callerId {OTHER_CALLER_ID} is not verified on this account"
    assert str(raised.value) == f"HTTP 400 error: {raised.value.msg}"


def test_get_and_call_return_a_context_that_reads_and_fetches(
    client: Client, sandbox: SandboxHandle
) -> None:
    sid = client.calls.create(to=TO, from_=FROM, machine_detection="enable").sid
    sandbox.wait_status(sid, "answered")
    fetched = client.calls(sid).fetch()
    assert fetched.status == "in-progress"
    assert fetched.answered_by == "human"
    assert isinstance(fetched.start_time, datetime)
    assert client.calls.get(sid).status == "in-progress"  # the SDK document's usage
    assert repr(client.calls(sid)).startswith("<Twilio.Api.V2010.CallContext ")


def test_fetching_an_unknown_call_is_20404(client: Client) -> None:
    with pytest.raises(TwilioRestException) as raised:
        client.calls("999.999").fetch()
    assert (raised.value.status, raised.value.code) == (404, 20404)


@pytest.mark.parametrize("status", ["completed", "canceled"])
def test_update_status_hangs_up(client: Client, sandbox: SandboxHandle, status: str) -> None:
    call = client.calls.create(to=TO, from_=FROM)
    sandbox.wait_status(call.sid, "answered")
    updated = client.calls(call.sid).update(status=status)
    assert updated.status == "completed"
    assert sandbox.call(call.sid)["hangupBy"] == "caller"


def test_update_to_another_status_is_refused(client: Client) -> None:
    call = client.calls.create(to=TO, from_=FROM)
    with pytest.raises(TwilioRestException, match="status must be 'completed' or 'canceled'"):
        call.update(status="ringing")


def test_delete_is_not_supported(client: Client) -> None:
    call = client.calls.create(to=TO, from_=FROM)
    with pytest.raises(KaphilaNotSupportedError) as raised:
        call.delete()
    assert isinstance(raised.value, TwilioRestException)
    assert raised.value.msg == "Deleting a call record is not supported by Kaphila"


def test_sms_is_not_supported(client: Client) -> None:
    with pytest.raises(TwilioRestException, match="SMS is not supported by Kaphila"):
        client.messages.create(to=TO, from_=FROM, body="hi")
    assert client.messages.list() == []


def test_list_and_stream_filter_the_calls_this_client_knows(
    client: Client, sandbox: SandboxHandle
) -> None:
    busy = client.calls.create(to="+15551230003", from_=FROM)
    first = client.calls.create(to=TO, from_=FROM)
    second = client.calls.create(to=TO, from_=FROM)
    sandbox.wait_status(busy.sid, "busy")
    client.calls(busy.sid).fetch()
    assert [c.sid for c in client.calls.list()] == [second.sid, first.sid, busy.sid]
    assert [c.sid for c in client.calls.list(status="busy")] == [busy.sid]
    assert [c.sid for c in client.calls.list(to=HUMAN, limit=1)] == [second.sid]
    assert [c.sid for c in client.calls.stream(from_=FROM)] == [second.sid, first.sid, busy.sid]
    assert client.calls.list(to="+15550009999") == []
    assert len(client.calls.list(start_time_after=datetime(2000, 1, 1))) == 3
    # Only the busy call has ended (its fetch brought its end time).
    assert [c.sid for c in client.calls.list(end_time_after=datetime(2000, 1, 1))] == [busy.sid]
    assert client.calls.list(start_time_before=datetime(2000, 1, 1)) == []
