"""The public Kaphila API, as the API document describes it.

    POST /makecall  /forwardcall  /voice  /gather      (documented)
    POST /hangup    GET /calls/{callId}                 (assumed; see ARCHITECTURE.md)

Every request needs ``Authorization: Bearer <key>``. Errors are JSON
``{"success": false, "error": "<message>"}`` with 400 (bad input, unknown
callId, a call that is not live), 401 (no or unknown key), 402 (no credits),
404 (unknown path or call), 408 (a body too slow to arrive), 413 (body too
large), 415 (a body that is not ``application/json``) or 429 (rate limit).
Bad input never produces a 500.

Request handling order: browser and Host checks (``guard.py``), injected
faults, then auth, then the rate limit, then the body.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import hdrs, web

from console.sandbox.config import NUMBER_RE, Account
from console.sandbox.simulator import Simulator, SimulatorError

log = logging.getLogger("kaphila.sandbox.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

DEFAULT_VOICE = "en-US-Neural2-A"
DTMF_KEYS = re.compile(r"^[0-9*#]+$")
MAX_TEXT = 4096

SIMULATOR_KEY = web.AppKey("simulator", Simulator)
MAX_BODY_KEY = web.AppKey("max_body_bytes", int)
REQUEST_TIMEOUT_KEY = web.AppKey("request_timeout", float)
ACCOUNT_KEY = web.RequestKey("account", Account)


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response({"success": False, "error": message}, status=status, headers=headers)


# --------------------------------------------------------------------- body


class Body:
    """Typed access to a JSON object body; every problem is a 400 that names
    the field and what was expected."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    @property
    def raw(self) -> dict[str, Any]:
        return self._data

    def string(
        self,
        name: str,
        *,
        required: bool = True,
        max_len: int = 256,
        pattern: re.Pattern[str] | None = None,
        hint: str = "",
    ) -> str | None:
        value = self._data.get(name)
        if value is None:
            if required:
                raise ApiError(400, f"{name} is required")
            return None
        if not isinstance(value, str):
            raise ApiError(400, f"{name} must be a string, not {_json_type(value)}")
        if len(value) > max_len:
            raise ApiError(400, f"{name} is longer than {max_len} characters")
        if pattern is not None and not pattern.match(value):
            raise ApiError(400, f"{name} {value[:40]!r} {hint}")
        return value

    def required_string(self, name: str, **kwargs: Any) -> str:
        value = self.string(name, required=True, **kwargs)
        assert value is not None
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self._data.get(name, default)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise ApiError(400, f"{name} must be true or false, not {_json_type(value)}")
        return value

    def integer(self, name: str, default: int | None, lo: int, hi: int) -> int | None:
        value = self._data.get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ApiError(400, f"{name} must be a whole number, not {_json_type(value)}")
        if isinstance(value, float):
            if not math.isfinite(value) or not value.is_integer():
                raise ApiError(400, f"{name} must be a whole number, not {value:.12g}")
            if not lo <= value <= hi:
                raise ApiError(400, f"{name} must be between {lo} and {hi}, not {value:.12g}")
            value = int(value)
        if not lo <= value <= hi:
            raise ApiError(400, f"{name} must be between {lo} and {hi}, not {value}")
        return value


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null"


# No field takes a number anywhere near this long; Python's own limit (4300
# digits) would otherwise surface as a ValueError deep inside json.loads.
MAX_INT_DIGITS = 20


class _NumberError(ValueError):
    """A JSON number the sandbox will not hold, with the message for the caller."""


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _NumberError(
            f"request body has a number of {len(text.lstrip('-'))} digits; "
            f"numbers of more than {MAX_INT_DIGITS} digits are refused"
        )
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NumberError(
            f"request body has a number out of range: {text[:24]}{'…' if len(text) > 24 else ''}"
        )
    return value


def _parse_constant(text: str) -> Any:
    raise _NumberError(
        f"request body is not valid JSON: {text} is not a number JSON allows "
        "(NaN and Infinity are not JSON)"
    )


def parse_json(raw: bytes) -> Any:
    """``json.loads`` that refuses NaN, Infinity, numbers too large for a float
    and integers of more than ``MAX_INT_DIGITS`` digits, each as a 400."""
    try:
        return json.loads(
            raw, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant
        )
    except _NumberError as exc:
        raise ApiError(400, str(exc)) from None
    except UnicodeDecodeError:
        raise ApiError(400, "request body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ApiError(
            400,
            f"request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
        ) from None
    except RecursionError:
        raise ApiError(400, "request body is nested too deeply") from None
    except ValueError as exc:  # anything else json or int() refuses: still bad input
        raise ApiError(400, f"request body is not valid JSON: {str(exc)[:100]}") from None


async def read_json_object(request: web.Request) -> Body:
    """The request's body as a JSON object, or a 400/413 that says why not."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, _too_large(request)) from None
    if not raw.strip():
        raise ApiError(400, "request body is empty; expected a JSON object")
    data = parse_json(raw)
    if not isinstance(data, dict):
        raise ApiError(400, f"request body must be a JSON object, not {_json_type(data)}")
    return Body(data)


def _too_large(request: web.Request) -> str:
    return f"request body is larger than the {request.app[MAX_BODY_KEY]}-byte limit"


def _number(body: Body, name: str) -> str:
    return body.required_string(
        name,
        max_len=32,
        pattern=NUMBER_RE,
        hint="is not a phone number of 10-15 digits without '+'",
    )


def _webhook_url(body: Body) -> str | None:
    url = body.string("webhookUrl", required=False, max_len=2048)
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiError(400, f"webhookUrl {url[:80]!r} is not an http(s) URL")
    return url


# --------------------------------------------------------------------- auth & limits


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """A token bucket per API key: ``rate`` requests a second, bursts of 2x.

    Only keys of accounts get here (auth comes first), but the table is bounded
    all the same: past ``max_keys`` the key unused for longest is forgotten."""

    def __init__(self, rate: float, max_keys: int = 10_000) -> None:
        self.rate = rate
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def allow(self, key: str) -> bool:
        if self.rate <= 0:
            return True
        capacity = max(1.0, 2 * self.rate)
        now = time.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(capacity, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        bucket.tokens = min(capacity, bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True


LIMITER_KEY = web.AppKey("rate_limiter", RateLimiter)


def authenticate(request: web.Request, accounts: dict[str, Account]) -> Account:
    header = request.headers.get("Authorization")
    if not header:
        raise ApiError(401, "missing Authorization header; expected 'Bearer <API key>'")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(401, "malformed Authorization header; expected 'Bearer <API key>'")
    account = accounts.get(key.strip())
    if account is None:
        # Never echo the key: it may be a real one sent to the wrong server.
        raise ApiError(401, "unknown API key")
    return account


@web.middleware
async def public_api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Faults, auth and rate limit for the public API (not /sandbox/, not recordings)."""
    if request.path.startswith(("/sandbox/", "/recordings/")):
        return await handler(request)
    app = request.app
    sim = app[SIMULATOR_KEY]
    sim.requests_received[_counted_as(request, sim)] += 1
    if request.match_info.http_exception is not None:
        # No such endpoint: a plain 404 (or 405), as Kaphila answers. Faults stand
        # for the API failing, so they do not fire here (the SDK's gateway probe,
        # GET /.well-known/kaphila-gateway, must not use up a test's one fault).
        return await handler(request)
    faults = sim.dispatcher.faults
    if faults.stall.fires(sim.rng):
        await asyncio.sleep(faults.stall_ms / 1000)
    if faults.error.fires(sim.rng):
        return error_response(500, "injected fault: internal server error")
    if faults.throttle.fires(sim.rng):
        return error_response(429, "injected fault: too many requests", {"Retry-After": "1"})
    account = authenticate(request, sim.accounts)
    limiter = app[LIMITER_KEY]
    if not limiter.allow(account.key):
        raise ApiError(
            429,
            f"rate limit exceeded: {limiter.rate:g} requests per second per API key",
            {"Retry-After": "1"},
        )
    request[ACCOUNT_KEY] = account
    return await handler(request)


# Distinct paths counted one by one in GET /sandbox/stats; past this, "(other paths)".
MAX_COUNTED_PATHS = 1000


def _counted_as(request: web.Request, sim: Simulator) -> str:
    """Where GET /sandbox/stats counts this request: by path when it is an
    endpoint and carries an account's key, else by endpoint pattern, so that
    requests from strangers (random paths, random call ids, bad keys) add no
    new entries."""
    resource = request.match_info.route.resource
    if request.match_info.http_exception is not None or resource is None:
        return "(no such endpoint)"
    header = request.headers.get(hdrs.AUTHORIZATION, "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or key.strip() not in sim.accounts:
        return resource.canonical
    counted = sim.requests_received
    if request.path in counted or len(counted) < MAX_COUNTED_PATHS:
        return request.path
    return "(other paths)"


@web.middleware
async def json_errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as ``{"success": false, "error": ...}``."""
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.message, exc.headers)
    except SimulatorError as exc:
        return error_response(exc.status, exc.message)
    except web.HTTPRequestEntityTooLarge:
        return error_response(413, _too_large(request))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = {
            404: f"no such endpoint: {request.method} {request.path}",
            405: f"{request.method} is not allowed on {request.path}",
        }
        return error_response(
            exc.status,
            message.get(exc.status, exc.reason),
            {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None,
        )
    except asyncio.CancelledError:
        raise
    except Exception:
        # A bug in the sandbox, not bad input: say so, keep serving, keep the trace.
        log.exception("unexpected error handling %s %s", request.method, request.path)
        return error_response(500, "internal sandbox error (this is a bug; see the log)")


JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"  # what `curl -d` says without -H
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@web.middleware
async def json_body_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A POST or PUT body must be ``application/json`` (a page can send that
    type cross-origin only after a CORS preflight, which is never granted); a
    POST with no body at all needs no type. The body is read here, in full,
    within the request timeout; handlers then read it from memory."""
    if request.method not in BODY_METHODS or request.match_info.http_exception is not None:
        return await handler(request)
    declared = hdrs.CONTENT_TYPE in request.headers
    content_type = request.content_type.lower()
    curl_default = request.method == "PUT" and content_type == FORM_TYPE
    if declared and content_type != JSON_TYPE and not curl_default:
        raise ApiError(415, _wrong_type(request.content_type))
    limit = request.app[REQUEST_TIMEOUT_KEY]
    try:
        async with asyncio.timeout(limit):
            raw = await request.read()
    except TimeoutError:
        return await _timed_out(request, limit)
    if raw and not declared:
        raise ApiError(
            415,
            f"a request body needs Content-Type: {JSON_TYPE} "
            "(curl: -H 'Content-Type: application/json', or --json)",
        )
    # `curl -X PUT URL -d '{...}'` (as the README shows for /sandbox/faults) labels
    # its JSON as a form. No browser sends a cross-origin PUT without a preflight,
    # so that label is let through on PUT when the body is a JSON object, and a
    # real form body (which never starts with "{") is still refused.
    if curl_default and not raw.lstrip().startswith(b"{"):
        raise ApiError(415, _wrong_type(request.content_type))
    return await handler(request)


def _wrong_type(content_type: str) -> str:
    return (
        f"Content-Type must be {JSON_TYPE}, not {content_type[:60]!r}; send the body as "
        "JSON with that type (curl: -H 'Content-Type: application/json', or --json)"
    )


async def _timed_out(request: web.Request, limit: float) -> web.StreamResponse:
    """Answer 408 and close the connection: what is left of the body may never come."""
    log.info(
        "closing a connection whose %s %s body took over %g s", request.method, request.path, limit
    )
    response = error_response(408, f"the request body did not arrive within {limit:g} s")
    response.force_close()
    await response.prepare(request)
    await response.write_eof()
    # The answer is written (the transport flushes it before closing); without
    # this, aiohttp would wait up to lingering_time more for the rest of the body.
    request.protocol.force_close()
    return response


# --------------------------------------------------------------------- handlers


def _context(request: web.Request) -> tuple[Simulator, Account]:
    return request.app[SIMULATOR_KEY], request[ACCOUNT_KEY]


def _note_request(sim: Simulator, call_id: str, request: web.Request, status: int) -> None:
    call = sim.calls.get(call_id)
    if call is not None:
        call.note(
            sim.clock.now(), "request", method=request.method, path=request.path, status=status
        )


async def make_call(request: web.Request) -> web.Response:
    sim, account = _context(request)
    body = await read_json_object(request)
    number = _number(body, "number")
    caller_id = _number(body, "callerId")
    if caller_id not in account.caller_ids:
        raise ApiError(400, f"callerId {caller_id} is not verified on this account")
    webhook_url = _webhook_url(body)
    use_amd = body.boolean("useAmd", False)
    voice = body.string("voiceName", required=False, max_len=64) or DEFAULT_VOICE
    ring_timeout = body.integer("ringTimeout", 30, 1, 600)
    assert ring_timeout is not None
    record = body.boolean("record", False)
    call = sim.place_call(
        account,
        number=number,
        caller_id=caller_id,
        webhook_url=webhook_url,
        use_amd=use_amd,
        voice_name=voice,
        ring_timeout=ring_timeout,
        record=record,
    )
    _note_request(sim, call.call_id, request, 200)
    return web.json_response(
        {
            "success": True,
            "callId": call.call_id,
            "status": call.status,
            "amdEnabled": use_amd,
            "voiceName": voice,
            "credits": account.credits,
            "ringTimeoutSeconds": ring_timeout,
            "timestamp": call.timeline[0]["at"] if call.timeline else None,
        }
    )


async def forward_call(request: web.Request) -> web.Response:
    sim, account = _context(request)
    body = await read_json_object(request)
    call = sim.call_for(account, body.required_string("callId", max_len=64))
    number = _number(body, "forwardNumber")
    leg = sim.forward(account, call, number)
    _note_request(sim, call.call_id, request, 200)
    return web.json_response(
        {"success": True, "message": f"Call forwarded to {number}", "forwardedCallId": leg.call_id}
    )


async def voice(request: web.Request) -> web.Response:
    sim, account = _context(request)
    body = await read_json_object(request)
    call = sim.call_for(account, body.required_string("callId", max_len=64))
    text = body.required_string("text", max_len=MAX_TEXT)
    if not text.strip():
        raise ApiError(400, "text is empty; there is nothing to speak")
    play_to = body.string("playTo", required=False, max_len=32) or "bridge"
    voice_name = body.string("voiceName", required=False, max_len=64)
    playback_id = sim.speak(call, text, voice_name, play_to)
    _note_request(sim, call.call_id, request, 200)
    return web.json_response(
        {
            "success": True,
            "message": "TTS played successfully",
            "playbackId": playback_id,
            "endsInMs": sim.speech_ends_in_ms(call),
        }
    )


async def gather(request: web.Request) -> web.Response:
    sim, account = _context(request)
    body = await read_json_object(request)
    call = sim.call_for(account, body.required_string("callId", max_len=64))
    prompt = body.string("text", required=False, max_len=MAX_TEXT)
    num_digits = body.integer("numDigits", None, 1, 64)
    timeout_ms = body.integer("timeout", 10000, 100, 600_000)
    assert timeout_ms is not None
    finish_on_key = body.string(
        "finishOnKey",
        required=False,
        max_len=1,
        pattern=DTMF_KEYS,
        hint="is not one of 0-9, * or #",
    )
    valid_digits = body.string(
        "validDigits",
        required=False,
        max_len=12,
        pattern=DTMF_KEYS,
        hint="may only hold 0-9, * and #",
    )
    started = sim.start_gather(
        call,
        prompt=prompt or None,
        num_digits=num_digits,
        timeout_ms=timeout_ms,
        finish_on_key=finish_on_key or None,
        valid_digits=valid_digits or None,
    )
    _note_request(sim, call.call_id, request, 200)
    return web.json_response(
        {
            "success": True,
            "message": "Gather started",
            "gatherId": started.gather_id,
            "endsInMs": sim.speech_ends_in_ms(call),
        }
    )


async def hangup(request: web.Request) -> web.Response:
    sim, account = _context(request)
    body = await read_json_object(request)
    call = sim.call_for(account, body.required_string("callId", max_len=64))
    sim.hangup(call, by="caller")
    _note_request(sim, call.call_id, request, 200)
    return web.json_response(
        {
            "success": True,
            "message": f"Call {call.call_id} ended",
            "callId": call.call_id,
            "status": call.status,
            "duration": call.duration,
        }
    )


async def get_call(request: web.Request) -> web.Response:
    sim, account = _context(request)
    call_id = request.match_info["call_id"]
    call = sim.calls.get(call_id)
    if call is None or call.account_key != account.key:
        raise ApiError(404, f"no call with callId {call_id!r}")
    return web.json_response({"success": True, **call.summary_json()})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/makecall", make_call)
    app.router.add_post("/forwardcall", forward_call)
    app.router.add_post("/voice", voice)
    app.router.add_post("/gather", gather)
    app.router.add_post("/hangup", hangup)
    app.router.add_get("/calls/{call_id}", get_call)
