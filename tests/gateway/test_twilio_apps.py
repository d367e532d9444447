"""The corpus: Twilio-style apps and scripts, unchanged, through the gateway.

Each is judged by what the sandbox says happened on the call: what the callee
heard (spoken and not interrupted), what they pressed, how the call ended.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from console.gateway.server import GatewayThread
from console.sandbox import SandboxThread
from tests.gateway.apps import (
    Recorder,
    amd_app,
    ivr_app,
    menu_without_action_app,
    signed_app,
    status_app,
)
from tests.gateway.conftest import StartGateway
from tests.helpers import CALLER_ID, HUMAN, TEST_KEY
from tests.sdk.conftest import AppServer
from twilio.base.exceptions import KaphilaNotSupportedError
from twilio.rest import Client

SCRIPTED = "15551230007"  # the callee answers every gather with scripted digits
MACHINE = "15551230001"  # an answering machine
FROM = "+" + CALLER_ID


class Look:
    """What the sandbox knows about calls (its /sandbox/ control API)."""

    def __init__(self, sandbox: SandboxThread) -> None:
        self.url = sandbox.url
        self.session = requests.Session()

    def call(self, sid: str) -> dict[str, Any]:
        response = self.session.get(f"{self.url}/sandbox/calls/{sid}", timeout=5)
        assert response.status_code == 200, response.text
        return dict(response.json()["call"])

    def heard(self, sid: str) -> list[str]:
        return [s["text"] for s in self.call(sid)["spoken"] if not s["interrupted"]]

    def cut_off(self, sid: str) -> list[str]:
        return [s["text"] for s in self.call(sid)["spoken"] if s["interrupted"]]

    def press(self, sid: str, digits: str) -> None:
        response = self.session.post(
            f"{self.url}/sandbox/calls/{sid}/press", json={"digits": digits}, timeout=5
        )
        assert response.status_code == 200, response.text

    def wait(self, predicate: Callable[[], bool], what: str, within: float = 10.0) -> None:
        deadline = time.monotonic() + within
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.02)

    def ended(self, sid: str, within: float = 10.0) -> dict[str, Any]:
        self.wait(
            lambda: self.call(sid)["status"] not in ("ringing", "answered"), "the end", within
        )
        return self.call(sid)


@pytest.fixture
def look(sandbox: SandboxThread) -> Iterator[Look]:
    seen = Look(sandbox)
    yield seen
    seen.session.close()


@pytest.fixture
def client(gateway: GatewayThread) -> Iterator[Client]:
    """A Twilio app's client: the only change is the base URL (KAPHILA_BASE_URL)."""
    sdk = Client(
        "AC" + "1" * 32, TEST_KEY, environment={"KAPHILA_BASE_URL": gateway.url}, backoff=0.01
    )
    yield sdk
    sdk.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Any], AppServer]]:
    servers: list[AppServer] = []

    def start(app: Any) -> AppServer:
        servers.append(AppServer(app))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


# ---------------------------------------------------------------- fire and forget


def test_a_script_with_inline_twiml_is_heard_and_the_call_hangs_up_after_it(
    client: Client, look: Look
) -> None:
    call = client.calls.create(
        to="+" + HUMAN,
        from_=FROM,
        twiml="<Response><Say>Your appointment is tomorrow at nine.</Say></Response>",
    )
    ended = look.ended(call.sid)
    assert look.heard(call.sid) == ["Your appointment is tomorrow at nine."]
    assert ended["endReason"] == "hangup"  # the document ended: hung up, after the words


def test_a_script_with_a_static_url_is_heard(
    client: Client, look: Look, serve: Callable[[Any], AppServer]
) -> None:
    recorder = Recorder()
    app = serve(status_app(recorder))
    call = client.calls.create(
        to="+" + HUMAN, from_=FROM, url=f"{app.url}/static.xml", method="GET"
    )
    look.ended(call.sid)
    assert look.heard(call.sid) == ["This is a static document."]
    (params,) = recorder.to("/static.xml")
    assert params["CallSid"] == call.sid
    assert params["CallStatus"] == "in-progress"
    assert params["To"] == "+" + HUMAN


def test_an_unsupported_verb_in_inline_twiml_fails_before_anything_is_sent(
    client: Client, look: Look
) -> None:
    with pytest.raises(KaphilaNotSupportedError, match="<Play>"):
        client.calls.create(
            to="+" + HUMAN, from_=FROM, twiml="<Response><Play>https://x/a.mp3</Play></Response>"
        )
    assert look.session.get(f"{look.url}/sandbox/calls", timeout=5).json()["calls"] == []


# ---------------------------------------------------------------- IVR trees


def test_the_gather_quickstart_ivr_with_relative_actions(
    client: Client, look: Look, serve: Callable[[Any], AppServer]
) -> None:
    recorder = Recorder()
    app = serve(ivr_app(recorder))
    call = client.calls.create(to="+" + HUMAN, from_=FROM, url=f"{app.url}/voice")
    look.wait(lambda: look.call(call.sid)["gathers"], "the menu")
    look.press(call.sid, "7")  # not a choice: "Sorry", then the menu again
    look.wait(lambda: len(look.call(call.sid)["gathers"]) == 2, "the menu, again")
    look.press(call.sid, "2")
    look.ended(call.sid)
    menu = "For sales, press 1. For support, press 2."
    assert look.heard(call.sid) == [
        menu,
        "Sorry, I don't understand that choice.",
        menu,
        "You need support. We will help!",
    ]
    assert [r["Digits"] for r in recorder.to("/gather")] == ["7", "2"]
    assert all(r["CallSid"] == call.sid for r in recorder.to("/gather"))


def test_a_gather_without_action_posts_back_to_the_document(
    client: Client, look: Look, serve: Callable[[Any], AppServer]
) -> None:
    recorder = Recorder()
    app = serve(menu_without_action_app(recorder))
    call = client.calls.create(to="+" + SCRIPTED, from_=FROM, url=f"{app.url}/menu")
    look.ended(call.sid)
    prompt = "Enter your four digit code."
    assert look.heard(call.sid) == [f"{prompt} {prompt}", "You pressed 1234. Goodbye."]
    assert [r.get("Digits") for r in recorder.to("/menu")] == [None, "1234"]


# ---------------------------------------------------------------- signatures, AMD


def test_a_signature_validating_app_accepts_the_gateways_requests(
    client: Client, look: Look, serve: Callable[[Any], AppServer]
) -> None:
    recorder = Recorder()
    app = serve(signed_app(recorder, TEST_KEY))  # the auth token is the account's key
    call = client.calls.create(to="+" + HUMAN, from_=FROM, url=f"{app.url}/answer")
    look.ended(call.sid)
    assert look.heard(call.sid) == ["Hello caller from 0000."]
    unsigned = requests.post(f"{app.url}/answer", data={"To": "+1"}, timeout=5)
    assert unsigned.status_code == 403


def test_amd_branching_on_answered_by(
    client: Client, look: Look, serve: Callable[[Any], AppServer]
) -> None:
    recorder = Recorder()
    app = serve(amd_app(recorder))
    human = client.calls.create(
        to="+" + HUMAN, from_=FROM, url=f"{app.url}/amd", machine_detection="Enable"
    )
    machine = client.calls.create(
        to="+" + MACHINE, from_=FROM, url=f"{app.url}/amd", machine_detection="true"
    )
    look.ended(human.sid)
    look.ended(machine.sid)
    assert look.heard(human.sid) == ["Hi! This is a live call."]
    assert look.heard(machine.sid) == ["Sorry we missed you. Please call us back."]


# ---------------------------------------------------------------- callbacks, errors


def test_status_callbacks_are_twilio_form_posts_for_the_events_asked_for(
    client: Client, look: Look, serve: Callable[[Any], AppServer]
) -> None:
    recorder = Recorder()
    app = serve(status_app(recorder))
    call = client.calls.create(
        to="+" + HUMAN,
        from_=FROM,
        url=f"{app.url}/twiml",
        status_callback=f"{app.url}/status",
        status_callback_event=["initiated", "answered", "completed"],
    )
    look.ended(call.sid)
    look.wait(lambda: len(recorder.to("/status")) == 3, "three status callbacks")
    callbacks = sorted(recorder.to("/status"), key=lambda r: int(r["SequenceNumber"]))
    assert [(r["CallStatus"], r["SequenceNumber"]) for r in callbacks] == [
        ("initiated", "0"),
        ("in-progress", "1"),
        ("completed", "2"),
    ]
    assert callbacks[-1]["CallDuration"].isdigit()
    assert all(r["CallSid"] == call.sid for r in callbacks)


def test_an_http_redirect_from_the_app_is_followed(
    client: Client, look: Look, serve: Callable[[Any], AppServer]
) -> None:
    recorder = Recorder()
    app = serve(status_app(recorder))
    call = client.calls.create(to="+" + HUMAN, from_=FROM, url=f"{app.url}/moved")
    look.ended(call.sid)
    assert look.heard(call.sid) == ["Short."]
    assert recorder.to("/twiml")[0]["CallSid"] == call.sid


def test_the_fallback_url_answers_when_the_url_fails(
    client: Client, look: Look, serve: Callable[[Any], AppServer]
) -> None:
    recorder = Recorder()
    app = serve(status_app(recorder))
    call = client.calls.create(
        to="+" + HUMAN, from_=FROM, url=f"{app.url}/broken", fallback_url=f"{app.url}/fallback"
    )
    look.ended(call.sid)
    assert look.heard(call.sid) == ["This is the fallback."]
    (fallback,) = recorder.to("/fallback")
    assert fallback["ErrorCode"] == "11200"


def test_a_verb_kaphila_cannot_do_ends_the_call_and_the_callback_says_so(
    client: Client, look: Look, serve: Callable[[Any], AppServer]
) -> None:
    recorder = Recorder()
    app = serve(status_app(recorder))
    call = client.calls.create(
        to="+" + HUMAN, from_=FROM, url=f"{app.url}/play", status_callback=f"{app.url}/status"
    )
    look.ended(call.sid)
    assert look.heard(call.sid) == []  # the document fails before any of it runs
    look.wait(lambda: len(recorder.to("/status")) == 1, "the completed callback")
    (completed,) = recorder.to("/status")
    assert completed["CallStatus"] == "completed"
    assert "<Play>" in completed["ErrorMessage"]


def test_dial_forwards_and_nothing_after_it_runs(
    client: Client, look: Look, serve: Callable[[Any], AppServer]
) -> None:
    recorder = Recorder()
    app = serve(status_app(recorder))
    call = client.calls.create(to="+" + HUMAN, from_=FROM, url=f"{app.url}/forward")
    ended = look.ended(call.sid)
    assert ended["forwardedTo"] == "15550009999"
    assert look.heard(call.sid) == ["Connecting you."] or look.cut_off(call.sid) == [
        "Connecting you."
    ]
    assert "never heard" not in look.heard(call.sid)


def test_update_with_twiml_replaces_the_running_document(
    client: Client, look: Look, serve: Callable[[Any], AppServer]
) -> None:
    recorder = Recorder()
    app = serve(ivr_app(recorder))
    call = client.calls.create(to="+" + HUMAN, from_=FROM, url=f"{app.url}/voice")
    look.wait(lambda: look.call(call.sid)["gathers"], "the menu")
    client.calls(call.sid).update(twiml="<Response><Say>An urgent message.</Say></Response>")
    look.ended(call.sid)
    assert look.heard(call.sid)[-1] == "An urgent message."


def test_calls_list_through_the_gateway_lists_the_accounts_calls(
    client: Client, gateway: GatewayThread, look: Look
) -> None:
    other = Client("AC" + "2" * 32, TEST_KEY, base_url=gateway.url, environment={})
    placed = other.calls.create(
        to="+" + HUMAN, from_=FROM, twiml="<Response><Say>hi</Say></Response>"
    )
    look.ended(placed.sid)
    listed = {c.sid: c for c in client.calls.list()}
    assert placed.sid in listed
    look.wait(lambda: client.calls.list()[0].status == "completed", "the listing to say completed")
    other.close()


def test_two_gateways_share_the_work(
    start_gateway: StartGateway,
    look: Look,
    serve: Callable[[Any], AppServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Gateways of one center share one secret (else one cannot open what another sealed).
    monkeypatch.setenv("KAPHILA_GATEWAY_SECRET", base64.urlsafe_b64encode(b"s" * 32).decode())
    first, second = start_gateway(), start_gateway()
    recorder = Recorder()
    app = serve(ivr_app(recorder))
    sids = []
    for index in range(6):
        gw = (first, second)[index % 2]
        sdk = Client("AC" + "3" * 32, TEST_KEY, base_url=gw.url, environment={})
        sids.append(sdk.calls.create(to="+" + SCRIPTED, from_=FROM, url=f"{app.url}/voice").sid)
        sdk.close()
    for sid in sids:
        look.ended(sid)
        assert look.heard(sid) == [
            "For sales, press 1. For support, press 2.",
            "You selected sales. Good for you!",
        ]
