"""More of the corpus: Twilio voice apps as Twilio's docs and samples and
independent projects write them (a Django IVR, verb and attribute snippets, two
app servers, status callbacks by GET, the SDK document's WebhookHelper idiom
and a curl-style plain-Kaphila client), run unchanged through the gateway.

Each is judged by what the sandbox says happened on the call: what the callee
heard (spoken and not interrupted), what they pressed, how the call ended; and
by what the apps were asked.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
import requests
from werkzeug.serving import BaseWSGIServer, make_server

from console.gateway import relay, wire
from console.gateway.server import GatewayThread
from console.sandbox import SandboxThread
from tests.gateway import apps_more, django_app
from tests.gateway.apps_more import Log
from tests.gateway.test_twilio_apps import Look
from tests.helpers import CALLER_ID, HUMAN, TEST_KEY
from twilio.rest import Client

SCRIPTED = "15551230007"  # the callee answers every gather with scripted digits
SLOW_ANSWER = "15551230008"  # rings 10 s (0.1 s at the sandbox's pace), then answers
FROM = "+" + CALLER_ID


class AppServer:
    """A WSGI app on a loopback port in a thread (tests/sdk/conftest.py's, with a
    short poll so that stopping it takes milliseconds, not half a second)."""

    def __init__(self, app: Any) -> None:
        self._server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


Serve = Callable[[Any], AppServer]


@pytest.fixture
def serve() -> Iterator[Serve]:
    servers: list[AppServer] = []

    def start(app: Any) -> AppServer:
        servers.append(AppServer(app))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def look(sandbox: SandboxThread) -> Iterator[Look]:
    seen = Look(sandbox)
    yield seen
    seen.session.close()


@pytest.fixture
def client(gateway: GatewayThread, look: Look) -> Iterator[Client]:
    """A Twilio app's client: the only change is the base URL (KAPHILA_BASE_URL)."""
    sdk = Client(
        "AC" + "1" * 32, TEST_KEY, environment={"KAPHILA_BASE_URL": gateway.url}, backoff=0.01
    )
    yield sdk
    sdk.close()
    settle(look)


def settle(look: Look) -> None:
    """Before the gateway stops: Kaphila has delivered every webhook, and the
    gateway's consumers have had a moment to take them (a message arriving just
    as the gateway stops can hang its stop; see the report)."""
    look.wait(lambda: webhooks_pending(look) == 0, "every webhook delivered")
    time.sleep(0.05)


@pytest.fixture
def log() -> Log:
    return Log()


def spoken(look: Look, sid: str) -> list[dict[str, Any]]:
    return list(look.call(sid)["spoken"])


def at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def webhooks_pending(look: Look) -> int:
    health = look.session.get(f"{look.url}/sandbox/health", timeout=5).json()
    return int(health["pendingWebhooks"])


def sandbox_events(look: Look, sid: str) -> list[dict[str, Any]]:
    """The events Kaphila (the sandbox) sent for a call: id and payload."""
    return [e for e in look.call(sid)["timeline"] if e["type"] == "event"]


# ================================================================ Django


@pytest.fixture
def django_server(serve: Serve, monkeypatch: pytest.MonkeyPatch) -> AppServer:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TEST_KEY)  # the auth token is the account's key
    django_app.forget()
    return serve(django_app.wsgi_application())


def test_a_django_ivr_reads_request_post_and_branches_on_the_digits(
    client: Client, look: Look, django_server: AppServer
) -> None:
    call = client.calls.create(to="+" + HUMAN, from_=FROM, url=f"{django_server.url}/ivr/welcome/")
    look.wait(lambda: look.call(call.sid)["gathers"], "the menu")
    look.press(call.sid, "7")  # not an option: "Sorry", and the menu again
    look.wait(lambda: len(look.call(call.sid)["gathers"]) == 2, "the menu, again")
    look.press(call.sid, "2")
    ended = look.ended(call.sid)
    menu = "Thanks for calling Owl Hardware. For store hours, press 1. For your order, press 2."
    assert look.heard(call.sid) == [
        menu,
        "Sorry, that is not an option.",
        menu,
        "Your order has shipped. We will text 3210 when it arrives.",
    ]
    assert ended["endReason"] == "hangup"
    posted = django_app.seen("menu")
    assert [p["Digits"] for p in posted] == ["7", "2"]
    assert all(p["CallSid"] == call.sid and p["From"] == FROM for p in posted)
    assert [p["CallSid"] for p in django_app.seen("welcome")] == [call.sid, call.sid]


def test_the_django_signature_decorator_refuses_forgeries_and_a_wrong_token(
    client: Client,
    look: Look,
    django_server: AppServer,
    monkeypatch: pytest.MonkeyPatch,
    serve: Serve,
    log: Log,
) -> None:
    forged = requests.post(
        f"{django_server.url}/ivr/menu/",
        data={"Digits": "1", "CallSid": "CAforged"},
        headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},
        timeout=5,
    )
    assert forged.status_code == 403
    # The app holds another account's token: the gateway's signed request is refused,
    # and Twilio's rule applies (no fallback: the call ends, the callback says why).
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "not-this-accounts-token")
    status = serve(apps_more.dial_app(log, FROM))
    call = client.calls.create(
        to="+" + SCRIPTED,
        from_=FROM,
        url=f"{django_server.url}/ivr/welcome/",
        status_callback=f"{status.url}/status",
    )
    look.ended(call.sid)
    assert look.heard(call.sid)[:1] == [
        "Thanks for calling Owl Hardware. For store hours, press 1. For your order, press 2."
    ]
    assert django_app.seen("menu") == []  # the view never ran
    look.wait(lambda: len(log.to("/status")) == 1, "the completed callback")
    (completed,) = log.to("/status")
    assert completed.form["ErrorCode"] == "11200"
    assert "403" in completed.form["ErrorMessage"]


# ======================================================== <Say>, <Pause>, <Reject>, <Hangup>


def test_say_voice_and_language_are_spoken_in_kaphilas_nearest_voices(
    client: Client, look: Look, serve: Serve, log: Log
) -> None:
    app = serve(apps_more.say_app(log))
    call = client.calls.create(to="+" + HUMAN, from_=FROM, url=f"{app.url}/voices")
    look.ended(call.sid)
    assert [(s["text"], s["voice"]) for s in spoken(look, call.sid)] == [
        ("Good morning from London.", "en-GB-Neural2-F"),  # alice, en-GB
        ("Hello, this is Joanna.", "en-US-Neural2-F"),  # Polly.Joanna
    ]
    assert look.cut_off(call.sid) == []


def test_say_loop_is_heard_that_many_times(
    client: Client, look: Look, serve: Serve, log: Log
) -> None:
    app = serve(apps_more.say_app(log))
    call = client.calls.create(to="+" + HUMAN, from_=FROM, url=f"{app.url}/loop")
    look.ended(call.sid)
    assert look.heard(call.sid) == ["Please listen carefully."] * 2


def test_a_pause_between_says_keeps_their_order_and_the_call_ends_after_the_last_words(
    client: Client, look: Look, serve: Serve, log: Log
) -> None:
    app = serve(apps_more.say_app(log))
    call = client.calls.create(to="+" + HUMAN, from_=FROM, url=f"{app.url}/pause")
    ended = look.ended(call.sid)
    first, second = spoken(look, call.sid)
    assert (first["text"], second["text"]) == (
        "I will pause one second starting now!",
        "I just paused one second.",
    )
    assert (first["interrupted"], second["interrupted"]) == (False, False)
    # The sandbox's clock runs faster than the gateway's: at least a second of silence.
    assert (at(second["startedAt"]) - at(first["endedAt"])).total_seconds() >= 1
    assert ended["endReason"] == "hangup"
    assert at(ended["endedAt"]) >= at(second["endedAt"])


def test_reject_ends_the_call_without_a_word(
    client: Client, look: Look, serve: Serve, log: Log
) -> None:
    app = serve(apps_more.say_app(log))
    call = client.calls.create(to="+" + HUMAN, from_=FROM, url=f"{app.url}/reject")
    ended = look.ended(call.sid)
    assert spoken(look, call.sid) == []
    assert (ended["status"], ended["endReason"]) == ("completed", "hangup")


def test_hangup_in_the_middle_ends_the_document_there(
    client: Client, look: Look, serve: Serve, log: Log
) -> None:
    app = serve(apps_more.say_app(log))
    call = client.calls.create(to="+" + HUMAN, from_=FROM, url=f"{app.url}/goodbye")
    ended = look.ended(call.sid)
    assert [s["text"] for s in spoken(look, call.sid)] == ["Thank you for calling. Goodbye."]
    assert ended["endReason"] == "hangup"
    assert log.to("/loop") == []  # the <Redirect> after it never ran


def test_the_words_before_a_hangup_are_heard_to_the_end(
    client: Client, look: Look, serve: Serve, log: Log
) -> None:
    app = serve(apps_more.say_app(log))
    call = client.calls.create(to="+" + HUMAN, from_=FROM, url=f"{app.url}/long-goodbye")
    look.ended(call.sid)
    assert look.cut_off(call.sid) == []
    assert len(look.heard(call.sid)) == 1


def test_ssml_inside_say_is_spoken_as_its_words(
    client: Client, look: Look, serve: Serve, log: Log
) -> None:
    app = serve(apps_more.say_app(log))
    call = client.calls.create(to="+" + HUMAN, from_=FROM, url=f"{app.url}/ssml")
    look.ended(call.sid)
    assert [(s["text"], s["voice"]) for s in spoken(look, call.sid)] == [
        ("Your confirmation code is 1234 Thank you.", "en-US-Neural2-F")
    ]
    assert look.cut_off(call.sid) == []


# ================================================================ <Gather>


def test_a_gather_that_times_out_falls_through_to_the_next_verb(
    client: Client, look: Look, serve: Serve, log: Log
) -> None:
    app = serve(apps_more.gather_app(log))
    call = client.calls.create(to="+" + HUMAN, from_=FROM, url=f"{app.url}/timeout")
    ended = look.ended(call.sid)
    assert look.heard(call.sid) == [
        "For sales, press 1. For support, press 2.",
        "We didn't receive any input. Goodbye!",
    ]
    assert [g["outcome"] for g in ended["gathers"]] == ["timeout"]
    assert ended["gathers"][0]["timeout"] == 1000  # timeout="1": seconds, as Twilio's
    assert log.to("/gather") == []  # Twilio does not call the action without input
    assert ended["endReason"] == "hangup"


def test_a_gather_for_dtmf_and_speech_takes_the_digits(
    client: Client, look: Look, serve: Serve, log: Log
) -> None:
    app = serve(apps_more.gather_app(log))
    call = client.calls.create(to="+" + SCRIPTED, from_=FROM, url=f"{app.url}/both")
    look.ended(call.sid)
    assert look.heard(call.sid) == ["Please press 1 or say sales for sales.", "You entered 1."]
    (posted,) = log.to("/gather")
    assert (posted.method, posted.form["Digits"]) == ("POST", "1")


def test_action_on_empty_result_calls_the_action_without_digits(
    client: Client, look: Look, serve: Serve, log: Log
) -> None:
    app = serve(apps_more.gather_app(log))
    call = client.calls.create(to="+" + HUMAN, from_=FROM, url=f"{app.url}/empty")
    look.ended(call.sid)
    assert look.heard(call.sid) == ["Enter your account number.", "No input received."]
    (posted,) = log.to("/gather")
    assert posted.form.get("Digits", "") == ""
    assert posted.form["CallSid"] == call.sid


def test_finish_on_key_ends_the_gather_and_is_posted_as_finished_on_key(
    client: Client, look: Look, serve: Serve, log: Log
) -> None:
    app = serve(apps_more.gather_app(log))
    call = client.calls.create(to="+" + SCRIPTED, from_=FROM, url=f"{app.url}/pin")
    ended = look.ended(call.sid)
    assert ended["digits"] == "1234*"  # what the callee pressed
    (posted,) = log.to("/gather")
    assert (posted.form["Digits"], posted.form["FinishedOnKey"]) == ("1234", "*")
    assert look.heard(call.sid) == ["Enter your PIN, then press star.", "You entered 1234."]


def test_a_gather_with_method_get_sends_its_parameters_in_the_query_string(
    client: Client, look: Look, serve: Serve, log: Log
) -> None:
    app = serve(apps_more.gather_app(log))
    call = client.calls.create(to="+" + SCRIPTED, from_=FROM, url=f"{app.url}/by-get")
    look.ended(call.sid)
    (got,) = log.to("/gather")
    assert got.method == "GET"
    assert got.form == {}
    assert (got.query["Digits"], got.query["CallSid"], got.query["From"]) == (
        "1",
        call.sid,
        FROM,
    )
    assert look.heard(call.sid)[-1] == "You entered 1."


def test_a_redirect_with_method_get_keeps_its_own_query_and_adds_twilios(
    client: Client, look: Look, serve: Serve, log: Log
) -> None:
    app = serve(apps_more.gather_app(log))
    call = client.calls.create(to="+" + HUMAN, from_=FROM, url=f"{app.url}/hold")
    look.ended(call.sid)
    (got,) = log.to("/process_gather")
    assert got.method == "GET"
    assert (got.query["Digits"], got.query["CallSid"]) == ("TIMEOUT", call.sid)
    assert look.heard(call.sid) == ["One moment.", "Processing TIMEOUT."]


def test_a_gather_prompt_with_say_loop_3_is_heard_three_times(
    client: Client, look: Look, serve: Serve, log: Log
) -> None:
    app = serve(apps_more.gather_app(log))
    call = client.calls.create(to="+" + SCRIPTED, from_=FROM, url=f"{app.url}/looped")
    look.ended(call.sid)
    prompt, answer = look.heard(call.sid)
    assert prompt == " ".join(["Press any key to continue."] * 3)
    assert answer == "You entered 1."


# ================================================================ <Dial>, <Redirect>, errors


def test_dial_a_number_with_a_caller_id_forwards_the_call(
    client: Client, look: Look, serve: Serve, log: Log
) -> None:
    app = serve(apps_more.dial_app(log, FROM))
    call = client.calls.create(to="+" + HUMAN, from_=FROM, url=f"{app.url}/agent")
    ended = look.ended(call.sid)
    assert (ended["endReason"], ended["forwardedTo"]) == ("forwarded", "15550009999")
    leg = look.call(ended["forwardedCallId"])
    assert (leg["number"], leg["callerId"], leg["forwardedFrom"]) == (
        "15550009999",
        CALLER_ID,
        call.sid,
    )
    # The agent hangs up (else its leg's webhooks keep coming while the gateway stops).
    look.wait(lambda: look.call(leg["callId"])["status"] == "answered", "the agent to answer")
    hung = look.session.post(f"{look.url}/sandbox/calls/{leg['callId']}/hangup", timeout=5)
    assert hung.status_code == 200, hung.text
    look.ended(leg["callId"])


def test_dial_with_several_numbers_is_refused_and_the_callback_says_why(
    client: Client, look: Look, serve: Serve, log: Log
) -> None:
    app = serve(apps_more.dial_app(log, FROM))
    call = client.calls.create(
        to="+" + HUMAN, from_=FROM, url=f"{app.url}/ring-all", status_callback=f"{app.url}/status"
    )
    ended = look.ended(call.sid)
    assert ended["forwardedTo"] is None  # nobody was rung
    assert spoken(look, call.sid) == []  # the document fails before any of it runs
    look.wait(lambda: len(log.to("/status")) == 1, "the completed callback")
    (completed,) = log.to("/status")
    assert completed.form["CallStatus"] == "completed"
    assert completed.form["ErrorCode"] == "13999"
    assert "<Number>" in completed.form["ErrorMessage"]
    assert "one number" in completed.form["ErrorMessage"]


def test_a_redirect_to_another_app_server_runs_its_documents(
    client: Client, look: Look, serve: Serve, log: Log
) -> None:
    billing = serve(apps_more.billing_app(log))
    front = serve(apps_more.front_desk_app(log, billing.url))
    call = client.calls.create(to="+" + SCRIPTED, from_=FROM, url=f"{front.url}/incoming")
    look.ended(call.sid)
    assert look.heard(call.sid) == [
        "Transferring you to billing.",
        "Billing. To pay your bill, press 1.",
        "Thank you. Your payment is being processed.",
    ]
    (menu,) = log.to("/billing/menu")
    (choice,) = log.to("/billing/choose")  # "choose", relative to the billing server's URL
    assert (menu.form["CallSid"], choice.form["Digits"]) == (call.sid, "1")


def test_an_app_answering_404_without_a_fallback_ends_the_call_with_11200(
    client: Client, look: Look, serve: Serve, log: Log
) -> None:
    app = serve(apps_more.dial_app(log, FROM))
    call = client.calls.create(
        to="+" + HUMAN,
        from_=FROM,
        url=f"{app.url}/no-such-page",
        status_callback=f"{app.url}/status",
    )
    ended = look.ended(call.sid)
    assert spoken(look, call.sid) == []
    assert ended["endReason"] == "hangup"
    look.wait(lambda: len(log.to("/status")) == 1, "the completed callback")
    (completed,) = log.to("/status")
    assert (completed.form["CallStatus"], completed.form["ErrorCode"]) == ("completed", "11200")
    assert "404" in completed.form["ErrorMessage"]


# ================================================================ status callbacks


def test_status_callbacks_by_get_for_all_four_events(
    client: Client, look: Look, serve: Serve, log: Log
) -> None:
    app = serve(apps_more.status_get_app(log, TEST_KEY))
    call = client.calls.create(
        to="+" + SLOW_ANSWER,
        from_=FROM,
        url=f"{app.url}/twiml",
        status_callback=f"{app.url}/events",
        status_callback_method="GET",
        status_callback_event=["initiated", "ringing", "answered", "completed"],
    )
    look.ended(call.sid)
    look.wait(lambda: len(log.to("/events")) == 4, "four status callbacks")
    callbacks = sorted(log.to("/events"), key=lambda s: int(s.query["SequenceNumber"]))
    assert [(s.query["SequenceNumber"], s.query["CallStatus"]) for s in callbacks] == [
        ("0", "initiated"),
        ("1", "ringing"),
        ("2", "in-progress"),
        ("3", "completed"),
    ]
    assert [s.query["StatusCallbackEvent"] for s in callbacks] == [
        "initiated",
        "ringing",
        "answered",
        "completed",
    ]
    assert all(s.method == "GET" and s.form == {} for s in callbacks)
    assert all((s.query["From"], s.query["To"]) == (FROM, "+" + SLOW_ANSWER) for s in callbacks)
    # initiated/ringing may go out before the gateway knows the call's id (see
    # test_a_status_callback_sent_before_the_call_id_is_stored_still_names_the_call).
    assert [s.query["CallSid"] for s in callbacks[2:]] == [call.sid, call.sid]
    assert callbacks[-1].query["CallDuration"].isdigit()
    assert look.heard(call.sid) == ["Thanks for calling."]


def test_a_status_callback_sent_before_the_call_id_is_stored_still_names_the_call() -> None:
    # What Relay.deliver() holds when it wins that race (seen in about one run in four
    # of test_status_callbacks_by_get_for_all_four_events): no call id stored yet.
    reg = wire.Registration(
        token="t",
        account="a",
        key="sealed",
        created_at=0.0,
        twilio=wire.TwilioIntent(
            status_callback="http://127.0.0.1:9/events", status_callback_events=["initiated"]
        ),
        to=SLOW_ANSWER,
        from_=CALLER_ID,
    )
    payload = {
        "callId": "1796212121.1",
        "event": "call.initiated",
        "status": "ringing",
        "timestamp": "2026-12-02T11:48:31.000Z",
        "number": SLOW_ANSWER,
        "callerId": CALLER_ID,
    }
    params = relay.status_params(reg, payload, "initiated")
    assert params["CallSid"] == "1796212121.1"


def test_status_callbacks_by_get_pass_the_apps_signature_check(
    client: Client, look: Look, serve: Serve, log: Log
) -> None:
    app = serve(apps_more.status_get_app(log, TEST_KEY))
    call = client.calls.create(
        to="+" + HUMAN,
        from_=FROM,
        url=f"{app.url}/twiml",
        status_callback=f"{app.url}/events",
        status_callback_method="GET",
    )
    look.ended(call.sid)
    look.wait(lambda: len(log.to("/events")) == 1, "the completed callback")
    (completed,) = log.to("/events")
    assert completed.query["CallStatus"] == "completed"
    assert completed.signed


# ================================================================ plain Kaphila JSON events


def relayed(log: Log, path: str) -> list[Any]:
    return [s.json for s in log.to(path)]


def same_events(got: list[Any], sent: list[dict[str, Any]]) -> bool:
    """The same payloads, each once at least, in any order (the relay is concurrent)."""

    def key(payload: Any) -> str:
        return json.dumps(payload, sort_keys=True)

    return {key(p) for p in got} == {key(e["payload"]) for e in sent}


def test_webhook_url_gets_kaphilas_json_events_and_a_webhookhelper_app_drives_the_call(
    client: Client, look: Look, serve: Serve, log: Log
) -> None:
    app = serve(apps_more.webhook_helper_app(log, client, "Hello from a plain Kaphila app."))
    call = client.calls.create(to="+" + HUMAN, from_=FROM, webhook_url=f"{app.url}/events")
    ended = look.ended(call.sid)
    # Rendered on call.answered, run by the SDK on this side of the gateway.
    assert [s["text"] for s in spoken(look, call.sid)] == ["Hello from a plain Kaphila app."]
    assert (ended["endReason"], ended["hangupBy"]) == ("hangup", "caller")
    sent = sandbox_events(look, call.sid)
    look.wait(lambda: same_events(relayed(log, "/events"), sent), "every event, relayed")
    assert {e["payload"]["event"] for e in sent} >= {
        "call.initiated",
        "call.answered",
        "call.ended",
    }
    assert all(s.headers["Content-Type"] == "application/json" for s in log.to("/events"))


def test_a_webhookhelper_apps_words_before_its_hangup_are_heard_to_the_end(
    client: Client, look: Look, serve: Serve, log: Log
) -> None:
    app = serve(apps_more.webhook_helper_app(log, client, apps_more.LONG_GOODBYE))
    call = client.calls.create(to="+" + HUMAN, from_=FROM, webhook_url=f"{app.url}/events")
    look.ended(call.sid)
    assert look.cut_off(call.sid) == []
    assert look.heard(call.sid) == [apps_more.LONG_GOODBYE]


def test_relayed_events_carry_kaphilas_event_id(
    client: Client, look: Look, serve: Serve, log: Log
) -> None:
    app = serve(apps_more.json_receiver_app(log))
    call = client.calls.create(
        to="+" + HUMAN,
        from_=FROM,
        webhook_url=f"{app.url}/kaphila-events",
        twiml="<Response><Say>Hi.</Say><Hangup/></Response>",
    )
    look.ended(call.sid)
    sent = sandbox_events(look, call.sid)
    look.wait(lambda: same_events(relayed(log, "/kaphila-events"), sent), "every event")
    ids = {e["eventId"]: e["payload"] for e in sent}
    for got in log.to("/kaphila-events"):
        event_id = got.headers.get("X-Kaphila-Event-Id")
        assert event_id in ids, f"{got.json['event']} relayed with X-Kaphila-Event-Id {event_id!r}"
        assert ids[event_id] == got.json


def test_a_curl_style_plain_kaphila_client_gets_the_json_kaphila_would_post(
    gateway: GatewayThread, look: Look, serve: Serve, log: Log
) -> None:
    app = serve(apps_more.json_receiver_app(log))
    headers = {"Authorization": f"Bearer {TEST_KEY}"}
    placed = requests.post(
        f"{gateway.url}/makecall",
        json={"number": HUMAN, "callerId": CALLER_ID, "webhookUrl": f"{app.url}/kaphila-events"},
        headers=headers,
        timeout=5,
    )
    assert placed.status_code == 200, placed.text
    call_id = placed.json()["callId"]

    def answered() -> bool:
        return any(j["event"] == "call.answered" for j in relayed(log, "/kaphila-events"))

    look.wait(answered, "call.answered, relayed")
    spoke = requests.post(
        f"{gateway.url}/voice",
        json={"callId": call_id, "text": "Hello from curl."},
        headers=headers,
        timeout=5,
    )
    assert spoke.status_code == 200, spoke.text
    hung = requests.post(
        f"{gateway.url}/hangup", json={"callId": call_id}, headers=headers, timeout=5
    )
    assert hung.status_code == 200, hung.text
    ended = look.ended(call_id)
    assert ended["webhookUrl"] != f"{app.url}/kaphila-events"  # Kaphila posts to the gateway
    sent = sandbox_events(look, call_id)
    look.wait(lambda: same_events(relayed(log, "/kaphila-events"), sent), "every event")
    assert sent[0]["payload"]["event"] == "call.initiated"
    assert sent[-1]["payload"]["event"] == "call.ended"
    settle(look)
