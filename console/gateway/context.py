"""``GatewayContext``: everything a request handler or worker needs, in one value.

Built once by ``server.Gateway.start`` after NATS is up; handed to every
worker (``workers.start_workers(ctx)``) and reachable from a request as
``request.app[CONTEXT_KEY]``. It holds no per-call state: that lives in the
key-value buckets, so any gateway process can serve any call.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from console.gateway.config import GatewayConfig
from console.gateway.metrics import Metrics
from console.gateway.secrets import Sealer


@dataclass
class GatewayContext:
    config: GatewayConfig  # bound: .port is the real one, .public_url is set
    nc: Client
    js: JetStreamContext
    calls: KeyValue  # wire.CALLS_BUCKET: token -> Registration JSON
    callids: KeyValue  # wire.CALLIDS_BUCKET: callid_key(callId) -> token
    programs: KeyValue  # wire.PROGRAMS_BUCKET: token -> interpreter state
    live: KeyValue  # wire.LIVE_BUCKET: the team's live calls (team.TeamWorker keeps it)
    stats: KeyValue  # wire.STATS_BUCKET: the team's figures by day
    presence: KeyValue  # wire.PRESENCE_BUCKET: each desk's status and heartbeat
    sealer: Sealer = field(repr=False)
    mac_key: bytes = field(repr=False)
    # For Kaphila only (the upstream); pass allow_redirects=False on every request:
    # a redirect would carry the Bearer key to wherever it points.
    upstream: aiohttp.ClientSession = field(repr=False)
    # The interpreter, relay and timers of this process (workers.start_workers);
    # for metrics and tests, never for state another process would need.
    runtime: Any = field(default=None, repr=False)
    # This gateway's Prometheus metrics (GET /metrics); see metrics.py.
    metrics: Metrics = field(default_factory=Metrics, repr=False)
    # Set when the gateway starts draining (SIGTERM): /readyz answers 503, the
    # workers stop fetching, long-lived responses (the team stream) should end.
    draining: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def public_url(self) -> str:
        assert self.config.public_url is not None  # set by GatewayConfig.bound
        return self.config.public_url


CONTEXT_KEY = web.AppKey("gateway_context", GatewayContext)
