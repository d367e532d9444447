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

A web page in the operator's browser can reach 127.0.0.1 too, so the listener
takes only what Kaphila sends: a Host header naming this machine or the
profile's public webhook host (DNS rebinding), no browser ``Origin`` or
cross-site ``Sec-Fetch-Site``, and ``application/json`` bodies (a page's
``text/plain`` form posts). Values are checked here, once: numbers must be
finite and of sane size, the timestamp a real time between 2000 and 2100.
Idle or slow connections are closed (``IDLE_TIMEOUT``, ``BODY_TIMEOUT``).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime

from aiohttp import web

from console.core.events import WebhookReceived
from console.services.webhook_events import webhook_event
from twilio.base.exceptions import TwilioException
from twilio.rest import Client
from twilio.webhook import WebhookHelper

log = logging.getLogger("kaphila.console.webhooks")

DEFAULT_MAX_BODY = 64 * 1024
IDLE_TIMEOUT = 10.0  # seconds a connection may sit idle or trickle its headers
BODY_TIMEOUT = 10.0  # seconds to receive a body once the headers are in
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC).timestamp()
LATEST = datetime(2100, 1, 1, tzinfo=UTC).timestamp()
MAX_INT_DIGITS = 20


class BadValue(ValueError):
    """A value in a webhook that the console will not take."""


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise BadValue(f"a number with {len(text)} digits")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadValue(f"the number {text[:40]} is out of range")
    return value


def _parse_constant(text: str) -> float:
    raise BadValue(f"{text} is not a number Kaphila sends")


def parse_body(raw: bytes) -> object:
    """JSON with every number checked: finite, at most ``MAX_INT_DIGITS`` digits."""
    return json.loads(
        raw, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant
    )


def host_name(header: str) -> str:
    """The host in a Host header, without the port or IPv6 brackets, lower case."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rpartition(":")[0] if header.count(":") == 1 else header


def masked_url(url: str) -> str:
    """The listener URL without its capability token, for screens and logs (both get
    shared); the token alone lets a sender inject events into the console."""
    base, sep, token = url.rpartition("/hooks/")
    return f"{base}/hooks/{token[:4]}…" if sep else url


def new_token() -> str:
    """A fresh capability token: 128 random bits, URL-safe."""
    return secrets.token_urlsafe(16)


class WebhookListener:
    def __init__(
        self,
        client: Client,
        on_event: Callable[[WebhookReceived], Awaitable[bool] | None],
        token: str,
        host: str = "127.0.0.1",
        port: int = 0,
        max_body: int = DEFAULT_MAX_BODY,
        clock: Callable[[], float] = time.time,
        allowed_hosts: Iterable[str] = (),
        idle_timeout: float = IDLE_TIMEOUT,
        body_timeout: float = BODY_TIMEOUT,
    ) -> None:
        self._client = client
        self._allowed_hosts = LOCAL_HOSTS | {h.lower() for h in allowed_hosts} | {host.lower()}
        self._idle_timeout = idle_timeout
        self._body_timeout = body_timeout
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
        # keepalive_timeout also bounds a connection that trickles its headers:
        # aiohttp arms it when the connection opens.
        # lingering_time: how long aiohttp reads what is left of a refused body.
        self._runner = web.AppRunner(
            app,
            access_log=None,
            keepalive_timeout=self._idle_timeout,
            lingering_time=min(2.0, self._body_timeout),
        )
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

    def _refusal(self, request: web.Request) -> tuple[int, str] | None:
        """Why a request is not Kaphila's (a browser's, a rebinding attack's), if it is not."""
        if host_name(request.headers.get("Host", "")) not in self._allowed_hosts:
            return 421, "this listener does not serve that host name"
        if "Origin" in request.headers or request.headers.get("Sec-Fetch-Site", "none") not in (
            "none",
            "same-origin",
        ):
            return 403, "requests from web pages are refused"
        if request.content_type != "application/json":
            return 415, "the body must be application/json"
        return None

    async def _handle(self, request: web.Request) -> web.Response:
        if not hmac.compare_digest(request.match_info["token"].encode(), self._token.encode()):
            return self._reject(404, "not found", request, log_it=False)
        if refused := self._refusal(request):
            return self._reject(*refused, request)
        if request.content_length is not None and request.content_length > self._max_body:
            return self._reject(413, f"body larger than {self._max_body} bytes", request)
        try:
            if request.content.is_eof():  # the whole body came with the headers (usual)
                raw = await request.read()
            else:  # a deadline only for a body still on its way: a timer per request
                async with asyncio.timeout(self._body_timeout):  # is a Qt timer under qasync
                    raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._reject(413, f"body larger than {self._max_body} bytes", request)
        except TimeoutError:
            return self._reject(408, "the body did not arrive in time", request)
        try:
            payload = parse_body(raw)
        except BadValue as exc:
            return self._reject(400, f"body refused: {exc}", request)
        except (ValueError, RecursionError):
            return self._reject(400, "body is not valid JSON", request)
        if not isinstance(payload, dict):
            return self._reject(
                400,
                f"a Kaphila webhook must be a JSON object, not {type(payload).__name__}",
                request,
            )
        now = self._clock()
        try:
            at = event_time(payload.get("timestamp"), now)
            params = WebhookHelper.process_webhook(payload, self._client)
        except BadValue as exc:
            return self._reject(400, str(exc), request)
        except TwilioException as exc:
            return self._reject(400, exc.msg, request)
        self.last_received_at = now
        self.accepted += 1
        event = webhook_event(params, payload, at, now)
        stored = self._on_event(event)
        if stored is not None and not await stored:
            return self._reject(
                503, "the console could not store this event; deliver it again", request
            )
        return web.Response(status=204)

    def _reject(
        self, status: int, reason: str, request: web.Request, log_it: bool = True
    ) -> web.Response:
        self.rejected += 1
        if log_it:
            log.warning("webhook refused (%d): %s, from %s", status, reason, request.remote)
        response = web.json_response({"error": reason}, status=status)
        if status == 408:  # the rest of that body may still trickle in: hang up
            response.force_close()
        return response


def event_time(value: object, fallback: float) -> float:
    """The event's time, validated here once: no timestamp means "now"; one that
    is not a real time between 2000 and 2100 is refused."""
    if value is None:
        return fallback
    if not isinstance(value, str) or len(value) > 64:
        raise BadValue("timestamp is not an ISO 8601 time")
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        at = parsed.timestamp()
    except (ValueError, OverflowError) as exc:
        raise BadValue(f"timestamp {value!r} is not a valid time") from exc
    if not EARLIEST <= at < LATEST:
        raise BadValue(f"timestamp {value!r} is out of range")
    return at
