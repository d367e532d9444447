"""Kaphila's API, served by the gateway and forwarded to ``--upstream``.

POST /makecall /forwardcall /voice /gather /hangup, GET /calls/{callId}
    Kaphila's, with the caller's Bearer key passed through (never logged or
    kept in clear); Kaphila's status, JSON body and Retry-After come back
    verbatim. No answer: 502, or 504 for a timeout.
POST /makecall also registers the call (``wire.Registration``, written to KV
    before Kaphila is asked) and points Kaphila's webhooks at this gateway's
    intake; the client's own ``webhookUrl`` becomes the relay URL and the
    ``twilio`` extension becomes the call's TwilioIntent.
GET  /.well-known/kaphila-gateway   what the SDK probes to know a gateway
GET  /calls                         the calls placed here for the key's account
POST /calls/{callId}/twiml          run a TwiML document on a live call
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import nats.errors
from aiohttp import hdrs, web

from console.gateway import registry, team, upstream, wire
from console.gateway.authority import Caller, caller_of, refuse_act
from console.gateway.context import CONTEXT_KEY, GatewayContext
from console.gateway.extension import check_method, check_twiml, check_url, parse_intent
from console.gateway.hosts import HostPolicy
from console.gateway.httpio import (
    ApiError,
    bearer_key,
    parse_json,
    read_body,
    read_json_object,
    store_unavailable,
)
from twilio import kaphila

log = logging.getLogger("kaphila.gateway.api")

POLICY_KEY = web.AppKey("host_policy", HostPolicy)
DISCOVERY = {"gateway": "kaphila", "version": 1, "extensions": ["twilio", "documents", "calls"]}
PASSED_THROUGH = (kaphila.FORWARD_CALL, kaphila.VOICE, kaphila.GATHER, kaphila.HANGUP)
# Team mode: what each action is called on the stream, and the field it shows.
ACTIONS = {
    kaphila.VOICE: ("speak", kaphila.F_TEXT),
    kaphila.GATHER: ("gather", kaphila.F_TEXT),
    kaphila.FORWARD_CALL: ("forward", kaphila.F_FORWARD_NUMBER),
    kaphila.HANGUP: ("hangup", None),
}


def _upstream_failed(exc: upstream.UpstreamError) -> ApiError:
    return ApiError(exc.http_status, exc.message)


async def _forward(
    ctx: GatewayContext, method: str, path: str, key: str, body: bytes | None, ctype: str | None
) -> web.Response:
    try:
        answer = await upstream.request(
            ctx.upstream, ctx.config.upstream, method, path, key, body, ctype
        )
    except upstream.UpstreamError as exc:
        raise _upstream_failed(exc) from None
    return answer.response()


# ----------------------------------------------------------------- who asks


def credentials(request: web.Request) -> tuple[str, Caller | None]:
    """The key to use upstream, and the operator asking (team mode) or None
    (pass-through mode: the caller's own key goes on)."""
    ctx = request.app[CONTEXT_KEY]
    if ctx.config.upstream_key is None:
        return bearer_key(request), None
    return ctx.config.upstream_key, caller_of(request)


async def call_of(ctx: GatewayContext, call_id: str) -> wire.Registration:
    """The registration of a call placed here; 404 when there is none."""
    try:
        reg = await registry.for_call(ctx, call_id)
    except (TimeoutError, nats.errors.Error):
        raise store_unavailable("find that call") from None
    if reg is None:
        raise ApiError(404, f"no call with callId {call_id[:64]!r} was placed through this team")
    return reg


async def authorised(
    ctx: GatewayContext, caller: Caller, call_id: str
) -> tuple[wire.Registration, bool]:
    """A call the caller may act on, its TwiML document ended first (True when
    one was running); 403 otherwise."""
    reg = await call_of(ctx, call_id)
    if not caller.may_act(reg):
        raise refuse_act(caller, reg)
    try:
        ended = await team.end_document(ctx, reg)
    except (TimeoutError, nats.errors.Error):
        raise store_unavailable("end the call's TwiML document") from None
    return reg, ended


# ----------------------------------------------------------------- pass-through


async def pass_through(request: web.Request) -> web.Response:
    """POST /forwardcall, /voice, /gather, /hangup: the body as it came."""
    ctx = request.app[CONTEXT_KEY]
    key, caller = credentials(request)
    body = await read_body(request)
    ctype = request.headers.get(hdrs.CONTENT_TYPE) if body else None
    if caller is None:
        return await _forward(ctx, "POST", request.path, key, body, ctype)
    fields = parse_json(body) if body else None
    call_id = fields.get(kaphila.F_CALL_ID) if isinstance(fields, dict) else None
    if not isinstance(call_id, str) or not call_id:
        raise ApiError(400, f"{kaphila.F_CALL_ID} is required (a JSON body naming the call)")
    reg, ended = await authorised(ctx, caller, call_id)
    response = await _forward(ctx, "POST", request.path, key, body, ctype)
    if 200 <= response.status < 300:
        action, shown = ACTIONS[request.path]
        assert isinstance(fields, dict)
        detail = fields.get(shown) if shown else ""
        await team.record_action(
            ctx, reg, caller, action, detail if isinstance(detail, str) else "", ended
        )
    return response


async def get_call(request: web.Request) -> web.Response:
    """Kaphila's answer, with the call's ``webhookUrl`` shown as its caller set it:
    the gateway's own intake URL (its token lets whoever holds it post events
    for the call) stays between the gateway and Kaphila."""
    ctx = request.app[CONTEXT_KEY]
    key, caller = credentials(request)
    call_id = request.match_info["call_id"]
    if caller is not None:
        mine = await call_of(ctx, call_id)
        if not caller.may_see(mine):
            raise ApiError(
                403, f"call {call_id[:64]} belongs to {mine.owner}; it is not yours to see"
            )
    path = kaphila.CALL.format(call_id=quote(call_id, safe=""))
    try:
        answer = await upstream.request(ctx.upstream, ctx.config.upstream, "GET", path, key)
    except upstream.UpstreamError as exc:
        raise _upstream_failed(exc) from None
    data = answer.data
    hook = data.get(kaphila.F_WEBHOOK_URL) if isinstance(data, dict) else None
    if not (isinstance(hook, str) and hook.startswith(ctx.public_url + "/hooks/")):
        return answer.response()
    try:
        reg = await registry.for_call(ctx, call_id)
    except (TimeoutError, nats.errors.Error):
        reg = None
    data[kaphila.F_WEBHOOK_URL] = reg.relay_url if reg is not None else None
    return web.json_response(data, status=answer.status)


# ----------------------------------------------------------------- /makecall


def _string_field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    return value if isinstance(value, str) else ""


async def make_call(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT_KEY]
    key, caller = credentials(request)
    body = await read_json_object(request)
    policy = request.app[POLICY_KEY]
    intent = parse_intent(body.pop(wire.EXTENSION_FIELD, None), policy, ctx.sealer)
    relay = body.get(kaphila.F_WEBHOOK_URL)
    if relay is not None:
        relay = check_url(kaphila.F_WEBHOOK_URL, relay, policy)
    token = wire.new_token()
    reg = wire.Registration(
        token=token,
        account=wire.account_of(key),
        key=ctx.sealer.seal(key),
        created_at=time.time(),
        relay_url=relay,
        twilio=intent,
        to=_string_field(body, kaphila.F_NUMBER),
        from_=_string_field(body, kaphila.F_CALLER_ID),
        owner=caller.name if caller is not None else "",
    )
    try:
        await registry.put(ctx, reg)
    except (TimeoutError, nats.errors.Error):
        raise store_unavailable("place calls") from None
    hook = ctx.public_url + wire.HOOK_PATH.format(token=wire.sign_token(token, ctx.mac_key))
    body[kaphila.F_WEBHOOK_URL] = hook
    sent = json.dumps(body, separators=(",", ":")).encode()
    try:
        answer = await upstream.request(
            ctx.upstream,
            ctx.config.upstream,
            "POST",
            kaphila.MAKE_CALL,
            key,
            sent,
            "application/json",
        )
    except upstream.UpstreamError as exc:
        if not exc.maybe_done:  # Kaphila surely placed no call
            await _forget(ctx, token)
        raise _upstream_failed(exc) from None
    call_id = answer.data.get(kaphila.F_CALL_ID) if isinstance(answer.data, dict) else None
    if answer.ok and isinstance(call_id, str) and call_id:
        try:
            await registry.set_call_id(ctx, token, call_id)
        except (TimeoutError, nats.errors.Error, registry.RegistryError) as exc:
            # The call is placed; its webhooks still carry the token, so the
            # interpreter learns the callId from the first of them.
            log.warning("call %s placed, but its callId is not stored yet: %s", call_id, exc)
        reg.call_id = call_id
        try:
            await team.publish_placed(ctx, reg)
        except (TimeoutError, nats.errors.Error) as exc:
            log.error(
                "call %s placed, but not announced on the stream: %s",
                call_id,
                exc,
                extra={"call_id": call_id, "operator": reg.owner},
            )
        log.debug("placed call %s", call_id, extra={"call_id": call_id, "operator": reg.owner})
    else:
        await _forget(ctx, token)
    return answer.response()


async def _forget(ctx: GatewayContext, token: str) -> None:
    try:
        await registry.delete(ctx, token)
    except (TimeoutError, nats.errors.Error) as exc:
        log.warning("could not delete the registration of a call Kaphila refused: %s", exc)


# ----------------------------------------------------------------- gateway extensions


async def discovery(request: web.Request) -> web.Response:
    return web.json_response(DISCOVERY)


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def call_summary(reg: wire.Registration) -> dict[str, Any]:
    return {
        "callId": reg.call_id,
        "status": reg.status,
        "to": reg.to,
        "from": reg.from_,
        "startTime": reg.start_time,
        "endTime": reg.end_time,
        "duration": reg.duration,
        "answeredBy": reg.answered_by,
        "createdAt": _iso(reg.created_at),
    }


async def list_calls(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT_KEY]
    key, caller = credentials(request)
    try:
        found = await registry.for_account(ctx, wire.account_of(key))
    except (TimeoutError, nats.errors.Error):
        raise store_unavailable("list calls") from None
    if caller is not None:
        found = [reg for reg in found if caller.may_see(reg)]
    return web.json_response({"success": True, "calls": [call_summary(reg) for reg in found]})


DOCUMENT_KEYS = ("twiml", "url", "method")


async def set_document(request: web.Request) -> web.Response:
    """POST /calls/{callId}/twiml: ``{"twiml": ...}`` or ``{"url": ..., "method": ...}``,
    published as a document event on the call's partition; 200 once stored."""
    ctx = request.app[CONTEXT_KEY]
    key, caller = credentials(request)
    call_id = request.match_info["call_id"]
    body = await read_json_object(request)
    for name in body:
        if name not in DOCUMENT_KEYS:
            raise ApiError(
                400, f"{str(name)[:40]} is not a field here; send twiml, or url and method"
            )
    twiml, url = body.get("twiml"), body.get("url")
    if (twiml is None) == (url is None):
        raise ApiError(400, "send either twiml (a TwiML document) or url (where to fetch one)")
    if twiml is not None:
        twiml = check_twiml("twiml", twiml)
    else:
        url = check_url("url", url, request.app[POLICY_KEY])
    method = check_method("method", body.get("method") or "POST")
    try:
        reg = await registry.for_call(ctx, call_id)
    except (TimeoutError, nats.errors.Error):
        raise store_unavailable("find that call") from None
    if reg is None or reg.account != wire.account_of(key):
        raise ApiError(404, f"no call with callId {call_id[:64]!r}")
    token = reg.token
    if caller is not None and not caller.may_act(reg):
        raise refuse_act(caller, reg)
    if reg.status in kaphila.TERMINAL_TWILIO_STATUSES:
        raise ApiError(400, f"call {call_id[:64]} has ended ({reg.status}); it cannot run TwiML")
    try:
        was_running = caller is not None and await team.document_running(ctx, reg)
    except (TimeoutError, nats.errors.Error):
        raise store_unavailable("take documents") from None
    message = wire.document_message(token, call_id, twiml=twiml, url=url, method=method)
    # A client retrying with the same Idempotency-Key runs the document once.
    idempotency = request.headers.get("Idempotency-Key", "")[:100] or uuid.uuid4().hex
    try:
        await ctx.js.publish(
            wire.events_subject(call_id),
            json.dumps(message, separators=(",", ":")).encode(),
            timeout=ctx.config.publish_timeout,
            headers={"Nats-Msg-Id": f"doc:{token}:{idempotency}"},
        )
    except (TimeoutError, nats.errors.Error):
        raise store_unavailable("take documents") from None
    log.debug("document queued for call %s", call_id, extra={"call_id": call_id})
    if caller is not None:
        await team.record_action(ctx, reg, caller, "document", url or "inline TwiML", was_running)
    return web.json_response({"success": True})


def add_routes(app: web.Application) -> None:
    app.router.add_get(wire.DISCOVERY_PATH, discovery)
    app.router.add_post(kaphila.MAKE_CALL, make_call)
    for path in PASSED_THROUGH:
        app.router.add_post(path, pass_through)
    app.router.add_get(wire.CALLS_PATH, list_calls)
    app.router.add_get(kaphila.CALL, get_call)
    app.router.add_post(wire.DOCUMENT_PATH, set_document)
