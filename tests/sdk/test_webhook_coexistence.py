"""The SDK's in-process interpreter next to the WebhookHelper idiom: the same URL is
the call's ``url`` and Kaphila's webhook, the app's handler may share the script's
Client or have its own, and still every document runs once, relative URLs resolve,
and a webhook whose handling failed is handled when Kaphila delivers it again."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.helpers import CALLER_ID, HUMAN, TEST_KEY
from tests.sandbox.conftest import make_config
from tests.sdk.apps import heard_to_the_end, said, twiml, webhook_app
from tests.sdk.conftest import AppServer, SandboxHandle, start_sandbox
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

TO, FROM = "+" + HUMAN, "+" + CALLER_ID
SCRIPTED = "+15551230007"  # the callee answers every gather with 1, 2, 3 ...
SLOW = "+15551230008"  # rings 10 simulated seconds before a person answers
Serve = Callable[[Any], AppServer]


@pytest.fixture(autouse=True)
def no_worker_is_left_running() -> Iterator[None]:
    before = set(threading.enumerate())
    yield  # after the clients have been closed
    left = [
        t.name
        for t in set(threading.enumerate()) - before
        if t.name.startswith("kaphila-twiml-") and t.is_alive()
    ]
    assert left == []


@pytest.fixture
def app_client(sandbox: SandboxHandle) -> Iterator[Client]:
    """The web app's own Client: another process's, as far as the SDK can tell."""
    sdk = Client("AC" + "2" * 32, TEST_KEY, base_url=sandbox.url, environment={}, backoff=0.01)
    sdk.twiml_runner.key_wait_seconds = 0.2  # the quiet time before the hang-up, shortened
    yield sdk
    sdk.close()


def greeting(form: dict[str, str]) -> str:
    # Rendered for every event, as such handlers are: only call.answered's runs.
    response = VoiceResponse()
    response.say("Welcome to Acme")
    return str(response)


@pytest.mark.parametrize(
    ("handler_client", "duplicates"),
    [("the script's", False), ("its own", False), ("the script's", True), ("its own", True)],
)
def test_no_document_ever_runs_twice_for_one_event(
    client: Client,
    app_client: Client,
    sandbox: SandboxHandle,
    serve: Serve,
    handler_client: str,
    duplicates: bool,
) -> None:
    handler = client if handler_client == "the script's" else app_client
    client.twiml_runner.key_wait_seconds = 0.2
    if duplicates:
        sandbox.faults(duplicate=1.0)  # every webhook delivered twice
    server = serve(webhook_app(handler, {"/voice": greeting}))
    # The script's url is the handler: the SDK's worker fetches it Twilio-style
    # (answered 415) while Kaphila posts it the call's JSON events.
    sid = client.calls.create(to=TO, from_=FROM, url=server.url + "/voice").sid
    call = sandbox.wait_status(sid, "completed")
    assert said(call) == ["Welcome to Acme"]
    assert heard_to_the_end(call)
    assert call["endReason"] == "hangup"  # the document's end, a moment later


def test_inline_twiml_with_a_handler_in_the_same_client_runs_only_the_twiml(
    client: Client, sandbox: SandboxHandle, serve: Serve
) -> None:
    server = serve(webhook_app(client, {"/events": greeting}))
    sid = client.calls.create(
        to=TO, from_=FROM, url=server.url + "/events", twiml=twiml("<Say>Inline wins</Say>")
    ).sid
    call = sandbox.wait_status(sid, "completed")
    assert said(call) == ["Inline wins"]  # twiml= takes precedence over url=, as on Twilio


def test_a_relative_gather_action_works_when_another_client_placed_the_call(
    client: Client, app_client: Client, sandbox: SandboxHandle, serve: Serve
) -> None:
    def menu(form: dict[str, str]) -> str:
        response = VoiceResponse()
        response.gather(num_digits=1, action="/choice").say("Press one for sales")
        return str(response)

    def choice(form: dict[str, str]) -> str:
        response = VoiceResponse()
        response.say(f"You chose {form.get('Digits', 'nothing')}")
        return str(response)

    server = serve(webhook_app(app_client, {"/menu": menu, "/choice": choice}))
    sid = client.calls.create(to=SCRIPTED, from_=FROM, url=server.url + "/menu").sid
    call = sandbox.wait_status(sid, "completed")
    assert said(call) == ["Press one for sales", "You chose 1"]


def test_a_relative_redirect_works_when_another_client_placed_the_call(
    client: Client, app_client: Client, sandbox: SandboxHandle, serve: Serve
) -> None:
    def first(form: dict[str, str]) -> str:
        response = VoiceResponse()
        response.say("One")
        response.redirect("/second")
        return str(response)

    def second(form: dict[str, str]) -> str:
        response = VoiceResponse()
        response.say("Two")
        return str(response)

    server = serve(webhook_app(app_client, {"/first": first, "/second": second}))
    sid = client.calls.create(to=TO, from_=FROM, url=server.url + "/first").sid
    call = sandbox.wait_status(sid, "completed")
    assert said(call) == ["One", "Two"]


def test_a_webhook_whose_handling_failed_is_handled_when_kaphila_delivers_it_again(
    serve: Serve,
) -> None:
    def first(form: dict[str, str]) -> str:
        response = VoiceResponse()
        response.say("One")
        response.redirect("/second")  # relative: the call's webhook URL is needed
        return str(response)

    def second(form: dict[str, str]) -> str:
        return twiml("<Say>Two</Say>")

    # 10x, not 100x: the slow answer (10 simulated seconds) leaves the test a full
    # second to set the fault up before call.answered is sent.
    thread = start_sandbox(make_config(time_scale=10.0))
    sandbox = SandboxHandle(thread)
    script = Client("AC" + "1" * 32, TEST_KEY, base_url=sandbox.url, environment={})
    app_client = Client("AC" + "2" * 32, TEST_KEY, base_url=sandbox.url, environment={})
    app_client.twiml_runner.key_wait_seconds = 0.2
    try:
        server = serve(webhook_app(app_client, {"/first": first, "/second": second}))
        # webhook_url= (Kaphila-native): only the app's handler takes part.
        sid = script.calls.create(to=SLOW, from_=FROM, webhook_url=server.url + "/first").sid
        # The app's client does not know the call's webhook URL and cannot ask now
        # (every try answers 500), so handling call.answered fails once.
        sandbox.faults(error={"rate": 1, "count": 3})
        call = sandbox.wait_status(sid, "completed")
    finally:
        app_client.close()
        script.close()
        thread.stop()
    assert said(call) == ["One", "Two"]
    answered = [
        e["result"]
        for e in call["timeline"]
        if e["type"] == "delivery" and e["event"] == "call.answered"
    ]
    assert answered == [500, 200]


@pytest.mark.parametrize("status", [400, 415, 422])
def test_a_url_that_refuses_form_requests_is_left_to_drive_the_call(
    client: Client, sandbox: SandboxHandle, serve: Serve, status: int
) -> None:
    # A JSON-only handler in another framework (FastAPI answers 422, hand-written
    # checks 400): the SDK's worker stands down instead of hanging up on it.
    from flask import Flask, request

    app = Flask("json-only")

    @app.post("/events")
    def events() -> tuple[str, int]:
        return ("", 204) if request.is_json else ("JSON only", status)

    server = serve(app)
    sid = client.calls.create(to=TO, from_=FROM, url=server.url + "/events").sid
    sandbox.wait_status(sid, "answered")
    sandbox.wait(lambda: client.twiml_runner.live_workers() == [], what="the worker to stand down")
    call = sandbox.call(sid)
    assert (call["status"], said(call)) == ("answered", [])
    assert not client.twiml_runner.errors
