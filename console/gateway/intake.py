"""``POST /hooks/{token}``: Kaphila's webhooks into the JetStream events stream.

The 2xx is sent only once JetStream has acknowledged the event (stored, or
recognised as a duplicate within the stream's window: Kaphila's retries are
absorbed there, keyed by ``wire.dedupe_key``). When NATS cannot take it the
answer is 503 with Retry-After, so Kaphila delivers it again.

Checks, in order, none of which reads the store: the token's MAC (a forged
or mistyped URL is a 404), then the body as the console's listener checks it
(``application/json`` or 415, at most max_body bytes or 413, within the body
timeout or 408, JSON with sane numbers, an object with a string ``callId``, a
known ``event`` and a real ``timestamp``), each a 4xx that says why. Host and
``Origin`` are not checked: Kaphila posts from the internet to a public URL.
Nothing here logs a token, above DEBUG or below.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from datetime import UTC, datetime
from typing import Any

import nats.errors
from aiohttp import hdrs, web

from console.gateway import wire
from console.gateway.context import CONTEXT_KEY
from console.gateway.httpio import ApiError, json_type, parse_json, read_body, require_json_type
from twilio import kaphila

log = logging.getLogger("kaphila.gateway.intake")

EVENT_ID_HEADER = "X-Kaphila-Event-Id"
EVENT_ID_FIELDS = ("eventId", "id")
MAX_CALL_ID = 128
MAX_EVENT_ID = 200
RETRY_AFTER_SECONDS = "2"
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC).timestamp()
LATEST = datetime(2100, 1, 1, tzinfo=UTC).timestamp()
# The documented families (``gather.*``, ``recording.*``) may grow: a new member
# is stored like the others, and the consumers decide what it means.
_EVENT_NAME = re.compile(r"[a-z]+\.[a-z_]{1,40}")


def known_event(event: str) -> bool:
    return event in kaphila.KNOWN_EVENTS or (
        event.startswith(kaphila.KNOWN_EVENT_PREFIXES) and _EVENT_NAME.fullmatch(event) is not None
    )


def check_timestamp(value: Any) -> None:
    """None (Kaphila may leave it out) or an ISO 8601 time between 2000 and 2100."""
    if value is None:
        return
    if not isinstance(value, str) or len(value) > 64:
        raise ApiError(400, "timestamp is not an ISO 8601 time")
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        at = parsed.timestamp()
    except (ValueError, OverflowError):
        raise ApiError(400, f"timestamp {value[:40]!r} is not a valid time") from None
    if not EARLIEST <= at < LATEST:
        raise ApiError(400, f"timestamp {value[:40]!r} is out of range")


def check_payload(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ApiError(400, f"a Kaphila webhook must be a JSON object, not {json_type(data)}")
    call_id = data.get(kaphila.F_CALL_ID)
    if not isinstance(call_id, str) or not call_id or len(call_id) > MAX_CALL_ID:
        raise ApiError(
            400,
            f"callId must be a string of 1 to {MAX_CALL_ID} characters, not {json_type(call_id)}",
        )
    event = data.get(kaphila.F_EVENT)
    if not isinstance(event, str):
        raise ApiError(400, f"event must be a string, not {json_type(event)}")
    if not known_event(event):
        raise ApiError(400, f"event {event[:40]!r} is not a Kaphila event")
    check_timestamp(data.get(kaphila.F_TIMESTAMP))
    return data


def event_id(request: web.Request, payload: dict[str, Any]) -> str | None:
    """Kaphila's id for this event: the header, else an ``eventId``/``id`` field."""
    header = request.headers.get(EVENT_ID_HEADER, "").strip()
    if header:
        return header[:MAX_EVENT_ID]
    for name in EVENT_ID_FIELDS:
        value = payload.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()[:MAX_EVENT_ID]
    return None


def _unavailable(why: str) -> ApiError:
    return ApiError(
        503,
        f"the gateway cannot store this webhook right now ({why}); deliver it again",
        {hdrs.RETRY_AFTER: RETRY_AFTER_SECONDS},
    )


async def receive(request: web.Request) -> web.Response:
    """Store one webhook; counted in ``kgw_webhooks_total`` by result."""
    metrics = request.app[CONTEXT_KEY].metrics
    try:
        duplicate = await _store(request)
    except ApiError as exc:
        metrics.webhook("unavailable" if exc.status >= 500 else "refused")
        raise
    except asyncio.CancelledError:  # the caller went away: not an outcome
        raise
    except Exception:
        metrics.webhook("error")
        raise
    metrics.webhook("duplicate" if duplicate else "stored")
    return web.json_response({"success": True})


async def _store(request: web.Request) -> bool:
    """Check and store one webhook; whether JetStream had it already."""
    ctx = request.app[CONTEXT_KEY]
    token = wire.verify_token(request.match_info["token"], ctx.mac_key)
    if token is None:
        raise ApiError(404, "no such webhook URL")
    require_json_type(request)
    payload = check_payload(parse_json(await read_body(request)))
    call_id, event = payload[kaphila.F_CALL_ID], payload[kaphila.F_EVENT]
    if not ctx.nc.is_connected:
        log.debug("webhook %s for call %s refused: NATS is not connected", event, call_id)
        raise _unavailable("NATS is not connected")
    kaphila_id = event_id(request, payload)
    message = wire.webhook_message(token, payload, time.time(), kaphila_id)
    try:
        ack = await ctx.js.publish(
            wire.events_subject(call_id),
            json.dumps(message, separators=(",", ":")).encode(),
            timeout=ctx.config.publish_timeout,
            headers={"Nats-Msg-Id": wire.dedupe_key(payload, kaphila_id)},
        )
    except (TimeoutError, nats.errors.Error) as exc:
        log.debug("webhook %s for call %s not stored: %s", event, call_id, type(exc).__name__)
        raise _unavailable("NATS did not acknowledge it") from None
    log.debug(
        "webhook %s for call %s stored%s",
        event,
        call_id,
        " (a duplicate)" if ack.duplicate else f" at {ack.seq}",
    )
    return bool(ack.duplicate)


def add_routes(app: web.Application) -> None:
    # POST only: any other method on an intake URL gets a 405.
    app.router.add_post(wire.HOOK_PATH, receive)
