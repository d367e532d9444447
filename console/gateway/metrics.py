"""The gateway's Prometheus metrics, served at ``GET /metrics`` (text format).

One ``Metrics`` per gateway, on ``GatewayContext.metrics``, each with its own
``CollectorRegistry`` (never prometheus-client's global one: tests run several
gateways in one process). Labels hold only fixed words and consumer names:
never a token, a key, a call id or an intake URL.

- ``kgw_webhooks_total{result}``: Kaphila webhooks at intake, by result:
  ``stored``; ``duplicate`` (a retry JetStream recognised); ``refused`` (a
  4xx: a bad URL or body); ``unavailable`` (a 503: NATS could not take it);
  ``error`` (a 500: a bug).
- ``kgw_upstream_requests_total{status}``: requests to Kaphila by its HTTP
  status (``200``, ``429``, ...), or ``timeout``, or ``error`` (no answer).
- ``kgw_interpreter_seconds`` (histogram): a webhook's arrival at a gateway
  to the interpreter's first ``/voice`` or ``/gather`` for it.
- ``kgw_fanout_seconds`` (histogram): a webhook's arrival at a gateway to its
  event written to a desk's stream.
- ``kgw_consumer_pending{consumer}``: messages a durable consumer has not
  finished, waiting plus handed out and not yet acknowledged (``interp-0`` ..
  ``interp-31``, ``relay``, ``timers``). NATS counts a message NAKed with a
  delay as handed out: for ``timers`` that includes every timer not yet due.
- ``kgw_desks_connected``: desks connected to this gateway's team stream.
- ``kgw_nats_connected``, ``kgw_draining``: 1 while connected to NATS; 1 once
  draining (SIGTERM).
- ``process_*``: this process's CPU, memory and file descriptors.

For the team hub: call ``ctx.metrics.observe_fanout(seconds)`` (or
``ctx.metrics.fanout.observe(seconds)``, the same histogram) once an event is
written to a desk's stream, and set ``ctx.metrics.desks_connected`` (a Gauge:
``.inc()`` when a desk's stream opens, ``.dec()`` when it ends).

Times measured across gateways (arrival on one, the step on another) use each
host's wall clock: keep the hosts' clocks in sync (NTP); a negative duration
counts as 0. ``kgw_consumer_pending`` is the consumer's, shared by every
gateway, so every gateway reports the same figure; it is read from NATS when
scraped, at most every ``LAG_EVERY`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import nats.errors
from nats.js import JetStreamContext
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from console.gateway import wire

log = logging.getLogger("kaphila.gateway.metrics")

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # what every Prometheus version reads
LAG_EVERY = 5.0  # consumer lag is read from NATS at most this often
LAG_TIMEOUT = 2.0
WEBHOOK_RESULTS = ("stored", "duplicate", "refused", "unavailable", "error")
# Goal for fan-out: p99 <= 100 ms (issue 13); the buckets are fine below that.
FANOUT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5)
# The interpreter's first step may wait for an app's TwiML (up to 15 s).
INTERPRETER_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20)


def default_consumers() -> list[tuple[str, str]]:
    """(stream, durable) of every consumer the gateway's workers share."""
    interpreter = [
        (wire.EVENTS_STREAM, f"{wire.INTERPRETER_DURABLE}-{partition}")
        for partition in range(wire.PARTITIONS)
    ]
    return [
        *interpreter,
        (wire.EVENTS_STREAM, wire.RELAY_DURABLE),
        (wire.TIMERS_STREAM, wire.TIMERS_DURABLE),
    ]


def upstream_status(status: int | None, *, timeout: bool = False) -> str:
    """The ``status`` label of one request to Kaphila."""
    if timeout:
        return "timeout"
    if status is None or not 100 <= status <= 599:
        return "error"
    return str(status)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.webhooks = Counter(
            "kgw_webhooks",
            "Kaphila webhooks at intake, by result",
            ["result"],
            registry=registry,
        )
        for result in WEBHOOK_RESULTS:  # every series exists from the start, at 0
            self.webhooks.labels(result)
        self.upstream_requests = Counter(
            "kgw_upstream_requests",
            "Requests to Kaphila, by its HTTP status (or timeout, error: no answer)",
            ["status"],
            registry=registry,
        )
        self.interpreter = Histogram(
            "kgw_interpreter_seconds",
            "Webhook arrival at a gateway to the interpreter's first /voice or /gather for it",
            buckets=INTERPRETER_BUCKETS,
            registry=registry,
        )
        self.fanout = Histogram(
            "kgw_fanout_seconds",
            "Webhook arrival at a gateway to its event written to a desk's stream",
            buckets=FANOUT_BUCKETS,
            registry=registry,
        )
        self.consumer_pending = Gauge(
            "kgw_consumer_pending",
            "Messages a durable consumer has not finished (waiting + un-acknowledged)",
            ["consumer"],
            registry=registry,
        )
        self.desks_connected = Gauge(
            "kgw_desks_connected",
            "Desks connected to this gateway's team stream",
            registry=registry,
        )
        self.nats_connected = Gauge(
            "kgw_nats_connected", "1 while this gateway is connected to NATS", registry=registry
        )
        self.draining = Gauge(
            "kgw_draining", "1 once this gateway is draining (SIGTERM)", registry=registry
        )
        ProcessCollector(registry=registry)
        self.consumers = default_consumers()
        self._lag_read_at = -LAG_EVERY
        self._lag_lock = asyncio.Lock()

    # ------------------------------------------------------------------ recording

    def webhook(self, result: str) -> None:
        self.webhooks.labels(result).inc()

    def upstream(self, status: int | None, *, timeout: bool = False) -> None:
        self.upstream_requests.labels(upstream_status(status, timeout=timeout)).inc()

    def observe_interpreter(self, received_at: float, at: float | None = None) -> None:
        """The first step for a webhook that arrived at ``received_at`` (epoch s)."""
        self.interpreter.observe(max(0.0, (time.time() if at is None else at) - received_at))

    def observe_fanout(self, seconds: float) -> None:
        """Webhook received -> written to a desk's stream, in seconds (the team hub's)."""
        self.fanout.observe(max(0.0, seconds))

    def watch_consumer(self, stream: str, durable: str) -> None:
        """Report another durable consumer's lag too."""
        if (stream, durable) not in self.consumers:
            self.consumers.append((stream, durable))

    # ------------------------------------------------------------------ scraping

    async def read_lag(self, js: JetStreamContext, *, force: bool = False) -> None:
        """Refresh ``kgw_consumer_pending`` from NATS unless it was read within
        ``LAG_EVERY`` seconds. A consumer NATS cannot tell about now loses its
        series until it can (a stale figure would look like a healthy one)."""
        async with self._lag_lock:
            now = time.monotonic()
            if not force and now - self._lag_read_at < LAG_EVERY:
                return
            self._lag_read_at = now

            async def one(stream: str, durable: str) -> None:
                try:
                    info = await js.consumer_info(stream, durable, timeout=LAG_TIMEOUT)
                except (TimeoutError, nats.errors.Error) as exc:
                    log.debug("consumer %s: no figures (%s)", durable, type(exc).__name__)
                    with contextlib.suppress(KeyError):
                        self.consumer_pending.remove(durable)
                    return
                pending = (info.num_pending or 0) + (info.num_ack_pending or 0)
                self.consumer_pending.labels(durable).set(pending)

            await asyncio.gather(*(one(stream, durable) for stream, durable in self.consumers))

    def exposition(self, *, nats_connected: bool, draining: bool) -> bytes:
        self.nats_connected.set(1 if nats_connected else 0)
        self.draining.set(1 if draining else 0)
        return generate_latest(self.registry)
