"""The SDK document's examples, unchanged, driven by real sandbox webhooks.

Each Flask app from the document runs on a loopback port; the sandbox calls
it with Kaphila's JSON webhooks; the test acts as the person on the phone
through the sandbox's control API and reads the sandbox's record of the call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.helpers import TEST_KEY
from tests.sdk import doc_examples
from tests.sdk.conftest import AppServer, SandboxHandle
from twilio.base.exceptions import KaphilaCompatibilityWarning
from twilio.rest import Client

FROM = "+19876543210"


@pytest.fixture
def doc_client(sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "ACdocs")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TEST_KEY)
    monkeypatch.setenv("KAPHILA_BASE_URL", sandbox.url)
    client = doc_examples.make_client()
    yield client
    client.close()


def spoken(sandbox: SandboxHandle, sid: str) -> list[str]:
    return [s["text"] for s in sandbox.call(sid)["spoken"]]


def wait_spoken(sandbox: SandboxHandle, sid: str, count: int) -> list[str]:
    sandbox.wait(lambda: len(spoken(sandbox, sid)) >= count, what=f"{count} texts spoken")
    return spoken(sandbox, sid)


def test_quick_start(doc_client: Client, sandbox: SandboxHandle) -> None:
    call = doc_client.calls.create(to="+15551230000", from_=FROM, url="http://127.0.0.1:9/webhook")
    assert sandbox.call(call.sid)["number"] == "15551230000"


def test_basic_ivr_pressing_1_reaches_sales(
    doc_client: Client, sandbox: SandboxHandle, serve: Callable[[Any], AppServer]
) -> None:
    app = serve(doc_examples.basic_ivr_app())
    # 0007: the callee answers every gather with scripted digits ("1" for one digit).
    call = doc_client.calls.create(to="+15551230007", from_=FROM, url=app.url + "/voice")
    texts = wait_spoken(sandbox, call.sid, 3)
    assert texts[:3] == [
        "Welcome to Acme Company",
        "For sales, press 1 For support, press 2 For operator, press 0",
        "Sales department",
    ]
    record = sandbox.call(call.sid)
    first = record["gathers"][0]
    assert (first["numDigits"], first["timeout"], first["digits"]) == (1, 8000, "1")
    # "Connecting to operator" follows the Gather: it runs only if nobody presses.
    assert "Connecting to operator" not in texts


def test_basic_ivr_pressing_2_reaches_support(
    serve: Callable[[Any], AppServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The test presses a key inside the menu's 8 s window: run 10x, not 100x, so
    # that window is 0.8 s of real time even on a loaded machine.
    from tests.sandbox.conftest import make_config
    from tests.sdk.conftest import start_sandbox

    thread = start_sandbox(make_config(time_scale=10.0))
    sandbox = SandboxHandle(thread)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TEST_KEY)
    monkeypatch.setenv("KAPHILA_BASE_URL", sandbox.url)
    doc_client = doc_examples.make_client()
    try:
        app = serve(doc_examples.basic_ivr_app())
        call = doc_client.calls.create(to="+15551230000", from_=FROM, url=app.url + "/voice")
        sandbox.wait(lambda: bool(sandbox.call(call.sid)["gathers"]), what="the menu gather")
        sandbox.press(call.sid, "2")
        texts = wait_spoken(sandbox, call.sid, 4)
        assert texts[2:] == ["Technical support", "Please hold while we connect you"]
    finally:
        doc_client.close()
        thread.stop()


def test_basic_ivr_silence_falls_through_to_the_operator(
    doc_client: Client, sandbox: SandboxHandle, serve: Callable[[Any], AppServer]
) -> None:
    app = serve(doc_examples.basic_ivr_app())
    call = doc_client.calls.create(to="+15551230000", from_=FROM, url=app.url + "/voice")
    texts = wait_spoken(sandbox, call.sid, 3)
    assert texts[2] == "Connecting to operator"
    assert sandbox.call(call.sid)["gathers"][0]["outcome"] == "timeout"


def test_voicemail_record_is_refused_before_anything_is_sent(
    doc_client: Client, sandbox: SandboxHandle, serve: Callable[[Any], AppServer]
) -> None:
    app = serve(doc_examples.voicemail_app())
    call = doc_client.calls.create(to="+15551230000", from_=FROM, url=app.url + "/voicemail")
    sandbox.wait_status(call.sid, "answered")
    runner = doc_client.twiml_runner
    sandbox.wait(lambda: bool(runner.errors), what="the TwiML to be refused")
    assert runner.errors[0] == (
        call.sid,
        "TwiML rendered for call.answered: <Record> is not supported by Kaphila",
    )
    assert spoken(sandbox, call.sid) == []


def test_voicemail_done_reads_the_recording_from_the_webhook(
    doc_client: Client, sandbox: SandboxHandle, serve: Callable[[Any], AppServer]
) -> None:
    app = serve(doc_examples.voicemail_app())
    call = doc_client.calls.create(
        to="+15551230006", from_=FROM, record=True, url=app.url + "/voicemail-done"
    )
    sandbox.wait(
        lambda: any(
            e["type"] == "delivery" and e["event"] == "recording.completed" and e["result"] == 200
            for e in sandbox.call(call.sid)["timeline"]
        ),
        what="recording.completed to be answered 200 by the app",
    )
    recording = doc_client.recordings.list(call_sid=call.sid)[0]
    assert recording.media_url.endswith(".wav")


@pytest.mark.parametrize(
    ("number", "not_sure_as", "expected"),
    [
        ("+15551230001", "human", ["Hi, please call us back during business hours."]),
        (
            "+15551230000",
            "human",
            ["Hello! Thanks for picking up.", "Press 1 for sales, 2 for support"],
        ),
        ("+15551230002", "unknown", ["Hello? If you can hear this, press any key."]),
    ],
)
def test_amd_handling_follows_answered_by(
    doc_client: Client,
    sandbox: SandboxHandle,
    serve: Callable[[Any], AppServer],
    number: str,
    not_sure_as: str,
    expected: list[str],
) -> None:
    doc_client.amd_not_sure_as = not_sure_as
    app = serve(doc_examples.amd_app())
    call = doc_client.calls.create(
        to=number, from_=FROM, url=app.url + "/webhook", machine_detection="enable"
    )
    assert wait_spoken(sandbox, call.sid, len(expected)) == expected
    if number.endswith("0001"):
        assert sandbox.wait_status(call.sid, "completed")["hangupBy"] == "caller"
    else:
        # The gather starts once the prompt has been spoken: wait for it, as a
        # busy host may not have got there when the speech is recorded.
        sandbox.wait(lambda: len(sandbox.call(call.sid)["gathers"]) >= 1, what="the gather")
        assert len(sandbox.call(call.sid)["gathers"]) == 1


def test_single_digit_menu_answers_each_key(
    doc_client: Client, sandbox: SandboxHandle, serve: Callable[[Any], AppServer]
) -> None:
    app = serve(doc_examples.single_digit_app())
    call = doc_client.calls.create(to="+15551230000", from_=FROM, url=app.url + "/single-digit")
    assert wait_spoken(sandbox, call.sid, 1) == ["You pressed"]  # on answer: no digit yet
    sandbox.press(call.sid, "1")
    assert wait_spoken(sandbox, call.sid, 2)[1] == "Sales department - please hold"
    sandbox.press(call.sid, "#")
    record = sandbox.wait_status(call.sid, "completed")
    assert [s["text"] for s in record["spoken"]][2] == "Goodbye!"
    assert record["hangupBy"] == "caller"


def test_a_duplicated_webhook_runs_its_twiml_once(
    doc_client: Client, sandbox: SandboxHandle, serve: Callable[[Any], AppServer]
) -> None:
    sandbox.faults(duplicate=1.0)
    app = serve(doc_examples.amd_app())
    call = doc_client.calls.create(
        to="+15551230001", from_=FROM, url=app.url + "/webhook", machine_detection="enable"
    )
    sandbox.wait_status(call.sid, "completed")
    doc_client.twiml_runner.wait_idle()
    assert spoken(sandbox, call.sid) == ["Hi, please call us back during business hours."]


def test_bulk_campaign_runs_unchanged(
    doc_client: Client,
    sandbox: SandboxHandle,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The document's campaign dials from +15559876543: make that a verified caller ID.
    from console.sandbox import Account, SandboxThread
    from tests.sandbox.conftest import make_config

    with SandboxThread(make_config(accounts=[Account(TEST_KEY, ("15559876543",), 3, "c")])) as sb:
        monkeypatch.setenv("KAPHILA_BASE_URL", sb.url)
        doc_examples.make_client()
        pauses: list[float] = []
        monkeypatch.setattr(doc_examples.time, "sleep", pauses.append)
        with pytest.warns(KaphilaCompatibilityWarning):
            successful, failed = doc_examples.bulk_call_campaign()
        # The campaign's url= is the document's placeholder host: the SDK's in-process
        # workers would fetch it once a call is answered. Stop them first.
        doc_examples.client.close()
    assert [c["number"] for c in successful] == ["+15551234567", "+15551234568", "+15551234569"]
    assert all(c["status"] == "ringing" for c in successful)
    # Three credits: the fourth call is refused with Twilio's code for "no credits".
    assert failed == [{"number": "+15551234570", "error": failed[0]["error"], "code": 20429}]
    assert pauses == [3, 3, 3]
    assert "Successful: 3" in capsys.readouterr().out


def test_exception_handling_example(doc_client: Client, capsys: pytest.CaptureFixture[str]) -> None:
    doc_examples.exception_handling_example()
    out = capsys.readouterr().out
    assert "Error Code: 21211" in out
    assert "Status Code: 400" in out


@pytest.mark.parametrize(
    "fault",
    [
        {"reorder": {"rate": 1, "count": 1}, "delay_ms": 2000},  # answered overtakes initiated
        {"drop": {"rate": 1, "count": 1}},  # initiated never arrives
        {"delay": {"rate": 1, "count": 1}, "delay_ms": 300},  # initiated arrives late
    ],
)
def test_webhook_faults_do_not_change_what_the_call_does(
    doc_client: Client,
    sandbox: SandboxHandle,
    serve: Callable[[Any], AppServer],
    fault: dict[str, Any],
) -> None:
    sandbox.faults(**fault)
    app = serve(doc_examples.amd_app())
    call = doc_client.calls.create(
        to="+15551230001", from_=FROM, url=app.url + "/webhook", machine_detection="enable"
    )
    sandbox.wait_status(call.sid, "completed")
    doc_client.twiml_runner.wait_idle()
    assert spoken(sandbox, call.sid) == ["Hi, please call us back during business hours."]
    sandbox.wait(
        lambda: doc_client.calls(call.sid).status == "completed",
        what="the client to see the call end",
    )
    assert doc_client.calls(call.sid).answered_by == "machine"
