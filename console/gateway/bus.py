"""The gateway's connection to NATS, and the streams and buckets it needs.

``connect`` reconnects forever once connected (a gateway outlives a NATS
restart; intake answers 503 meanwhile, so Kaphila retries), and logs each
disconnect and reconnect once. ``ensure_streams`` and ``ensure_buckets`` are
idempotent: any number of gateway processes may run them at the same moment
(creating a stream with the same config twice is not an error in JetStream;
one with another config is updated to ours).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.kv import KeyValue

from console.gateway import wire
from console.gateway.config import nats_servers

log = logging.getLogger("kaphila.gateway.bus")

CONNECT_TIMEOUT = 5.0
DRAIN_TIMEOUT = 5.0
PULL_MARGIN = 0.25  # a pull request may reach the server (and expire there) this much late
_STREAM_NAME_IN_USE = 10058  # JSStreamNameExistErr: exists with another config


class BusError(RuntimeError):
    """NATS could not be reached or set up; the message is for the operator."""


def event_stream_config() -> StreamConfig:
    return StreamConfig(
        name=wire.EVENTS_STREAM,
        description="Kaphila webhooks and the gateway's own call events",
        subjects=[f"{wire.EVENTS_SUBJECT}.*", f"{wire.TEAM_SUBJECT}.*"],
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        max_age=wire.STREAM_MAX_AGE_SECONDS,
        duplicate_window=wire.DUPLICATE_WINDOW_SECONDS,
    )


def timer_stream_config() -> StreamConfig:
    return StreamConfig(
        name=wire.TIMERS_STREAM,
        description="calls to wake at a time",
        subjects=[wire.TIMERS_SUBJECT],
        storage=StorageType.FILE,
        retention=RetentionPolicy.WORK_QUEUE,
    )


BUCKETS = (
    wire.CALLS_BUCKET,
    wire.CALLIDS_BUCKET,
    wire.PROGRAMS_BUCKET,
    wire.LIVE_BUCKET,
    wire.STATS_BUCKET,
    wire.PRESENCE_BUCKET,
)


@dataclass
class Bus:
    nc: Client
    js: JetStreamContext
    calls: KeyValue
    callids: KeyValue
    programs: KeyValue
    live: KeyValue
    stats: KeyValue
    presence: KeyValue


async def connect(url: str, name: str = "kaphila-gateway") -> Client:
    """A client that reconnects forever; BusError when the first connection fails."""
    await _probe(url)

    async def on_disconnected() -> None:
        if not nc.is_closed:  # nats-py calls this on a deliberate close too
            log.warning("lost the connection to NATS at %s; reconnecting", _safe(url))

    async def on_reconnected() -> None:
        log.warning("reconnected to NATS at %s", _safe(url))

    async def on_error(exc: Exception) -> None:
        log.debug("NATS: %s", exc)

    async def on_closed() -> None:
        log.info("closed the connection to NATS")

    nc = Client()
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            await nc.connect(
                servers=nats_servers(url),
                name=name,
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=1,
                connect_timeout=2,
                disconnected_cb=on_disconnected,
                reconnected_cb=on_reconnected,
                error_cb=on_error,
                closed_cb=on_closed,
            )
    except (TimeoutError, OSError, nats.errors.Error) as exc:
        await close(nc)
        raise BusError(f"cannot connect to NATS at {_safe(url)}: {exc or 'timed out'}") from None
    return nc


async def _probe(url: str) -> None:
    """A plain TCP connection first: nats-py retries forever once told to, so an
    address where nothing listens must be reported before that. For a cluster
    (a comma-separated list), one server answering is enough."""
    why = "no server given"
    for one in nats_servers(url):
        parts = urlsplit(one)
        host, port = parts.hostname or "127.0.0.1", parts.port or 4222
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                _, writer = await asyncio.open_connection(host, port)
        except (TimeoutError, OSError) as exc:
            why = "timed out" if isinstance(exc, TimeoutError) else exc.strerror or str(exc)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise BusError(f"cannot reach NATS at {_safe(url)}: {why}")


def _safe(url: str) -> str:
    """The URL(s) without user:password."""
    servers = nats_servers(url)
    if len(servers) > 1:
        return ",".join(_safe(one) for one in servers)
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return parts._replace(netloc=netloc).geturl()
    return url


async def close(nc: Client) -> None:
    """Drain a connected client (in-flight acks and subscriptions finish), or close
    one that is not connected; bounded either way."""
    if nc.is_closed:
        return
    try:
        async with asyncio.timeout(DRAIN_TIMEOUT):
            if nc.is_connected:
                await nc.drain()
            else:
                await nc.close()
    except (TimeoutError, nats.errors.Error) as exc:
        log.debug("closing NATS: %s", exc)
        if not nc.is_closed:
            async with asyncio.timeout(DRAIN_TIMEOUT):
                await nc.close()


async def consume(loop: Coroutine[Any, Any, None], sub: JetStreamContext.PullSubscription) -> None:
    """Run a worker's fetch loop over ``sub``; when it ends (cancelled at stop),
    drop the subscription. Left subscribed, its inbox may still hold a reply no
    fetch will read (a pull request's timeout status), and draining the
    connection at stop would wait on it for the whole DRAIN_TIMEOUT."""
    try:
        await loop
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()


async def batches(
    sub: Any, size: int, wait: float, what: str, stop: asyncio.Event | None = None
) -> AsyncIterator[list[Msg]]:
    """A worker's pull loop: each batch ``sub`` hands out, until ``stop`` is set
    (for ever without one). An empty wait is no news; NATS away is waited out
    (the client reconnects by itself).

    Once ``stop`` is set (the gateway is draining) no new batch is asked for and
    the loop ends; the worker finishes and acks the batch it was given before.
    A fetch still waiting then is not cancelled (nats-py may have taken a
    message off the subscription already, and it would be lost in hand, un-acked
    until ``ack_wait``): it runs out, within ``wait`` seconds. Whatever comes
    after ``stop`` (that fetch's messages, and any that a pull request still
    open at the server brings until it expires) is handed back (``_hand_back``).
    So a drain spends up to ``wait`` seconds here and leaves nothing
    un-acknowledged."""
    loop = asyncio.get_running_loop()
    open_until = 0.0  # our pull requests expire at the server by then
    late: list[Msg] = []
    while stop is None or not stop.is_set():
        started = loop.time()
        # Until then a request of ours may be open at the server, even once the
        # fetch has its message: that message may have answered an older request.
        open_until = started + wait
        try:
            messages = await sub.fetch(size, timeout=wait)
        except (nats.errors.TimeoutError, TimeoutError):
            continue
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.debug("%s: fetch failed: %s", what, exc)
            await asyncio.sleep(0.5)
            continue
        if stop is not None and stop.is_set():  # came while draining: not ours to start
            late = messages
            break
        yield messages
    await _hand_back(sub, late, open_until + PULL_MARGIN, what)


async def _hand_back(sub: Any, late: list[Msg], until: float, what: str) -> None:
    """NAK ``late`` and every message our open pull requests bring until ``until``
    (loop time), each with a delay that outlasts those requests: NAKed without
    one, a message would come straight back to a request of ours, again and
    again, each time counted as a delivery."""
    inbox = sub._sub  # nats-py's PullSubscription: the subscription its requests answer to
    loop = asyncio.get_running_loop()
    returned = 0

    async def give_back(msg: Msg) -> None:
        nonlocal returned
        with contextlib.suppress(Exception):
            await msg.nak(delay=max(0.0, until - loop.time()) + PULL_MARGIN)
            returned += 1

    for msg in late:
        await give_back(msg)
    while True:
        left = until - loop.time()
        try:
            msg = await inbox.next_msg(timeout=max(left, 0.001))
        except (nats.errors.TimeoutError, TimeoutError):
            if left <= 0:
                break
            continue
        except Exception as exc:  # closed, NATS away: nothing more will come
            log.debug("%s: handing back: %s", what, exc)
            break
        if not JetStreamContext.is_status_msg(msg):  # not a request's end (408, 404)
            await give_back(msg)
    if returned:
        log.info("%s: handed back %d message(s) that came while draining", what, returned)


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    try:
        await js.add_stream(config)
    except nats.js.errors.BadRequestError as exc:
        if exc.err_code != _STREAM_NAME_IN_USE:
            raise
        log.info("updating stream %s to this gateway's settings", config.name)
        await js.update_stream(config)


async def ensure_streams(js: JetStreamContext) -> None:
    await ensure_stream(js, event_stream_config())
    await ensure_stream(js, timer_stream_config())


async def ensure_bucket(js: JetStreamContext, bucket: str) -> KeyValue:
    try:
        return await js.create_key_value(
            KeyValueConfig(
                bucket=bucket,
                history=1,
                storage=StorageType.FILE,
                # A call's registration and program outlive the events that name
                # them, then go: the buckets do not grow with every call ever made.
                ttl=wire.STATE_TTL_SECONDS,
            )
        )
    except nats.js.errors.BadRequestError as exc:
        if exc.err_code != _STREAM_NAME_IN_USE:
            raise
        # Made by another version with other settings: use it as it is.
        log.info("key-value bucket %s exists with other settings; using it", bucket)
        return await js.key_value(bucket)


async def open_bus(url: str) -> Bus:
    """Connect, and make sure every stream and bucket exists."""
    nc = await connect(url)
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        buckets = [await ensure_bucket(js, name) for name in BUCKETS]
    except (TimeoutError, nats.errors.Error) as exc:
        await close(nc)
        raise BusError(
            f"NATS at {_safe(url)} could not set up the gateway's streams: {exc} "
            "(is JetStream enabled on it? nats-server -js)"
        ) from None
    return Bus(nc, js, *buckets)
