"""Webhook delivery: at-least-once JSON POSTs to each call's ``webhookUrl``.

Each call has its own outbox, worked by one task, so a call's events leave in
the order they happened (unless the ``reorder`` fault says otherwise) while
different calls deliver concurrently. A delivery that gets no 2xx answer in
time is retried with exponential backoff, a bounded number of times; every
attempt is written to the call's timeline.

Each POST carries ``X-Kaphila-Event-Id`` (the same on every attempt and on a
duplicate) and ``X-Kaphila-Delivery-Attempt``, so a receiver can de-duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from console.sandbox.config import SandboxConfig
from console.sandbox.faults import FaultConfig
from console.sandbox.model import Call, SimClock, masked_url

log = logging.getLogger("kaphila.sandbox.delivery")

MAX_BACKOFF_SECONDS = 30.0


@dataclass(slots=True)
class Outgoing:
    event_id: str
    event: str
    body: bytes


@dataclass(slots=True, eq=False)
class _Outbox:
    call: Call
    queue: deque[Outgoing] = field(default_factory=deque)
    held: Outgoing | None = None
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


@dataclass(slots=True)
class DeliveryStats:
    events: int = 0
    delivered: int = 0
    attempts: int = 0
    failed_attempts: int = 0
    gave_up: int = 0
    dropped: int = 0
    duplicated: int = 0
    reordered: int = 0
    delayed: int = 0

    def to_json(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


def is_loopback_url(url: str) -> bool:
    """True for http(s) URLs on localhost or a loopback IP (decided without DNS)."""
    host = (urlsplit(url).hostname or "").lower()
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WebhookDispatcher:
    def __init__(
        self, config: SandboxConfig, faults: FaultConfig, clock: SimClock, rng: random.Random
    ) -> None:
        self._config = config
        self.faults = faults
        self._clock = clock
        self._rng = rng
        self._boxes: dict[str, _Outbox] = {}
        self._session: aiohttp.ClientSession | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self.stats = DeliveryStats()

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=self._config.webhook_concurrency)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self._config.webhook_timeout),
            headers={"User-Agent": "kaphila-sandbox-webhooks/1"},
        )

    async def close(self) -> None:
        await self.cancel_all()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def cancel_all(self) -> None:
        """Abandon every queued and in-flight delivery (sandbox reset, shutdown)."""
        tasks = [box.task for box in self._boxes.values() if box.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._boxes.clear()
        self._idle.set()

    def submit(self, call: Call, event_id: str, payload: dict[str, Any]) -> None:
        """Queue one event for the call's webhook URL (no-op without one)."""
        if not call.webhook_url:
            return
        self.stats.events += 1
        body = json.dumps(payload, separators=(",", ":")).encode()
        box = self._boxes.get(call.call_id)
        if box is None:
            box = self._boxes[call.call_id] = _Outbox(call)
        box.queue.append(Outgoing(event_id, payload["event"], body))
        box.wakeup.set()
        if box.task is None:
            self._idle.clear()
            box.task = asyncio.get_running_loop().create_task(self._work(box))

    async def drain(self) -> None:
        """Wait until every queued event is delivered or given up on
        (callers bound the wait with ``asyncio.timeout``)."""
        await self._idle.wait()

    @property
    def pending(self) -> int:
        return sum(len(b.queue) + (b.held is not None) for b in self._boxes.values())

    async def _work(self, box: _Outbox) -> None:
        try:
            while True:
                if not box.queue:
                    if box.held is None:
                        break
                    # Reordering: give the call's next event a moment to overtake.
                    box.wakeup.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.faults.delay_ms / 1000):
                            await box.wakeup.wait()
                    if not box.queue:
                        held, box.held = box.held, None
                        await self._deliver(box.call, held)
                        continue
                item = box.queue.popleft()
                if self.faults.drop.fires(self._rng):
                    self.stats.dropped += 1
                    self._note(
                        box.call, "fault", fault="drop", eventId=item.event_id, event=item.event
                    )
                    continue
                if box.held is None and self.faults.reorder.fires(self._rng):
                    self.stats.reordered += 1
                    self._note(
                        box.call, "fault", fault="reorder", eventId=item.event_id, event=item.event
                    )
                    box.held = item
                    continue
                if self.faults.delay.fires(self._rng):
                    self.stats.delayed += 1
                    self._note(
                        box.call,
                        "fault",
                        fault="delay",
                        eventId=item.event_id,
                        event=item.event,
                        delayMs=self.faults.delay_ms,
                    )
                    await asyncio.sleep(self.faults.delay_ms / 1000)
                await self._deliver(box.call, item)
                if self.faults.duplicate.fires(self._rng):
                    self.stats.duplicated += 1
                    self._note(
                        box.call,
                        "fault",
                        fault="duplicate",
                        eventId=item.event_id,
                        event=item.event,
                    )
                    await self._deliver(box.call, item)
                if box.held is not None:
                    held, box.held = box.held, None
                    await self._deliver(box.call, held)
        finally:
            self._boxes.pop(box.call.call_id, None)
            if not self._boxes:
                self._idle.set()

    async def _deliver(self, call: Call, item: Outgoing) -> bool:
        assert self._session is not None, "dispatcher not started"
        url = call.webhook_url
        assert url is not None
        if not self._config.allow_remote_webhooks and not is_loopback_url(url):
            self.stats.gave_up += 1
            self._note(
                call,
                "delivery-refused",
                eventId=item.event_id,
                event=item.event,
                reason="not a loopback address; start the sandbox with "
                "--allow-remote-webhooks to deliver there",
            )
            return False
        attempts = self._config.webhook_attempts
        for attempt in range(1, attempts + 1):
            self.stats.attempts += 1
            result: int | str
            try:
                # Never follow a redirect: it could lead off loopback (past the
                # check above) or turn the POST into a GET somewhere else.
                async with self._session.post(
                    url,
                    allow_redirects=False,
                    data=item.body,
                    headers={
                        "Content-Type": "application/json",
                        "X-Kaphila-Event-Id": item.event_id,
                        "X-Kaphila-Delivery-Attempt": str(attempt),
                    },
                ) as resp:
                    await resp.read()
                    result = resp.status
            except TimeoutError:
                result = "timeout"
            except (aiohttp.ClientError, OSError) as exc:
                result = f"error: {type(exc).__name__}"
            ok = isinstance(result, int) and 200 <= result < 300
            extra: dict[str, Any] = {}
            if isinstance(result, int) and 300 <= result < 400:
                extra["note"] = "redirects are not followed; a 3xx answer is a failed delivery"
                log.warning(
                    "webhook %s for call %s: %s answered %d, a redirect; "
                    "redirects are not followed",
                    item.event,
                    call.call_id,
                    masked_url(url),
                    result,
                )
            self._note(
                call,
                "delivery",
                eventId=item.event_id,
                event=item.event,
                attempt=attempt,
                result=result,
                **extra,
            )
            if ok:
                self.stats.delivered += 1
                return True
            self.stats.failed_attempts += 1
            if attempt < attempts:
                backoff = min(
                    MAX_BACKOFF_SECONDS, self._config.webhook_backoff * 2 ** (attempt - 1)
                )
                await asyncio.sleep(backoff)
        self.stats.gave_up += 1
        self._note(
            call, "delivery-gave-up", eventId=item.event_id, event=item.event, attempts=attempts
        )
        log.warning(
            "gave up delivering %s for call %s to %s after %d attempts",
            item.event,
            call.call_id,
            masked_url(url),
            attempts,
        )
        return False

    def _note(self, call: Call, kind: str, **details: Any) -> None:
        call.note(self._clock.now(), kind, **details)
