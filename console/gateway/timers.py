"""Durable timers: "wake this call at T", kept in JetStream, not in a process.

A timer is a message on ``kgw.timer``. The ``timers`` consumer (shared by every
gateway) takes it, hands it back with a NAK delay until it is due, then turns
it into a timer event on the call's partition, where the interpreter handles it
in order with the call's webhooks. A gateway that dies holding a timer leaves
it to be redelivered to another after ``ack_wait``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from console.gateway import bus, wire
from console.gateway.context import GatewayContext

log = logging.getLogger("kaphila.gateway.timers")

EARLY = 0.0  # a timer fires when due, never before: early would cut off the last word
BATCH = 256


async def schedule(ctx: GatewayContext, token: str, call_id: str, wake: str, until: float) -> None:
    body = {"token": token, "callId": call_id, "wake": wake, "until": until}
    await ctx.js.publish(
        wire.TIMERS_SUBJECT,
        json.dumps(body).encode(),
        stream=wire.TIMERS_STREAM,
        headers={"Nats-Msg-Id": f"t:{token}:{wake}"},
    )


async def start(ctx: GatewayContext) -> asyncio.Task[None]:
    sub = await ctx.js.pull_subscribe(
        wire.TIMERS_SUBJECT,
        durable=wire.TIMERS_DURABLE,
        stream=wire.TIMERS_STREAM,
        config=ConsumerConfig(
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=ctx.config.ack_wait,
            max_ack_pending=100_000,
        ),
    )
    return asyncio.create_task(bus.consume(_loop(ctx, sub), sub), name="timers")


async def _loop(ctx: GatewayContext, sub: Any) -> None:
    async for messages in bus.batches(sub, BATCH, 1.0, "timers", stop=ctx.draining):
        for index, msg in enumerate(messages):
            try:
                await _one(ctx, msg)
            except asyncio.CancelledError:
                # Stopped with timers in hand: give them back now, not after ack_wait.
                for left in messages[index:]:
                    await _settle(left.nak())
                raise
            except Exception as exc:
                log.warning("a timer could not be handled, again shortly: %s", exc)
                await _settle(msg.nak(delay=0.5))


async def _one(ctx: GatewayContext, msg: Msg) -> None:
    body = json.loads(msg.data)
    left = float(body["until"]) - time.time()
    if left > EARLY:
        await msg.nak(delay=left)
        return
    token, call_id, wake = str(body["token"]), str(body["callId"]), str(body["wake"])
    await ctx.js.publish(
        wire.events_subject(call_id),
        json.dumps(wire.timer_message(token, call_id, wake)).encode(),
        stream=wire.EVENTS_STREAM,
        headers={"Nats-Msg-Id": f"w:{token}:{wake}"},
    )
    await msg.ack()


async def _settle(awaitable: Any) -> None:
    try:
        await awaitable
    except Exception as exc:
        log.debug("timer ack failed: %s", exc)
