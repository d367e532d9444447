"""The gateway's aiohttp application and its life: start, serve, stop.

``Gateway`` runs inside a running loop; ``GatewayThread`` runs one on a private
loop in a background thread (tests, blocking callers).

Start, in order: bind the port (a taken port fails first, before anything is
spent), load the secret, start our nats-server unless ``--nats`` was given,
connect and make sure the streams and buckets exist, build the
``GatewayContext``, start the workers (``workers.start_workers``), serve.
Stop, in order: stop accepting and let requests in flight finish, cancel the
workers, close the upstream session, drain NATS, stop our nats-server.
Drain (SIGTERM, ``Gateway.drain``): ``ctx.draining`` is set first (``/readyz``
answers 503), then the listener closes while the requests in flight finish and
the workers stop fetching and finish (ack) or hand back (NAK) the messages they
hold; then the stop above, all within ``--drain-timeout``.
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
import nats.js.errors
from aiohttp import hdrs, web
from nats.js import JetStreamContext

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
from console.gateway.metrics import CONTENT_TYPE as METRICS_TYPE
from console.gateway.natsserver import NatsServer, NatsServerError
from console.gateway.secrets import SecretError, load_secret
from console.gateway.team import Presence, TeamWorker
from console.gateway.teamfeed import Feed
from console.loopthread import LoopThread

log = logging.getLogger("kaphila.gateway.server")

SHUTDOWN_TIMEOUT = 10.0  # requests in flight get this long to finish at stop
IDLE_TIMEOUT = 10.0  # a connection idle, or trickling its headers, is closed after this
READY_TIMEOUT = 2.0
# In the events stream's subjects (kgw.ev.*), but never stored: see events_writable.
READY_PROBE_SUBJECT = f"{wire.EVENTS_SUBJECT}.ready"
WRONG_LAST_SEQUENCE = 10071  # JetStream's err_code for a failed Nats-Expected-Last-Sequence
CANCEL_GRACE = 0.5  # a worker not ended this long after cancel() is cancelled again
CANCEL_ROUNDS = 20

T = TypeVar("T")


class StartError(RuntimeError):
    """The gateway cannot start; the message is the one line the operator reads."""


# ----------------------------------------------------------------- health


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"success": True, "alive": True})


async def readyz(request: web.Request) -> web.Response:
    """200 when this gateway can take webhooks, else 503 and why: not while it
    drains, and only while NATS is connected and the events stream takes a
    publish now (``events_writable``). Consumer lag is a metric, not a reason
    to leave the load balancer."""
    ctx = request.app[CONTEXT_KEY]
    if ctx.draining.is_set():
        return error_response(503, "not ready: draining (the gateway is stopping)")
    if not ctx.nc.is_connected:
        return error_response(503, "not ready: NATS is not connected (reconnecting)")
    why = await events_writable(ctx.js)
    if why is not None:
        return error_response(503, f"not ready: {why}")
    return web.json_response({"success": True, "ready": True})


async def events_writable(js: JetStreamContext) -> str | None:
    """None when the events stream takes a publish now, else why not.

    The probe is a publish the stream refuses and stores nothing of: it expects
    the stream's last sequence to be 2**63-1, which it never is. The refusal
    ("wrong last sequence") comes from where a webhook's ack comes from, the
    stream's leader, after the checks a webhook passes: so the stream exists,
    has a leader, is not sealed and takes publishes. One round trip, no write
    to disk (a store that cannot write makes JetStream stop, and then this
    fails too)."""
    try:
        await js.publish(
            READY_PROBE_SUBJECT,
            b"{}",
            timeout=READY_TIMEOUT,
            stream=wire.EVENTS_STREAM,
            headers={"Nats-Expected-Last-Sequence": str(2**63 - 1)},
        )
    except nats.js.errors.APIError as exc:
        if exc.err_code == WRONG_LAST_SEQUENCE:
            return None
        return f"the events stream refuses publishes ({exc.description or exc})"
    except (TimeoutError, nats.errors.TimeoutError):
        return f"the events stream did not answer within {READY_TIMEOUT:g} s"
    except nats.errors.NoRespondersError:
        return "the events stream has no leader (no responders)"
    except nats.errors.Error as exc:
        return f"the events stream is not available ({exc})"
    return None  # stored after all (it cannot be): the stream did take it


async def metrics_page(request: web.Request) -> web.Response:
    """Prometheus' text format, no token: for the scraper on the internal network
    (never expose it publicly). Holds no token, key, call id or URL."""
    ctx = request.app[CONTEXT_KEY]
    connected = ctx.nc.is_connected
    if connected:
        await ctx.metrics.read_lag(ctx.js)
    body = ctx.metrics.exposition(nats_connected=connected, draining=ctx.draining.is_set())
    return web.Response(body=body, headers={hdrs.CONTENT_TYPE: METRICS_TYPE})


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
    app.router.add_get("/metrics", metrics_page)
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


async def _until_done(
    tasks: list[asyncio.Task[None]], hurry: asyncio.Event, within: float
) -> set[asyncio.Task[None]]:
    """Wait until every task has ended, ``hurry`` is set or ``within`` seconds
    have passed; the tasks still running."""
    running = {task for task in tasks if not task.done()}
    if not running or hurry.is_set():
        return running
    waiting = asyncio.ensure_future(asyncio.wait(running))
    hurried = asyncio.ensure_future(hurry.wait())
    try:
        await asyncio.wait({waiting, hurried}, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiting.cancel()  # the wait, not the tasks
        hurried.cancel()
    return {task for task in running if not task.done()}


class Gateway:
    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self._ctx: GatewayContext | None = None
        self._runner: web.AppRunner | None = None
        self._nats: NatsServer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._drainable: list[asyncio.Task[None]] = []  # end by themselves once draining
        self._hurry = asyncio.Event()  # a drain stops waiting for the workers
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
        upstream.instrument(self._ctx.upstream, self._ctx.metrics)
        self._tasks = list(await workers.start_workers(self._ctx))
        self._drainable = list(self._tasks)
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

    async def drain(self, within: float | None = None) -> None:
        """A graceful stop (SIGTERM) within about ``within`` seconds (default
        ``--drain-timeout``).

        ``ctx.draining`` is set first: ``/readyz`` answers 503 and long responses
        (the team stream) end. Then, together: the listener closes and requests in
        flight finish (within SHUTDOWN_TIMEOUT); the workers stop fetching, finish
        and ack what they hold and hand back (NAK) what arrives meanwhile
        (``bus.batches``). Then ``stop()``: a worker still busy is cancelled (it
        hands its message back), the upstream session closes, NATS is drained and
        our nats-server stopped. Nothing is left waiting for ``ack_wait``."""
        ctx = self._ctx
        if ctx is None:
            await self.stop()
            return
        budget = self.config.drain_timeout if within is None else within
        loop = asyncio.get_running_loop()
        began = loop.time()
        ctx.draining.set()
        log.info(
            "draining: /readyz answers 503; finishing the requests and messages in hand "
            "(at most %g s)",
            budget,
        )
        if self._team is not None:
            self._team.feed.close_all()  # desks' streams end now ("bye"), not at the timeout
        runner, self._runner = self._runner, None
        closing = loop.create_task(runner.cleanup()) if runner is not None else None
        allowed = max(0.0, budget - min(bus.DRAIN_TIMEOUT, budget / 4))  # NATS' share
        still = await _until_done(self._drainable, self._hurry, allowed)
        if still:
            log.warning(
                "draining: %d worker(s) still busy after %.1f s; stopping them "
                "(their messages go back to NATS)",
                len(still),
                loop.time() - began,
            )
        if closing is not None:
            await closing
        await self.stop()
        log.info("drained in %.1f s", loop.time() - began)

    def hurry(self) -> None:
        """Make a drain in progress stop waiting for the workers (a second SIGTERM):
        what they hold is handed back to NATS at once."""
        self._hurry.set()

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
