"""More Twilio-style apps for the corpus, written the way Twilio's docs, its
``api-snippets`` and independent projects write voice apps: Flask views that
build a ``VoiceResponse`` and return ``str(resp)`` as XML, read ``request.values``
/ ``request.form`` / ``request.args``, and (for plain Kaphila events) the SDK
document's ``WebhookHelper.process_webhook(request.get_json(), client)`` idiom.

Nothing here knows about Kaphila or the gateway except the SDK import, which is
Twilio's. The Django app lives in ``tests/gateway/django_app.py``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, request

from twilio import WebhookHelper
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.voice_response import Dial, Gather, Say, VoiceResponse


@dataclass(frozen=True)
class Seen:
    """One request an app got: where, how, and what came with it."""

    path: str
    method: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]
    json: Any = None
    signed: bool | None = None  # the X-Twilio-Signature checked, when the app checks it

    @property
    def values(self) -> dict[str, str]:
        """Flask's ``request.values``: the query, then the form."""
        return {**self.query, **self.form}


@dataclass
class Log:
    """Every request the apps were asked (thread-safe: the servers are threaded)."""

    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, *, signed: bool | None = None) -> None:
        entry = Seen(
            path=request.path,
            method=request.method,
            query=dict(request.args.items()),
            form=dict(request.form.items()),
            headers=dict(request.headers.items()),
            json=request.get_json(silent=True) if request.is_json else None,
            signed=signed,
        )
        with self.lock:
            self.seen.append(entry)

    def to(self, path: str) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if s.path == path]


# Long enough (about 20 s of speech, 0.2 s at the sandbox's pace) that a hang-up
# sent right after it is queued always cuts it off.
LONG_GOODBYE = (
    "Thank you for calling Owl Bank. Your payment of one hundred and twenty dollars "
    "has been received and will be applied to your account within two business days. "
    "A confirmation will be sent to the email address we have on file for you. "
    "If you have any questions, please call us again during business hours. Goodbye."
)


def xml(resp: VoiceResponse | str) -> Response:
    return Response(str(resp), mimetype="text/xml")


# ------------------------------------------------------------------ <Say> and friends


def say_app(log: Log) -> Flask:
    """One route per verb, each the shape of a Twilio snippet."""
    app = Flask("say")

    @app.route("/voices", methods=["POST"])
    def voices() -> Response:
        log.add()
        resp = VoiceResponse()
        resp.say("Good morning from London.", voice="alice", language="en-GB")
        resp.say("Hello, this is Joanna.", voice="Polly.Joanna")
        return xml(resp)

    @app.route("/loop", methods=["POST"])
    def loop() -> Response:
        log.add()
        resp = VoiceResponse()
        resp.say("Please listen carefully.", loop=2)
        return xml(resp)

    @app.route("/pause", methods=["POST"])
    def pause() -> Response:
        log.add()
        resp = VoiceResponse()
        resp.say("I will pause one second starting now!")
        resp.pause(length=1)
        resp.say("I just paused one second.")
        return xml(resp)

    @app.route("/reject", methods=["POST"])
    def reject() -> Response:
        log.add()
        resp = VoiceResponse()
        resp.reject()
        return xml(resp)

    @app.route("/goodbye", methods=["POST"])
    def goodbye() -> Response:
        log.add()
        resp = VoiceResponse()
        resp.say("Thank you for calling. Goodbye.")
        resp.hangup()
        resp.say("You should never hear this.")
        resp.redirect("/loop")  # never fetched either
        return xml(resp)

    @app.route("/long-goodbye", methods=["POST"])
    def long_goodbye() -> Response:
        log.add()
        resp = VoiceResponse()
        resp.say(LONG_GOODBYE)
        resp.hangup()
        return xml(resp)

    @app.route("/ssml", methods=["POST"])
    def ssml() -> Response:
        log.add()
        resp = VoiceResponse()
        say = Say("Your confirmation code is", voice="Polly.Joanna")
        say.say_as("1234", interpret_as="digits")
        say.break_(strength="x-weak", time="100ms")
        say.append("Thank you.")
        resp.append(say)
        return xml(resp)

    return app


# ------------------------------------------------------------------ <Gather>


def gather_app(log: Log) -> Flask:
    app = Flask("gather")

    @app.route("/timeout", methods=["POST"])
    def timeout() -> Response:
        """Twilio's gather sample: what to do when nothing is pressed goes after it."""
        log.add()
        resp = VoiceResponse()
        gather = Gather(num_digits=1, action="/gather", timeout=1)
        gather.say("For sales, press 1. For support, press 2.")
        resp.append(gather)
        resp.say("We didn't receive any input. Goodbye!")
        return xml(resp)

    @app.route("/both", methods=["POST"])
    def both() -> Response:
        log.add()
        resp = VoiceResponse()
        gather = Gather(input="dtmf speech", timeout=3, num_digits=1, action="/gather")
        gather.say("Please press 1 or say sales for sales.")
        resp.append(gather)
        return xml(resp)

    @app.route("/empty", methods=["POST"])
    def empty() -> Response:
        log.add()
        resp = VoiceResponse()
        gather = resp.gather(action="/gather", action_on_empty_result=True, timeout=1)
        gather.say("Enter your account number.")
        resp.say("You should never hear this.")
        return xml(resp)

    @app.route("/pin", methods=["POST"])
    def pin() -> Response:
        log.add()
        resp = VoiceResponse()
        with resp.gather(action="/gather", finish_on_key="*", timeout=5) as gather:
            gather.say("Enter your PIN, then press star.")
        return xml(resp)

    @app.route("/by-get", methods=["POST"])
    def by_get() -> Response:
        log.add()
        resp = VoiceResponse()
        gather = Gather(num_digits=1, action="/gather", method="GET")
        gather.say("Press any key.")
        resp.append(gather)
        return xml(resp)

    @app.route("/looped", methods=["POST"])
    def looped() -> Response:
        log.add()
        resp = VoiceResponse()
        with resp.gather(num_digits=1, action="/gather") as gather:
            gather.say("Press any key to continue.", loop=3)
        return xml(resp)

    @app.route("/gather", methods=["GET", "POST"])
    def gathered() -> Response:
        log.add()
        resp = VoiceResponse()
        digits = request.values.get("Digits", "")
        if digits:
            resp.say(f"You entered {digits}.")
        else:
            resp.say("No input received.")
        return xml(resp)

    @app.route("/hold", methods=["POST"])
    def hold() -> Response:
        """api-snippets gather-5: a GET redirect with its own query string."""
        log.add()
        resp = VoiceResponse()
        resp.say("One moment.")
        resp.redirect("/process_gather?Digits=TIMEOUT", method="GET")
        return xml(resp)

    @app.route("/process_gather", methods=["GET"])
    def process_gather() -> Response:
        log.add()
        resp = VoiceResponse()
        resp.say(f"Processing {request.args.get('Digits', 'nothing')}.")
        return xml(resp)

    return app


# ------------------------------------------------------------------ <Dial>, errors, callbacks


def dial_app(log: Log, caller_id: str) -> Flask:
    app = Flask("dial")

    @app.route("/agent", methods=["POST"])
    def agent() -> Response:
        log.add()
        resp = VoiceResponse()
        dial = Dial(caller_id=caller_id)
        dial.number("+15550009999")
        resp.append(dial)
        return xml(resp)

    @app.route("/ring-all", methods=["POST"])
    def ring_all() -> Response:
        """Twilio's simultaneous dialing: Kaphila forwards to one number only."""
        log.add()
        resp = VoiceResponse()
        resp.say("Connecting you to the first available agent.")
        dial = Dial(caller_id=caller_id)
        dial.number("+15550001111")
        dial.number("+15550002222")
        resp.append(dial)
        return xml(resp)

    @app.route("/status", methods=["GET", "POST"])
    def status() -> str:
        log.add()
        return ""

    return app


def status_get_app(log: Log, auth_token: str) -> Flask:
    """Status callbacks asked for by GET, the signature checked as Twilio's
    Flask security tutorial does (``request.url``, ``request.form``)."""
    app = Flask("status-get")

    @app.route("/twiml", methods=["POST"])
    def twiml() -> Response:
        log.add()
        resp = VoiceResponse()
        resp.say("Thanks for calling.")
        return xml(resp)

    @app.route("/events", methods=["GET"])
    def events() -> str:
        validator = RequestValidator(auth_token)
        log.add(
            signed=validator.validate(
                request.url, request.form, request.headers.get("X-Twilio-Signature", "")
            )
        )
        return ""

    return app


# ------------------------------------------------------------------ two app servers


def front_desk_app(log: Log, billing_url: str) -> Flask:
    """Hands the call to another service by an absolute <Redirect>."""
    app = Flask("front-desk")

    @app.route("/incoming", methods=["POST"])
    def incoming() -> Response:
        log.add()
        resp = VoiceResponse()
        resp.say("Transferring you to billing.")
        resp.redirect(f"{billing_url}/billing/menu")
        return xml(resp)

    return app


def billing_app(log: Log) -> Flask:
    """Its documents use relative URLs: they resolve against this server."""
    app = Flask("billing")

    @app.route("/billing/menu", methods=["POST"])
    def menu() -> Response:
        log.add()
        resp = VoiceResponse()
        gather = Gather(num_digits=1, action="choose")  # relative to /billing/menu
        gather.say("Billing. To pay your bill, press 1.")
        resp.append(gather)
        return xml(resp)

    @app.route("/billing/choose", methods=["POST"])
    def choose() -> Response:
        log.add()
        resp = VoiceResponse()
        if request.form.get("Digits") == "1":
            resp.say("Thank you. Your payment is being processed.")
        return xml(resp)

    return app


# ------------------------------------------------------------------ plain Kaphila events


def webhook_helper_app(log: Log, client: Client, greeting: str) -> Flask:
    """The SDK document's idiom: one JSON webhook for every event, turned into
    Twilio's form by ``WebhookHelper``; the TwiML it renders on answer is run."""
    app = Flask("webhook-helper")

    @app.route("/events", methods=["POST"])
    def events() -> str:
        log.add()
        form_data = WebhookHelper.process_webhook(request.get_json(), client)
        response = VoiceResponse()
        if form_data["CallStatus"] == "in-progress":
            response.say(greeting)
            response.hangup()
        return str(response)

    return app


def json_receiver_app(log: Log) -> Flask:
    """What a curl-and-JSON Kaphila client runs: a route that takes the events."""
    app = Flask("receiver")

    @app.route("/kaphila-events", methods=["POST"])
    def events() -> Any:
        log.add()
        return {"ok": True}

    return app
