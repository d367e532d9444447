"""Read the events stream in order from a sequence, surviving NATS going away.

``read(js, start)`` yields batches of messages from stream sequence ``start``
on, through an ephemeral pull consumer with no acknowledgements (a reader's
position is its own business: the team feed keeps it per desk, the team
worker in key-value storage). When the consumer is lost (NATS restarted, the
consumer timed out while we were away) a new one starts after the last
message yielded, so a reader never skips or repeats.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from console.gateway import wire

log = logging.getLogger("kaphila.gateway.streamreader")

BATCH = 256
WAIT = 1.0  # a fetch that finds nothing waits this long for the next message
RETRY = 0.5
CHECK_AFTER_IDLE = 3  # empty fetches in a row before we check the consumer still exists
INACTIVE = 60.0  # the server forgets a consumer nobody has pulled from for this long


async def newest(js: JetStreamContext) -> tuple[int, int]:
    """The stream's (first, last) sequence now."""
    info = await js.stream_info(wire.EVENTS_STREAM)
    return int(info.state.first_seq), int(info.state.last_seq)


async def read(js: JetStreamContext, start: int, what: str) -> AsyncIterator[list[Msg]]:
    """Batches from sequence ``start`` (≥ 1) on, forever."""
    position = max(1, start)
    while True:
        try:
            sub = await js.pull_subscribe(
                "",
                durable=None,
                stream=wire.EVENTS_STREAM,
                config=ConsumerConfig(
                    deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                    opt_start_seq=position,
                    ack_policy=AckPolicy.NONE,
                    inactive_threshold=INACTIVE,
                    max_waiting=4,
                ),
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # NATS away: wait, then ask again
            log.debug("%s: cannot read the stream yet: %s", what, exc)
            await asyncio.sleep(RETRY)
            continue
        idle = 0
        size = BATCH
        try:
            while True:
                try:
                    # nats-py's fetch of n > 1 that finds nothing waiting lingers
                    # until n came or the timeout passed: at the live end, fetch
                    # one (it returns as it comes); while behind (the last message
                    # says how many wait), whole batches.
                    messages = await sub.fetch(size, timeout=WAIT)
                except nats.errors.TimeoutError:
                    idle += 1
                    size = 1
                    if idle % CHECK_AFTER_IDLE == 0:
                        # Quiet, or our consumer is gone (NATS restarted)? Ask: an
                        # error here starts a new consumer at our position.
                        await sub.consumer_info()
                    continue
                idle = 0
                behind = messages[-1].metadata.num_pending if messages else 0
                size = BATCH if behind else 1
                fresh = [m for m in messages if m.metadata.sequence.stream >= position]
                if fresh:
                    position = fresh[-1].metadata.sequence.stream + 1
                    yield fresh
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.debug("%s: reading the stream failed (%s); resuming at %d", what, exc, position)
            await asyncio.sleep(RETRY)
        finally:
            with contextlib.suppress(Exception):  # the consumer is gone anyway
                await sub.unsubscribe()
