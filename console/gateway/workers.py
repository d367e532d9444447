"""The gateway's background workers: the TwiML interpreter (one consumer per
partition), the relay (JSON relays and status callbacks) and the timers.

``server.Gateway.start`` calls ``start_workers(ctx)`` once the context is built,
before serving, and cancels (then awaits) every task it returns at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib

from console.gateway.context import GatewayContext
from console.gateway.runtime import Runtime, start_runtime


async def start_workers(ctx: GatewayContext) -> list[asyncio.Task[None]]:
    runtime = await start_runtime(ctx)
    ctx.runtime = runtime
    return [*runtime.tasks, asyncio.create_task(_close_at_stop(runtime), name="apps-closer")]


async def _close_at_stop(runtime: Runtime) -> None:
    """Close the apps' client once the workers have ended: by themselves when the
    gateway drains, or cancelled at stop (this task with them)."""
    try:
        if runtime.tasks:
            await asyncio.wait(runtime.tasks)
    finally:
        with contextlib.suppress(Exception):
            await runtime.apps.close()
