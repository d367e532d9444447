"""Without a gateway and without a webhook handler, the SDK runs a call's TwiML
itself (twilio.rest.twiml_runner): what the callee hears and how the call ends,
as the sandbox recorded them."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import redirect

from tests.helpers import CALLER_ID, HUMAN, TEST_KEY
from tests.sdk.apps import heard_to_the_end, said, twilio_app, twiml
from tests.sdk.conftest import AppServer, SandboxHandle
from twilio.rest import Client

TO, FROM = "+" + HUMAN, "+" + CALLER_ID
SCRIPTED = "+15551230007"  # the callee answers every gather with 1, 2, 3 ...
BUSY = "+15551230003"
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


def ended(sandbox: SandboxHandle, sid: str) -> dict[str, Any]:
    return sandbox.wait_status(sid, "completed")


def test_create_with_twiml_and_no_handler_is_heard_then_hung_up(
    client: Client, sandbox: SandboxHandle
) -> None:
    sid = client.calls.create(
        to=TO, from_=FROM, twiml=twiml("<Say>Your order has shipped</Say>")
    ).sid
    call = ended(sandbox, sid)
    assert said(call) == ["Your order has shipped"]
    assert heard_to_the_end(call)
    assert (call["endReason"], call["hangupBy"]) == ("hangup", "caller")
    assert not client.twiml_runner.errors


def test_a_script_that_exits_right_after_create_is_still_heard(sandbox: SandboxHandle) -> None:
    script = (
        "from twilio.rest import Client\n"
        f"client = Client('ACscript', {TEST_KEY!r}, base_url={sandbox.url!r}, environment={{}})\n"
        f"call = client.calls.create(to={TO!r}, from_={FROM!r},\n"
        "    twiml='<Response><Say>This is a reminder from the dentist</Say></Response>')\n"
        "print(call.sid)\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=root,
        env=env,
        check=True,
    )
    # The interpreter waited for the worker: the call was over when it exited.
    call = sandbox.call(done.stdout.strip())
    assert call["status"] == "completed"
    assert said(call) == ["This is a reminder from the dentist"]
    assert heard_to_the_end(call)
    assert call["endReason"] == "hangup"


def test_url_is_fetched_like_twilio_with_the_calls_parameters_signed(
    client: Client, sandbox: SandboxHandle, serve: Serve
) -> None:
    app, log = twilio_app({"/voice": lambda p: twiml(f"<Say>Hello {p['To']}</Say>")})
    server = serve(app)
    sid = client.calls.create(to=TO, from_=FROM, url=server.url + "/voice").sid
    call = ended(sandbox, sid)
    assert said(call) == [f"Hello {TO}"]
    assert heard_to_the_end(call)
    [seen] = log.at("/voice")
    assert (seen.method, seen.content_type, seen.signed) == (
        "POST",
        "application/x-www-form-urlencoded",
        True,
    )
    assert {k: seen.values[k] for k in ("CallSid", "AccountSid", "From", "To")} == {
        "CallSid": sid,
        "AccountSid": client.account_sid,
        "From": FROM,
        "To": TO,
    }
    assert (seen.values["CallStatus"], seen.values["Direction"], seen.values["ApiVersion"]) == (
        "in-progress",
        "outbound-api",
        "2010-04-01",
    )


def test_method_get_puts_twilios_parameters_in_the_query(
    client: Client, sandbox: SandboxHandle, serve: Serve
) -> None:
    app, log = twilio_app({"/voice": lambda p: twiml("<Say>Fetched with a GET</Say>")})
    server = serve(app)
    sid = client.calls.create(to=TO, from_=FROM, url=server.url + "/voice", method="GET").sid
    assert said(ended(sandbox, sid)) == ["Fetched with a GET"]
    [seen] = log.at("/voice")
    assert (seen.method, seen.values["CallSid"], seen.values["To"], seen.signed) == (
        "GET",
        sid,
        TO,
        True,
    )


@pytest.mark.parametrize(("status", "method"), [(302, "GET"), (303, "GET"), (307, "POST")])
def test_an_http_redirect_is_followed_as_twilio_follows_it(
    client: Client, sandbox: SandboxHandle, serve: Serve, status: int, method: str
) -> None:
    app, log = twilio_app(
        {
            "/old": lambda p: redirect("/new", code=status),
            "/new": lambda p: twiml("<Say>We have moved</Say>"),
        }
    )
    server = serve(app)
    sid = client.calls.create(to=TO, from_=FROM, url=server.url + "/old").sid
    assert said(ended(sandbox, sid)) == ["We have moved"]
    [seen] = log.at("/new")
    # 302/303 become a GET with Twilio's parameters in the query; 307 keeps the POST.
    assert (seen.method, seen.values["CallSid"], seen.signed) == (method, sid, True)


def test_gather_digits_reach_a_relative_action_by_polling(
    client: Client, sandbox: SandboxHandle, serve: Serve
) -> None:
    app, log = twilio_app(
        {
            "/menu": lambda p: twiml(
                '<Gather numDigits="1" action="/choice"><Say>Press one for sales</Say></Gather>',
                "<Say>We did not hear you</Say>",
            ),
            "/choice": lambda p: twiml(f"<Say>You chose {p['Digits']}</Say>"),
        }
    )
    server = serve(app)
    sid = client.calls.create(to=SCRIPTED, from_=FROM, url=server.url + "/menu").sid
    call = ended(sandbox, sid)
    assert said(call) == ["Press one for sales", "You chose 1"]
    assert heard_to_the_end(call)
    [choice] = log.at("/choice")
    assert (choice.values["Digits"], choice.values["FinishedOnKey"], choice.signed) == (
        "1",
        "",
        True,
    )


def test_a_gather_without_action_posts_back_to_the_document_with_its_finish_key(
    client: Client, sandbox: SandboxHandle, serve: Serve
) -> None:
    def voice(p: dict[str, str]) -> str:
        if "Digits" in p:
            return twiml(f"<Say>Got {p['Digits']} then {p['FinishedOnKey']}</Say>")
        return twiml('<Gather numDigits="4" timeout="60"><Say>Enter your PIN</Say></Gather>')

    app, _ = twilio_app({"/voice": voice})
    server = serve(app)
    sid = client.calls.create(to=TO, from_=FROM, url=server.url + "/voice").sid
    sandbox.wait(lambda: bool(sandbox.call(sid)["gathers"]), what="the gather")
    sandbox.press(sid, "12#")
    call = ended(sandbox, sid)
    # Two digits of four, then complete: only the finish key ends a gather early.
    assert said(call) == ["Enter your PIN", "Got 12 then #"]


def test_the_fallback_url_answers_when_the_url_fails(
    client: Client, sandbox: SandboxHandle, serve: Serve
) -> None:
    app, log = twilio_app(
        {
            "/broken": lambda p: ("oops", 500),
            "/fallback": lambda p: twiml("<Say>Sorry, please call again later</Say>"),
        }
    )
    server = serve(app)
    sid = client.calls.create(
        to=TO,
        from_=FROM,
        url=server.url + "/broken",
        fallback_url=server.url + "/fallback",
        fallback_method="POST",
    ).sid
    call = ended(sandbox, sid)
    assert said(call) == ["Sorry, please call again later"]
    [fallback] = log.at("/fallback")
    assert fallback.values["ErrorCode"] == "11200"
    assert fallback.values["ErrorUrl"] == server.url + "/broken"


def test_an_application_error_is_logged_with_the_verb_and_the_call_hangs_up(
    client: Client, sandbox: SandboxHandle, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    app, _ = twilio_app({"/voice": lambda p: twiml("<Say>Leave a message</Say><Record/>")})
    server = serve(app)
    with caplog.at_level(logging.ERROR, logger="twilio.kaphila.twiml"):
        sid = client.calls.create(to=TO, from_=FROM, url=server.url + "/voice").sid
        call = ended(sandbox, sid)
    assert said(call) == []  # the whole document is refused before any of it runs
    assert call["endReason"] == "hangup"
    assert list(client.twiml_runner.errors) == [
        (sid, "calls.create(url=): <Record> is not supported by Kaphila")
    ]
    assert "application error 13999" in caplog.text


def test_update_twiml_hangs_up_after_its_last_words(client: Client, sandbox: SandboxHandle) -> None:
    sid = client.calls.create(to=TO, from_=FROM).sid
    sandbox.wait_status(sid, "answered")
    client.calls(sid).update(twiml=twiml("<Say>Your table is ready</Say>"))
    call = ended(sandbox, sid)
    assert said(call) == ["Your table is ready"]
    assert heard_to_the_end(call)
    assert call["endReason"] == "hangup"


def test_an_update_replaces_the_document_the_worker_is_running(
    client: Client, sandbox: SandboxHandle
) -> None:
    sid = client.calls.create(
        to=TO,
        from_=FROM,
        twiml=twiml("<Say>Please hold</Say>", '<Pause length="60"/>', "<Say>never said</Say>"),
    ).sid
    sandbox.wait(lambda: said(sandbox.call(sid)) == ["Please hold"], what="the first document")
    started = time.monotonic()
    client.calls(sid).update(twiml=twiml("<Say>An agent is here</Say>"))
    call = ended(sandbox, sid)
    assert time.monotonic() - started < 10  # the pause did not hold the new document up
    assert said(call) == ["Please hold", "An agent is here"]
    assert call["endReason"] == "hangup"


def test_a_call_that_is_never_answered_ends_its_worker(
    client: Client, sandbox: SandboxHandle
) -> None:
    sid = client.calls.create(to=BUSY, from_=FROM, twiml=twiml("<Say>unheard</Say>")).sid
    sandbox.wait_status(sid, "busy")
    sandbox.wait(lambda: client.twiml_runner.live_workers() == [], what="the worker to end")
    assert said(sandbox.call(sid)) == []
