"""The embedded webhook listener: aiohttp on the console's loop.

It listens on 127.0.0.1 by default at ``/hooks/<token>``, a capability URL with
a random 128-bit token per profile: a wrong path is a 404 and nothing is
applied. Bodies are limited and must be a Kaphila event as JSON; anything else
gets a 4xx with the reason (logged) and never reaches the reducer. Accepted
webhooks are translated by the SDK's ``WebhookHelper`` (the one mapping from
Kaphila to Twilio terms) and handed to ``on_event`` on the loop thread.

Webhooks come at least once, so the 2xx waits for ``on_event``'s answer: the
session stores the event in the journal first. If it could not be stored the
sender gets a 503 and delivers it again.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from aiohttp import web

from console.core.events import WebhookReceived
from twilio.base.exceptions import TwilioException
from twilio.rest import Client
from twilio.webhook import WebhookHelper

log = logging.getLogger("kaphila.console.webhooks")

DEFAULT_MAX_BODY = 64 * 1024


def masked_url(url: str) -> str:
    """The listener URL without its capability token, for screens and logs (both get
    shared); the token alone lets a sender inject events into the console."""
    base, sep, token = url.rpartition("/hooks/")
    return f"{base}/hooks/{token[:4]}…" if sep else url


def new_token() -> str:
    """A fresh capability token: 128 random bits, URL-safe."""
    return secrets.token_urlsafe(16)


class WebhookListener:
    def __init__(self, client: Client,
                 on_event: Callable[[WebhookReceived], Awaitable[bool] | None], token: str,
                 host: str = "127.0.0.1", port: int = 0,
                 max_body: int = DEFAULT_MAX_BODY,
                 clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._on_event = on_event
        self._token = token
        self.host = host
        self.port = port
        self._max_body = max_body
        self._clock = clock
        self._runner: web.AppRunner | None = None
        self.last_received_at: float | None = None
        self.accepted = 0
        self.rejected = 0

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/hooks/{self._token}"

    async def start(self) -> None:
        app = web.Application(client_max_size=self._max_body)
        app.router.add_post("/hooks/{token}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self.port).start()
        except BaseException:
            await self._runner.cleanup()
            self._runner = None
            raise
        host, port = self._runner.addresses[0][:2]
        self.host, self.port = str(host), int(port)
        log.info("webhook listener at %s", masked_url(self.url))

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        if not hmac.compare_digest(request.match_info["token"].encode(), self._token.encode()):
            return self._reject(404, "not found", request, log_it=False)
        if request.content_length is not None and request.content_length > self._max_body:
            return self._reject(413, f"body larger than {self._max_body} bytes", request)
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._reject(413, f"body larger than {self._max_body} bytes", request)
        try:
            payload = json.loads(raw)
        except (ValueError, RecursionError):
            return self._reject(400, "body is not valid JSON", request)
        try:
            params = WebhookHelper.process_webhook(payload, self._client)
        except TwilioException as exc:
            return self._reject(400, exc.msg, request)
        now = self._clock()
        self.last_received_at = now
        self.accepted += 1
        event = WebhookReceived(
            call_sid=params["CallSid"], event=params["KaphilaEvent"], params=dict(params),
            at=_timestamp(payload.get("timestamp"), now), received_at=now, raw=payload)
        stored = self._on_event(event)
        if stored is not None and not await stored:
            return self._reject(503, "the console could not store this event; "
                                "deliver it again", request)
        return web.Response(status=204)

    def _reject(self, status: int, reason: str, request: web.Request,
                log_it: bool = True) -> web.Response:
        self.rejected += 1
        if log_it:
            log.warning("webhook refused (%d): %s, from %s", status, reason, request.remote)
        return web.json_response({"error": reason}, status=status)


def _timestamp(value: object, fallback: float) -> float:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            pass
    return fallback
