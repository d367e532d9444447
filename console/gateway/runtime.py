"""The gateway's background work: the TwiML interpreter, the relay and timers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from console.gateway import timers
from console.gateway.context import GatewayContext
from console.gateway.fetcher import AppClient
from console.gateway.hosts import HostPolicy
from console.gateway.interpreter import Interpreter
from console.gateway.relay import Relay


@dataclass
class Runtime:
    interpreter: Interpreter
    relay: Relay
    apps: AppClient
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.apps.close()


async def start_runtime(ctx: GatewayContext) -> Runtime:
    policy = HostPolicy(allow_loopback=ctx.config.allow_loopback)
    apps = AppClient(policy)
    runtime = Runtime(Interpreter(ctx, apps), Relay(ctx, apps), apps)
    runtime.tasks.extend(await runtime.interpreter.start())
    runtime.tasks.append(await runtime.relay.start())
    runtime.tasks.append(await timers.start(ctx))
    return runtime
