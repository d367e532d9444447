"""The gateway's background workers (interpreter, relay, timers).

Placeholder: the lead replaces this file. ``server.Gateway.start`` calls
``start_workers(ctx)`` once the context is built, before serving, and cancels
(then awaits) every task it returns at shutdown.
"""

from __future__ import annotations

import asyncio

from console.gateway.context import GatewayContext


async def start_workers(ctx: GatewayContext) -> list[asyncio.Task[None]]:
    return []
