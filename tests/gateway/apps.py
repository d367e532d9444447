"""Twilio-style apps, written here the way Twilio's documentation and sample
apps write them (Flask reading ``request.values``/``request.form``, Django
reading ``request.POST``, ``validate_twilio_request`` decorators), for the
corpus tests: they run unchanged through the gateway, judged by what the sandbox
says the callee heard and pressed.

Nothing here knows about Kaphila except the SDK import, which is Twilio's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, Response, abort, redirect, request

from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Gather, VoiceResponse


class Recorder:
    """What the app was asked, for the test to look at (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: list[tuple[str, str, dict[str, str]]] = []

    def add(self, path: str) -> None:
        with self._lock:
            self.requests.append((path, request.method, dict(request.values.items())))

    def to(self, path: str) -> list[dict[str, str]]:
        with self._lock:
            return [values for p, _, values in self.requests if p == path]


def xml(response: VoiceResponse | str) -> Response:
    return Response(str(response), mimetype="text/xml")


def ivr_app(recorder: Recorder) -> Flask:
    """Twilio's "gather" quickstart: a menu with a relative action, a redirect back
    to the menu on a wrong key, and a goodbye."""
    app = Flask("ivr")

    @app.route("/voice", methods=["GET", "POST"])
    def voice() -> Response:
        recorder.add("/voice")
        resp = VoiceResponse()
        gather = Gather(num_digits=1, action="/gather")
        gather.say("For sales, press 1. For support, press 2.")
        resp.append(gather)
        resp.redirect("/voice")
        return xml(resp)

    @app.route("/gather", methods=["GET", "POST"])
    def gather() -> Response:
        recorder.add("/gather")
        resp = VoiceResponse()
        if "Digits" in request.values:
            choice = request.values["Digits"]
            if choice == "1":
                resp.say("You selected sales. Good for you!")
                return xml(resp)
            if choice == "2":
                resp.say("You need support. We will help!")
                return xml(resp)
            resp.say("Sorry, I don't understand that choice.")
        resp.redirect("/voice")
        return xml(resp)

    return app


def menu_without_action_app(recorder: Recorder) -> Flask:
    """A <Gather> with no action: Twilio posts the digits back to the same URL."""
    app = Flask("menu")

    @app.route("/menu", methods=["POST"])
    def menu() -> Response:
        recorder.add("/menu")
        resp = VoiceResponse()
        digits = request.form.get("Digits")
        if digits:
            resp.say(f"You pressed {digits}. Goodbye.")
            return xml(resp)
        with resp.gather(num_digits=4) as g:
            g.say("Enter your four digit code.", loop=2)
        resp.say("We did not get your code.")
        return xml(resp)

    return app


def validate_twilio_request(auth_token: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Twilio's recommended decorator (from its Flask security tutorial)."""

    def decorator(f: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(f)
        def decorated_function(*args: Any, **kwargs: Any) -> Any:
            validator = RequestValidator(auth_token)
            request_valid = validator.validate(
                request.url, request.form, request.headers.get("X-Twilio-Signature", "")
            )
            if request_valid:
                return f(*args, **kwargs)
            return abort(403)

        return decorated_function

    return decorator


def signed_app(recorder: Recorder, auth_token: str) -> Flask:
    app = Flask("signed")

    @app.route("/answer", methods=["POST"])
    @validate_twilio_request(auth_token)
    def answer() -> Response:
        recorder.add("/answer")
        resp = VoiceResponse()
        resp.say(f"Hello caller from {request.form['To'][-4:]}.")
        return xml(resp)

    return app


def amd_app(recorder: Recorder) -> Flask:
    """Branch on AnsweredBy (Twilio's AMD sample)."""
    app = Flask("amd")

    @app.route("/amd", methods=["POST"])
    def amd() -> Response:
        recorder.add("/amd")
        resp = VoiceResponse()
        if request.form.get("AnsweredBy", "").startswith("machine"):
            resp.say("Sorry we missed you. Please call us back.")
        else:
            resp.say("Hi! This is a live call.")
        return xml(resp)

    return app


def status_app(recorder: Recorder) -> Flask:
    app = Flask("status")

    @app.route("/twiml", methods=["GET", "POST"])
    def twiml() -> Response:
        recorder.add("/twiml")
        return xml("<Response><Say>Short.</Say></Response>")

    @app.route("/status", methods=["POST"])
    def status() -> str:
        recorder.add("/status")
        return ""

    @app.route("/moved", methods=["POST"])
    def moved() -> Any:
        recorder.add("/moved")
        return redirect("/twiml", code=302)

    @app.route("/broken", methods=["POST"])
    def broken() -> Any:
        recorder.add("/broken")
        return Response("oops", status=500)

    @app.route("/fallback", methods=["POST"])
    def fallback() -> Response:
        recorder.add("/fallback")
        return xml("<Response><Say>This is the fallback.</Say></Response>")

    @app.route("/play", methods=["POST"])
    def play() -> Response:
        recorder.add("/play")
        return xml("<Response><Say>first</Say><Play>https://example.com/a.mp3</Play></Response>")

    @app.route("/static.xml", methods=["GET", "POST"])
    def static_document() -> Response:
        recorder.add("/static.xml")
        return xml("<Response><Say>This is a static document.</Say></Response>")

    @app.route("/forward", methods=["POST"])
    def forward() -> Response:
        recorder.add("/forward")
        return xml(
            "<Response><Say>Connecting you.</Say><Dial>+15550009999</Dial>"
            "<Say>never heard</Say></Response>"
        )

    return app
