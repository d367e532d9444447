"""The sandbox server: one aiohttp application, started inside a running loop.

``Sandbox`` is what the console embeds (on its qasync loop) and what async
tests start; ``SandboxThread`` runs one on a private loop in a background
thread for blocking callers such as the requests-based SDK's tests.
"""

from __future__ import annotations

import random
from types import TracebackType
from typing import Self

from aiohttp import web

from console.loopthread import LoopThread
from console.sandbox import api, control, guard
from console.sandbox.config import SandboxConfig
from console.sandbox.delivery import WebhookDispatcher
from console.sandbox.faults import FaultConfig
from console.sandbox.model import SimClock
from console.sandbox.simulator import Simulator


class Sandbox:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config.with_demo_account()
        self._runner: web.AppRunner | None = None
        self._sim: Simulator | None = None
        self.host = self.config.host
        self.port = self.config.port

    @property
    def simulator(self) -> Simulator:
        if self._sim is None:
            raise RuntimeError("the sandbox is not running")
        return self._sim

    @property
    def app(self) -> web.Application:
        if self._runner is None:
            raise RuntimeError("the sandbox is not running")
        return self._runner.app

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Bind and serve; raises OSError if the address is taken."""
        config = self.config
        rng = random.Random(config.seed)
        clock = SimClock(config.time_scale)
        # Faults are copied so PUT /sandbox/faults never edits the caller's config.
        faults = FaultConfig.from_mapping(config.faults.to_json())
        dispatcher = WebhookDispatcher(config, faults, clock, rng)
        sim = Simulator(config, clock, dispatcher, rng)
        # Outermost first: errors as JSON, then browser and Host refusals before
        # anything else looks at a request, then the public API's faults, auth and
        # rate limit, then the body (JSON only, read within the time limit).
        app = web.Application(
            client_max_size=config.max_body_bytes,
            middlewares=[
                api.json_errors_middleware,
                guard.browser_guard_middleware,
                api.public_api_middleware,
                api.json_body_middleware,
            ],
        )
        app[api.SIMULATOR_KEY] = sim
        app[api.MAX_BODY_KEY] = config.max_body_bytes
        app[api.REQUEST_TIMEOUT_KEY] = config.request_timeout
        app[guard.HOST_POLICY_KEY] = guard.HostPolicy(config.host, config.allowed_hosts)
        app[api.LIMITER_KEY] = api.RateLimiter(config.rate_limit)
        app[control.INITIAL_FAULTS_KEY] = config.faults.to_json()
        api.add_routes(app)
        control.add_routes(app)
        # A connection that is idle, or still sending its request line and headers,
        # is closed after request_timeout (aiohttp's keep-alive timer runs from
        # the connection's start too); a body that is not read in that time is
        # read and dropped for at most as long. The body middleware bounds reading.
        runner = web.AppRunner(
            app,
            access_log=None,
            handler_cancellation=True,
            keepalive_timeout=config.request_timeout,
            lingering_time=config.request_timeout,
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, config.host, config.port, backlog=1024)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        await dispatcher.start()
        address = runner.addresses[0]
        self.host, self.port = str(address[0]), int(address[1])
        sim.base_url = self.url
        self._runner, self._sim = runner, sim

    async def stop(self) -> None:
        """Stop serving, cancel every simulated call and pending webhook."""
        runner, sim = self._runner, self._sim
        self._runner = self._sim = None
        if sim is not None:
            await sim.close()
            await sim.dispatcher.close()
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


class SandboxThread(LoopThread):
    """A sandbox on its own loop in a daemon thread: ``with SandboxThread(cfg) as sb:``."""

    def __init__(self, config: SandboxConfig) -> None:
        self.sandbox = Sandbox(config)
        super().__init__(self.sandbox, "kaphila-sandbox")

    @property
    def url(self) -> str:
        return self.sandbox.url
