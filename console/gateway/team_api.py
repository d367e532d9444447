"""The team's HTTP surface besides the stream (docs/TEAM.md):

GET  /team/me                        who the token is
GET  /team/calls                     the live calls the caller may see, and the
                                     stream sequence the view includes
GET  /team/presence                  every operator's status (a supervisor), or one's own
POST /team/presence                  set one's status; also the desk's heartbeat
GET  /team/stats                     the day's figures (supervisors)
POST /team/calls/{callId}/takeover   the call becomes the supervisor's
"""

from __future__ import annotations

import logging
from typing import Any

import nats.errors
from aiohttp import web

from console.gateway import registry, team, wire
from console.gateway.authority import DIRECTORY_KEY, Caller, caller_of, supervisors_only
from console.gateway.context import CONTEXT_KEY
from console.gateway.httpio import ApiError, read_json_object, store_unavailable
from twilio import kaphila

log = logging.getLogger("kaphila.gateway.team")

PRESENCE_KEY = web.AppKey("presence", team.Presence)


async def me(request: web.Request) -> web.Response:
    caller = caller_of(request)
    ctx = request.app[CONTEXT_KEY]
    return web.json_response(
        {
            "success": True,
            "operator": caller.name,
            "role": caller.role,
            "timezone": team.zone_name(ctx),
        }
    )


async def live_calls(request: web.Request) -> web.Response:
    caller = caller_of(request)
    ctx = request.app[CONTEXT_KEY]
    try:
        seq, calls = await team.live_view(ctx)
    except (TimeoutError, nats.errors.Error):
        raise store_unavailable("list the live calls") from None
    shown = [
        {k: v for k, v in call.items() if k not in ("seq", "placed")}
        for call in calls
        if caller.supervisor or caller.name in (call.get("owner"), call.get("takenFrom"))
    ]
    return web.json_response({"success": True, "seq": seq, "calls": shown})


async def presence_listing(request: web.Request) -> web.Response:
    caller = caller_of(request)
    presence = request.app[PRESENCE_KEY]
    names = request.app[DIRECTORY_KEY].names
    return web.json_response({"success": True, "operators": presence.listing(names, caller)})


def _text(body: dict[str, Any], name: str, limit: int) -> str:
    value = body.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be a string")
    if len(value) > limit:
        raise ApiError(400, f"{name} is longer than {limit} characters")
    return value.strip()


async def set_presence(request: web.Request) -> web.Response:
    caller = caller_of(request)
    body = await read_json_object(request)
    status = body.get("status")
    if status not in team.STATUSES:
        raise ApiError(
            400, f"status must be one of {', '.join(team.STATUSES)}, not {str(status)[:40]!r}"
        )
    reason = _text(body, "reason", team.REASON_MAX) if status == "away" else ""
    call_id = _text(body, "callId", 128)
    known = request.app[PRESENCE_KEY].mirror.get(caller.name)
    if call_id and (known is None or known[0].get("callId") != call_id):  # not a heartbeat
        await _check_own_call(request, caller, call_id)
    try:
        record = await request.app[PRESENCE_KEY].post(caller, str(status), reason, call_id)
    except (TimeoutError, nats.errors.Error, RuntimeError):
        raise store_unavailable("store your status") from None
    return web.json_response({"success": True, "status": record["status"]})


async def _check_own_call(request: web.Request, caller: Caller, call_id: str) -> None:
    """A desk names only a call its operator may see as its current one (a call
    not found yet, or the store away, is taken on trust: a heartbeat must not
    fail for that)."""
    ctx = request.app[CONTEXT_KEY]
    try:
        reg = await registry.for_call(ctx, call_id)
    except (TimeoutError, nats.errors.Error):
        return
    if reg is not None and not caller.may_see(reg):
        raise ApiError(400, f"callId {call_id[:64]} is not one of your calls")


async def stats(request: web.Request) -> web.Response:
    caller = caller_of(request)
    supervisors_only(caller, "read the team's figures")
    try:
        return web.json_response(await team.today(request.app[CONTEXT_KEY]))
    except (TimeoutError, nats.errors.Error):
        raise store_unavailable("read the team's figures") from None


async def take_over(request: web.Request) -> web.Response:
    caller = caller_of(request)
    supervisors_only(caller, "take a call over")
    ctx = request.app[CONTEXT_KEY]
    call_id = request.match_info["call_id"]
    try:
        reg = await registry.for_call(ctx, call_id)
    except (TimeoutError, nats.errors.Error):
        raise store_unavailable("find that call") from None
    if reg is None:
        raise ApiError(404, f"no call with callId {call_id[:64]!r}")
    token = reg.token
    if reg.status in kaphila.TERMINAL_TWILIO_STATUSES:
        raise ApiError(400, f"call {call_id[:64]} has ended ({reg.status}); nothing to take over")
    if reg.owner == caller.name and reg.taken_from:
        # Taken over already (a retry after a 503?): announce it again; the message
        # id makes the stream keep one.
        try:
            await team.publish_action(
                ctx, reg, caller, "takeover", reg.taken_from, False, _takeover_id(reg)
            )
        except (TimeoutError, nats.errors.Error):
            raise store_unavailable("announce the take-over") from None
        return web.json_response(
            {"success": True, "callId": call_id, "owner": reg.owner, "takenFrom": reg.taken_from}
        )
    if reg.owner == caller.name:
        return web.json_response(
            {"success": True, "callId": call_id, "owner": reg.owner, "takenFrom": ""}
        )
    previous = reg.owner

    def take(r: wire.Registration) -> None:
        r.taken_from = r.owner if r.owner != caller.name else r.taken_from
        r.owner = caller.name

    try:
        ended = await team.end_document(ctx, reg)
        updated = await registry.update(ctx, token, take)
        if updated is None:
            raise ApiError(404, f"no call with callId {call_id[:64]!r}")
        await team.publish_action(
            ctx, updated, caller, "takeover", previous, ended, _takeover_id(updated)
        )
    except (TimeoutError, nats.errors.Error, registry.RegistryError):
        raise store_unavailable("take that call over") from None
    log.info(
        "call taken over from %s",
        previous or "nobody",
        extra={"call_id": call_id, "operator": caller.name},
    )
    return web.json_response(
        {"success": True, "callId": call_id, "owner": updated.owner, "takenFrom": previous}
    )


def _takeover_id(reg: wire.Registration) -> str:
    return f"takeover:{reg.token}:{reg.owner}:{reg.taken_from}"


def add_routes(app: web.Application, presence: team.Presence) -> None:
    app[PRESENCE_KEY] = presence
    app.router.add_get("/team/me", me)
    app.router.add_get("/team/calls", live_calls)
    app.router.add_get("/team/presence", presence_listing)
    app.router.add_post("/team/presence", set_presence)
    app.router.add_get("/team/stats", stats)
    app.router.add_post("/team/calls/{call_id}/takeover", take_over)
