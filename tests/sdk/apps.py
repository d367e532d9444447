"""Small Flask apps for the in-process TwiML tests: Twilio-style ones (they read
``request.values`` and check ``X-Twilio-Signature``, as Twilio's docs write them)
and WebhookHelper ones (``process_webhook(request.get_json(), client)``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, request

from tests.helpers import TEST_KEY
from twilio import WebhookHelper
from twilio.request_validator import RequestValidator
from twilio.rest import Client


@dataclass
class Seen:
    """One Twilio-style request an app got (Kaphila's JSON events are not kept)."""

    path: str
    method: str
    values: dict[str, str]  # query and form together, as request.values has them
    content_type: str
    signed: bool  # X-Twilio-Signature checks out with the auth token


@dataclass
class Log:
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seen: Seen) -> None:
        with self.lock:
            self.seen.append(seen)

    def at(self, path: str) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if s.path == path]


Render = Callable[[dict[str, str]], "str | Response"]


def twilio_app(routes: dict[str, Render]) -> tuple[Flask, Log]:
    """Each route answers TwiML from ``render(request.values)``. A JSON POST (one of
    Kaphila's events, which also go to the call's url) is answered 204 and not kept."""
    app = Flask("twilio-style")
    log = Log()

    def make(path: str, render: Render) -> None:
        def view() -> str | Response:
            if request.is_json:
                return Response(status=204)
            validator = RequestValidator(TEST_KEY)
            signature = request.headers.get("X-Twilio-Signature", "")
            log.add(
                Seen(
                    path,
                    request.method,
                    dict(request.values),
                    request.content_type or "",
                    validator.validate(request.url, request.form, signature),
                )
            )
            return render(dict(request.values))

        app.add_url_rule(path, path, view, methods=["GET", "POST"])

    for path, render in routes.items():
        make(path, render)
    return app, log


def webhook_app(client: Client, routes: dict[str, Callable[[dict[str, str]], str]]) -> Flask:
    """Each route is a WebhookHelper handler, as the SDK document writes them:
    ``form = process_webhook(request.get_json(), client)``, then TwiML rendered with
    ``str(response)`` by ``render(form)``."""
    app = Flask("webhook-helper")

    def make(path: str, render: Callable[[dict[str, str]], str]) -> None:
        def view() -> str:
            form = WebhookHelper.process_webhook(request.get_json(), client)
            return render(dict(form))

        app.add_url_rule(path, path, view, methods=["POST"])

    for path, render in routes.items():
        make(path, render)
    return app


def twiml(*verbs: str) -> str:
    return "<Response>" + "".join(verbs) + "</Response>"


def said(call: dict[str, Any]) -> list[str]:
    return [s["text"] for s in call["spoken"]]


def heard_to_the_end(call: dict[str, Any]) -> bool:
    """Every word was played before the call ended (nothing cut off)."""
    return all(not s["interrupted"] for s in call["spoken"])
