"""Registrations in KV: written, found by token and by callId, changed without losing
a concurrent change, listed per account."""

from __future__ import annotations

import asyncio
import time

from console.gateway import registry, wire
from console.gateway.context import GatewayContext
from console.gateway.server import GatewayThread


def _registration(account: str = "acct", created_at: float | None = None) -> wire.Registration:
    return wire.Registration(
        token=wire.new_token(),
        account=account,
        key="sealed",
        created_at=time.time() if created_at is None else created_at,
        twilio=wire.TwilioIntent(url="http://127.0.0.1/app"),
    )


def test_a_registration_round_trips(gateway: GatewayThread) -> None:
    ctx = gateway.ctx
    reg = _registration()
    gateway.run(registry.put(ctx, reg))
    assert gateway.run(registry.get(ctx, reg.token)) == reg
    assert gateway.run(registry.get(ctx, wire.new_token())) is None


def test_a_call_id_is_recorded_and_indexed(gateway: GatewayThread) -> None:
    ctx = gateway.ctx
    reg = _registration()
    gateway.run(registry.put(ctx, reg))
    call_id = "1758549398.181/odd chars+"
    gateway.run(registry.set_call_id(ctx, reg.token, call_id))
    assert gateway.run(registry.token_for(ctx, call_id)) == reg.token
    stored = gateway.run(registry.get(ctx, reg.token))
    assert stored is not None
    assert stored.call_id == call_id
    assert gateway.run(registry.token_for(ctx, "unknown")) is None


def test_concurrent_updates_are_all_applied(gateway: GatewayThread) -> None:
    ctx = gateway.ctx
    reg = _registration()
    gateway.run(registry.put(ctx, reg))

    def bump(r: wire.Registration) -> None:
        r.duration = (r.duration or 0) + 1

    async def many(ctx: GatewayContext) -> None:
        await asyncio.gather(*(registry.update(ctx, reg.token, bump) for _ in range(20)))

    gateway.run(many(ctx))
    stored = gateway.run(registry.get(ctx, reg.token))
    assert stored is not None
    assert stored.duration == 20


def test_updating_a_missing_registration_is_none(gateway: GatewayThread) -> None:
    assert gateway.run(registry.update(gateway.ctx, wire.new_token(), lambda r: None)) is None


def test_for_account_lists_placed_calls_newest_first(gateway: GatewayThread) -> None:
    ctx = gateway.ctx
    old, new, other, unplaced = (
        _registration("a", 100.0),
        _registration("a", 200.0),
        _registration("b", 300.0),
        _registration("a", 400.0),
    )
    for reg in (old, new, other, unplaced):
        gateway.run(registry.put(ctx, reg))
    for n, reg in enumerate((old, new, other)):
        gateway.run(registry.set_call_id(ctx, reg.token, f"call-{n}"))
    gateway.run(registry.delete(ctx, other.token))
    listed = gateway.run(registry.for_account(ctx, "a"))
    assert [r.call_id for r in listed] == ["call-1", "call-0"]
    assert gateway.run(registry.for_account(ctx, "b")) == []
    assert gateway.run(registry.for_account(ctx, "nobody")) == []
