"""update(twiml=...) and update(url=...) run TwiML on a live sandbox call."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.helpers import CALLER_ID, HUMAN
from tests.sdk.conftest import AppServer, SandboxHandle
from twilio.base.exceptions import KaphilaNotSupportedError, TwilioRestException
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

TO, FROM = "+" + HUMAN, "+" + CALLER_ID


def live_call(client: Client, sandbox: SandboxHandle, number: str = TO) -> str:
    sid = client.calls.create(to=number, from_=FROM).sid
    sandbox.wait_status(sid, "answered")
    return sid


def test_say_speaks_with_its_voice_and_loop(client: Client, sandbox: SandboxHandle) -> None:
    sid = live_call(client, sandbox)
    response = VoiceResponse()
    response.say("Hello there", voice="en-US-Neural2-C", loop=2)
    response.say("Plain")
    client.calls(sid).update(twiml=response)
    spoken = [(s["text"], s["voice"]) for s in sandbox.call(sid)["spoken"]]
    assert spoken == [
        ("Hello there", "en-US-Neural2-C"),
        ("Hello there", "en-US-Neural2-C"),
        ("Plain", "en-US-Neural2-A"),
    ]


def test_ssml_inside_say_is_spoken_as_plain_text(client: Client, sandbox: SandboxHandle) -> None:
    sid = live_call(client, sandbox)
    response = VoiceResponse()
    say = response.say("Your code is")
    say.say_as("1234", interpret_as="digits")
    say.break_(time="1s")
    client.calls(sid).update(twiml=str(response))
    assert [s["text"] for s in sandbox.call(sid)["spoken"]] == ["Your code is 1234"]


def test_gather_becomes_a_kaphila_gather(client: Client, sandbox: SandboxHandle) -> None:
    sid = live_call(client, sandbox)
    response = VoiceResponse()
    gather = response.gather(num_digits=4, timeout=10, finish_on_key="*", valid_digits="1234")
    gather.say("Enter your PIN")
    gather.pause(1)
    response.say("We did not get that")  # runs only if the gather times out
    client.calls(sid).update(twiml=response)
    record = sandbox.call(sid)
    assert record["gathers"] == [
        {
            "gatherId": f"gather-{sid}-1",
            "prompt": "Enter your PIN",
            "numDigits": 4,
            "timeout": 10000,
            "finishOnKey": "*",
            "validDigits": "1234",
            "digits": "",
            "outcome": None,
            "reason": None,
            "startedAt": record["gathers"][0]["startedAt"],
        }
    ]
    assert [s["text"] for s in record["spoken"]] == ["Enter your PIN"]


def test_gather_uses_twilios_defaults(client: Client, sandbox: SandboxHandle) -> None:
    sid = live_call(client, sandbox)
    client.calls(sid).update(twiml="<Response><Gather/></Response>")
    gather = sandbox.call(sid)["gathers"][0]
    assert (gather["timeout"], gather["finishOnKey"], gather["numDigits"]) == (5000, "#", None)


def test_dial_forwards_to_the_number(client: Client, sandbox: SandboxHandle) -> None:
    sid = live_call(client, sandbox)
    response = VoiceResponse()
    response.dial().number("+15557654321")
    client.calls(sid).update(twiml=response)
    record = sandbox.wait_status(sid, "completed")
    assert (record["endReason"], record["forwardedTo"]) == ("forwarded", "15557654321")


@pytest.mark.parametrize("verb", ["<Hangup/>", '<Reject reason="busy"/>'])
def test_hangup_and_reject_end_the_call(client: Client, sandbox: SandboxHandle, verb: str) -> None:
    sid = live_call(client, sandbox)
    client.calls(sid).update(twiml=f"<Response><Say>Bye</Say>{verb}<Say>never</Say></Response>")
    record = sandbox.wait_status(sid, "completed")
    assert [s["text"] for s in record["spoken"]] == ["Bye"]
    assert record["hangupBy"] == "caller"


def test_pause_waits_between_verbs(client: Client, sandbox: SandboxHandle) -> None:
    sid = live_call(client, sandbox)
    started = time.monotonic()
    # update() returns at the document's first wait; the rest runs on the call's worker.
    client.calls(sid).update(
        twiml='<Response><Say>a</Say><Pause length="0.3"/><Say>b</Say></Response>'
    )
    assert [s["text"] for s in sandbox.call(sid)["spoken"]] == ["a"]
    sandbox.wait(lambda: len(sandbox.call(sid)["spoken"]) == 2, what="the verb after the pause")
    assert time.monotonic() - started >= 0.3
    assert [s["text"] for s in sandbox.call(sid)["spoken"]] == ["a", "b"]


@pytest.mark.parametrize(
    ("twiml", "what"),
    [
        ("<Response><Say>first</Say><Play>x.mp3</Play></Response>", "<Play>"),
        ("<Response><Say>first</Say><Record/></Response>", "<Record>"),
        ("<Response><Sms>hi</Sms></Response>", "<Sms>"),
        ("<Response><Gather><Play>x.mp3</Play></Gather></Response>", "<Play> inside <Gather>"),
        ('<Response><Gather input="speech"/></Response>', '<Gather input="speech">'),
        ("<Response><Dial><Conference>r</Conference></Dial></Response>", "<Dial><Conference>"),
    ],
)
def test_unsupported_verbs_fail_before_anything_is_sent(
    client: Client, sandbox: SandboxHandle, twiml: str, what: str
) -> None:
    sid = live_call(client, sandbox)
    with pytest.raises(KaphilaNotSupportedError) as raised:
        client.calls(sid).update(twiml=twiml)
    assert raised.value.msg.startswith(what)
    assert raised.value.msg.endswith("is not supported by Kaphila")
    record = sandbox.call(sid)
    assert (record["spoken"], record["gathers"], record["status"]) == ([], [], "answered")


def test_unsupported_verbs_still_render(client: Client) -> None:
    response = VoiceResponse()
    response.play("x.mp3")
    response.record()
    assert str(response).endswith("<Response><Play>x.mp3</Play><Record /></Response>")


def test_malformed_twiml_is_a_clear_error(client: Client, sandbox: SandboxHandle) -> None:
    sid = live_call(client, sandbox)
    with pytest.raises(TwilioRestException, match="not well-formed XML"):
        client.calls(sid).update(twiml="<Response><Say>")
    with pytest.raises(TwilioRestException, match="must have <Response> at its root"):
        client.calls(sid).update(twiml="<Say>x</Say>")


def test_twiml_on_an_ended_call_reports_kaphilas_error(
    client: Client, sandbox: SandboxHandle
) -> None:
    sid = client.calls.create(to="+15551230003", from_=FROM).sid
    sandbox.wait_status(sid, "busy")
    with pytest.raises(TwilioRestException) as raised:
        client.calls(sid).update(twiml="<Response><Say>x</Say></Response>")
    assert raised.value.code == 20001
    assert raised.value.msg == f"call {sid} has already ended (busy)"


def twiml_app(routes: dict[str, Callable[[dict[str, str]], str]]) -> Any:
    from flask import Flask, request

    app = Flask("twiml")
    seen: list[tuple[str, str, dict[str, str]]] = []
    app.config["seen"] = seen

    def make(path: str, render: Callable[[dict[str, str]], str]) -> None:
        def view() -> str:
            params = dict(request.values)
            seen.append((request.method, path, params))
            return render(params)

        app.add_url_rule(path, path, view, methods=["GET", "POST"])

    for path, render in routes.items():
        make(path, render)
    return app


def test_update_url_fetches_twiml_with_call_parameters_and_runs_it(
    client: Client, sandbox: SandboxHandle, serve: Callable[[Any], AppServer]
) -> None:
    app = twiml_app({"/next": lambda p: f"<Response><Say>Hi {p['To']}</Say></Response>"})
    server = serve(app)
    sid = live_call(client, sandbox)
    client.calls(sid).update(url=server.url + "/next", method="GET")
    assert [s["text"] for s in sandbox.call(sid)["spoken"]] == [f"Hi {TO}"]
    method, _, params = app.config["seen"][0]
    assert method == "GET"
    assert params["CallSid"] == sid
    assert params["AccountSid"] == client.account_sid
    assert params["From"] == FROM


def test_redirect_follows_relative_and_absolute_urls(
    client: Client, sandbox: SandboxHandle, serve: Callable[[Any], AppServer]
) -> None:
    app = twiml_app(
        {
            "/a": lambda p: (
                "<Response><Say>one</Say><Redirect>/b</Redirect><Say>no</Say></Response>"
            ),
            "/b": lambda p: "<Response><Say>two</Say></Response>",
        }
    )
    server = serve(app)
    sid = live_call(client, sandbox)
    client.calls(sid).update(
        twiml=f'<Response><Redirect method="POST">{server.url}/a</Redirect></Response>'
    )
    assert [s["text"] for s in sandbox.call(sid)["spoken"]] == ["one", "two"]


def test_endless_redirects_stop_with_an_error(
    client: Client, sandbox: SandboxHandle, serve: Callable[[Any], AppServer]
) -> None:
    server = serve(
        twiml_app({"/loop": lambda p: "<Response><Redirect>/loop</Redirect></Response>"})
    )
    sid = live_call(client, sandbox)
    from twilio.base.exceptions import TwilioException

    with pytest.raises(TwilioException, match="more than 10 documents fetched in a row"):
        client.calls(sid).update(url=server.url + "/loop")


def test_create_with_twiml_runs_it_once_the_call_is_answered(
    client: Client, sandbox: SandboxHandle, serve: Callable[[Any], AppServer]
) -> None:
    from flask import Flask, request

    from twilio import WebhookHelper

    app = Flask("hooks")

    @app.post("/hook")
    def hook() -> str:
        WebhookHelper.process_webhook(request.get_json(), client)
        return ""

    server = serve(app)
    call = client.calls.create(
        to=TO,
        from_=FROM,
        url=server.url + "/hook",
        twiml="<Response><Say>Welcome aboard</Say></Response>",
    )
    sandbox.wait(lambda: bool(sandbox.call(call.sid)["spoken"]), what="the TwiML to run")
    assert [s["text"] for s in sandbox.call(call.sid)["spoken"]] == ["Welcome aboard"]
