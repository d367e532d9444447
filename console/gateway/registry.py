"""Call registrations in JetStream KV: ``kgw_calls`` (token -> Registration) and
its index ``kgw_callids`` (callId -> token).

A registration is written before Kaphila is asked to place the call, so the
first webhook always finds it; its callId arrives with Kaphila's answer.
Changes go through ``update``: compare-and-set on the entry's revision, retried
when another gateway process changed it in between, so no change is lost.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import nats.js.errors

from console.gateway import wire
from console.gateway.context import GatewayContext

log = logging.getLogger("kaphila.gateway.registry")

UPDATE_ATTEMPTS = 50  # far past any real contention: a few processes, one call
MAX_SCAN = 10_000  # registrations read by for_account (a scan until issue 13 indexes)


class RegistryError(RuntimeError):
    pass


def _encode(reg: wire.Registration) -> bytes:
    return json.dumps(reg.to_json(), separators=(",", ":")).encode()


def _decode(raw: bytes | None) -> wire.Registration:
    return wire.Registration.from_json(json.loads(raw or b"{}"))


async def put(ctx: GatewayContext, reg: wire.Registration) -> None:
    await ctx.calls.put(reg.token, _encode(reg))


async def get(ctx: GatewayContext, token: str) -> wire.Registration | None:
    try:
        entry = await ctx.calls.get(token)
    except nats.js.errors.KeyNotFoundError:
        return None
    return _decode(entry.value)


async def delete(ctx: GatewayContext, token: str) -> None:
    await ctx.calls.delete(token)


async def token_for(ctx: GatewayContext, call_id: str) -> str | None:
    try:
        entry = await ctx.callids.get(wire.callid_key(call_id))
    except nats.js.errors.KeyNotFoundError:
        return None
    return (entry.value or b"").decode() or None


async def for_call(ctx: GatewayContext, call_id: str) -> wire.Registration | None:
    """The registration of the call Kaphila knows as ``call_id``, or None."""
    token = await token_for(ctx, call_id)
    return await get(ctx, token) if token else None


async def set_call_id(ctx: GatewayContext, token: str, call_id: str) -> None:
    """Record Kaphila's callId on the registration, and index it."""

    def record(reg: wire.Registration) -> None:
        reg.call_id = call_id

    await ctx.callids.put(wire.callid_key(call_id), token.encode())
    await update(ctx, token, record)


async def update(
    ctx: GatewayContext, token: str, mutate: Callable[[wire.Registration], None]
) -> wire.Registration | None:
    """Apply ``mutate`` to the stored registration and store it if nobody changed it
    meanwhile, else read it again and re-apply. None when there is no such token.
    ``mutate`` may run more than once: it must only set fields."""
    for _ in range(UPDATE_ATTEMPTS):
        try:
            entry = await ctx.calls.get(token)
        except nats.js.errors.KeyNotFoundError:
            return None
        reg = _decode(entry.value)
        mutate(reg)
        try:
            await ctx.calls.update(token, _encode(reg), last=entry.revision)
        except nats.js.errors.KeyWrongLastSequenceError:
            continue
        return reg
    raise RegistryError(f"a registration changed {UPDATE_ATTEMPTS} times while being updated")


async def for_account(ctx: GatewayContext, account: str) -> list[wire.Registration]:
    """The account's registrations that have a callId, newest first.

    Reads the latest value of every key (one watcher, no per-key round trip), at
    most ``MAX_SCAN`` of them."""
    watcher = await ctx.calls.watchall(ignore_deletes=True)
    found: list[wire.Registration] = []
    seen = 0
    try:
        async for entry in watcher:
            if entry is None:  # the end of what was stored when the watch began
                break
            seen += 1
            if entry.value:
                try:
                    reg = _decode(entry.value)
                except (ValueError, TypeError):
                    log.warning("skipping an unreadable registration")
                    continue
                if reg.account == account and reg.call_id is not None:
                    found.append(reg)
            if seen >= MAX_SCAN:
                log.warning("listing calls: stopped after %d registrations", MAX_SCAN)
                break
    finally:
        await watcher.stop()  # type: ignore[no-untyped-call]  # nats-py leaves it untyped
    found.sort(key=lambda reg: reg.created_at, reverse=True)
    return found
