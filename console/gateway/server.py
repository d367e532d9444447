"""The gateway's aiohttp application and its life: start, serve, stop.

``Gateway`` runs inside a running loop; ``GatewayThread`` runs one on a private
loop in a background thread (tests, blocking callers).

Start, in order: bind the port (a taken port fails first, before anything is
spent), load the secret, start our nats-server unless ``--nats`` was given,
connect and make sure the streams and buckets exist, build the
``GatewayContext``, start the workers (``workers.start_workers``), serve.
Stop, in order: stop accepting and let requests in flight finish, cancel the
workers, close the upstream session, drain NATS, stop our nats-server.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from dataclasses import dataclass
from types import TracebackType
from typing import Self, TypeVar

import nats.errors
from aiohttp import web
from console.gateway import bus, intake, proxy, team_api, teamfeed, upstream, wire, workers
from console.gateway.authority import DIRECTORY_KEY, Directory
from console.gateway.config import ConfigError, GatewayConfig
from console.gateway.context import CONTEXT_KEY, GatewayContext
from console.gateway.hosts import HostPolicy
from console.gateway.httpio import (
    BODY_TIMEOUT_KEY,
    MAX_BODY_KEY,
    error_response,
    json_errors_middleware,
)
from console.gateway.natsserver import NatsServer, NatsServerError
from console.gateway.secrets import SecretError, load_secret
from console.gateway.team import Presence, TeamWorker
from console.gateway.teamfeed import Feed
from console.loopthread import LoopThread

log = logging.getLogger("kaphila.gateway.server")

SHUTDOWN_TIMEOUT = 10.0  # requests in flight get this long to finish at stop
IDLE_TIMEOUT = 10.0  # a connection idle, or trickling its headers, is closed after this
READY_TIMEOUT = 2.0
CANCEL_GRACE = 0.5  # a worker not ended this long after cancel() is cancelled again
CANCEL_ROUNDS = 20

T = TypeVar("T")


class StartError(RuntimeError):
    """The gateway cannot start; the message is the one line the operator reads."""


# ----------------------------------------------------------------- health


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"success": True, "alive": True})


async def readyz(request: web.Request) -> web.Response:
    """200 when NATS is connected and the events stream answers, else 503 and why."""
    ctx = request.app[CONTEXT_KEY]
    if not ctx.nc.is_connected:
        return error_response(503, "not ready: NATS is not connected (reconnecting)")
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            await ctx.js.stream_info(wire.EVENTS_STREAM)
    except TimeoutError:
        return error_response(
            503, f"not ready: the events stream did not answer within {READY_TIMEOUT:g} s"
        )
    except nats.errors.Error as exc:
        return error_response(503, f"not ready: the events stream is not available ({exc})")
    return web.json_response({"success": True, "ready": True})


@dataclass
class TeamParts:
    """Team mode's pieces of one gateway process (docs/TEAM.md)."""

    directory: Directory
    feed: Feed
    presence: Presence


def build_app(ctx: GatewayContext, team_parts: TeamParts | None = None) -> web.Application:
    config = ctx.config
    app = web.Application(client_max_size=config.max_body, middlewares=[json_errors_middleware])
    app[CONTEXT_KEY] = ctx
    app[MAX_BODY_KEY] = config.max_body
    app[BODY_TIMEOUT_KEY] = config.body_timeout
    app[proxy.POLICY_KEY] = HostPolicy(allow_loopback=config.allow_loopback)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    if team_parts is not None:
        app[DIRECTORY_KEY] = team_parts.directory
        teamfeed.attach(app, team_parts.feed)
        team_api.add_routes(app, team_parts.presence)
    proxy.add_routes(app)
    intake.add_routes(app)
    return app


# ----------------------------------------------------------------- the gateway


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to host:port (not yet listening); StartError when it cannot be."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise StartError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartError(
                f"port {port} on {host} is already in use; choose another with --port"
            ) from None
        raise StartError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


async def cancel_workers(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel the workers and wait until each has ended.

    One ``cancel()`` is not always enough on Python 3.11: ``asyncio.wait_for``
    (nats-py's fetch waits with it) swallows a cancellation that arrives as the
    message it waited for does, and the worker's loop goes on fetching. So a
    worker still running after a moment is cancelled again."""
    pending = set(tasks)
    for _ in range(CANCEL_ROUNDS):
        if not pending:
            return
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=CANCEL_GRACE)
    if pending:
        log.warning("%d worker(s) would not stop; leaving them", len(pending))


class Gateway:
    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self._ctx: GatewayContext | None = None
        self._runner: web.AppRunner | None = None
        self._nats: NatsServer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._team: TeamParts | None = None

    @property
    def ctx(self) -> GatewayContext:
        if self._ctx is None:
            raise RuntimeError("the gateway is not running")
        return self._ctx

    @property
    def url(self) -> str:
        """Where it listens (http://HOST:PORT), once started."""
        return self.config.listen_url

    @property
    def nats_url(self) -> str:
        return self._nats.url if self._nats is not None else self.config.nats_url or ""

    async def start(self) -> None:
        """Start everything; StartError (one line for the operator) when it cannot."""
        try:
            config = self.config.validated()
        except ConfigError as exc:
            raise StartError(str(exc)) from None
        sock = bind(config.host, config.port)
        try:
            await self._start(config, sock)
        except BaseException:
            sock.close()
            await self.stop()
            raise

    async def _start(self, config: GatewayConfig, sock: socket.socket) -> None:
        host, port = sock.getsockname()[:2]
        config = config.bound(str(host), int(port))
        self.config = config
        try:
            secret = load_secret(secret_file=config.secret_file, data=config.data)
        except SecretError as exc:
            raise StartError(str(exc)) from None
        nats_url = config.nats_url
        if nats_url is None:
            self._nats = NatsServer(config.data / "nats" if config.data else None)
            try:
                await asyncio.to_thread(self._nats.start)
            except NatsServerError as exc:
                self._nats = None
                raise StartError(str(exc)) from None
            nats_url = self._nats.url
        try:
            opened = await bus.open_bus(nats_url)
        except bus.BusError as exc:
            raise StartError(str(exc)) from None
        self._ctx = GatewayContext(
            config=config,
            nc=opened.nc,
            js=opened.js,
            calls=opened.calls,
            callids=opened.callids,
            programs=opened.programs,
            live=opened.live,
            stats=opened.stats,
            presence=opened.presence,
            sealer=secret.sealer(),
            mac_key=secret.mac_key(),
            upstream=upstream.make_session(config),
        )
        self._tasks = list(await workers.start_workers(self._ctx))
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(TeamWorker(self._ctx).run(), name="team-worker"))
        if config.team:
            parts = self._team = TeamParts(
                await Directory.open(self._ctx.js), Feed(self._ctx), Presence(self._ctx)
            )
            self._tasks.append(loop.create_task(parts.feed.run(), name="team-feed"))
            self._tasks.append(loop.create_task(parts.presence.run(), name="presence"))
        # No access log: intake paths are capabilities, and per-request lines are
        # DEBUG-only (httpio, intake, proxy).
        self._runner = web.AppRunner(
            build_app(self._ctx, self._team),
            access_log=None,
            keepalive_timeout=IDLE_TIMEOUT,
            lingering_time=min(2.0, config.body_timeout),
            shutdown_timeout=SHUTDOWN_TIMEOUT,
        )
        await self._runner.setup()
        await web.SockSite(self._runner, sock, backlog=1024).start()
        log.info(
            "gateway at %s (public %s), upstream %s, NATS %s",
            config.listen_url,
            config.public_url,
            config.upstream,
            "our own" if self._nats else "given",
        )

    async def stop(self) -> None:
        """Stop accepting, let requests in flight finish, then stop the rest."""
        runner, self._runner = self._runner, None
        parts, self._team = self._team, None
        if parts is not None:
            parts.feed.close_all()  # desks' streams end now (with "bye"), not at the timeout
        if runner is not None:
            await runner.cleanup()
        if parts is not None:
            await parts.directory.close()
        tasks, self._tasks = self._tasks, []
        await cancel_workers(tasks)
        ctx, self._ctx = self._ctx, None
        if ctx is not None:
            await upstream.close_session(ctx.upstream)
            await bus.close(ctx.nc)
        server, self._nats = self._nats, None
        if server is not None:
            await asyncio.to_thread(server.stop)

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


class GatewayThread(LoopThread):
    """A gateway on its own loop in a daemon thread: ``with GatewayThread(cfg) as gw:``.

    ``gw.url`` is where it listens, ``gw.ctx`` its context (use it only through
    ``gw.run(coro)``, which runs a coroutine on the gateway's loop)."""

    def __init__(self, config: GatewayConfig) -> None:
        self.gateway = Gateway(config)
        super().__init__(self.gateway, "kaphila-gateway", timeout=30)

    @property
    def url(self) -> str:
        return self.gateway.url

    @property
    def ctx(self) -> GatewayContext:
        return self.gateway.ctx
