"""What the gateway tells the apps about a call besides its TwiML.

- A plain-Kaphila client (its own ``webhookUrl``, no Twilio intents) gets every
  Kaphila event relayed to that URL as Kaphila posts it (JSON, the same
  ``X-Kaphila-Event-Id``), at least once.
- A Twilio app that asked for status callbacks gets Twilio's form posts, signed,
  for the events it asked for (``initiated``, ``ringing``, ``answered``,
  ``completed``), with ``ErrorCode``/``ErrorMessage`` when an application error
  ended the call.

One durable consumer over the whole events stream, shared by every gateway; a
failed delivery is retried with a growing delay (Kaphila's own webhook rule),
then given up and logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from email.utils import formatdate
from typing import Any

import nats.errors
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from console.gateway import bus, registry, wire
from console.gateway.context import GatewayContext
from console.gateway.fetcher import AppClient, FetchError
from console.gateway.interpreter import twilio_params
from twilio import kaphila

log = logging.getLogger("kaphila.gateway.relay")

RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
IDLE_LIMIT = 100_000
BATCH = 64
CALLBACK_ORDER = ("initiated", "ringing", "answered", "completed")
# Kaphila event -> the Twilio status callback events it stands for.
CALLBACK_EVENTS = {
    "call.initiated": ("initiated", "ringing"),  # Kaphila's initiated call is ringing
    "call.answered": ("answered",),
    "call.ended": ("completed",),
    "call.timeout": ("completed",),
}


class Relay:
    def __init__(self, ctx: GatewayContext, apps: AppClient) -> None:
        self.ctx = ctx
        self.apps = apps
        # Calls with nothing to relay (no relay URL, no status callback): both are
        # fixed at /makecall, so their later events need no store read.
        self._idle: OrderedDict[str, None] = OrderedDict()

    async def start(self) -> asyncio.Task[None]:
        sub = await self.ctx.js.pull_subscribe(
            f"{wire.EVENTS_SUBJECT}.*",
            durable=wire.RELAY_DURABLE,
            stream=wire.EVENTS_STREAM,
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.NEW,
                # A dead gateway's deliveries move on after this (an app slow to
                # answer gets up to the fetcher's 15 s before that would matter).
                ack_wait=max(20.0, self.ctx.config.ack_wait),
                max_ack_pending=4096,
                max_deliver=len(RETRY_DELAYS) + 1,
            ),
        )
        return asyncio.create_task(bus.consume(self._loop(sub), sub), name="relay")

    async def _loop(self, sub: Any) -> None:
        running: set[asyncio.Task[None]] = set()
        try:
            async for messages in bus.batches(sub, BATCH, 1.0, "relay", stop=self.ctx.draining):
                for msg in messages:
                    task = asyncio.create_task(self._deliver(msg))
                    running.add(task)
                    task.add_done_callback(running.discard)
            if running:  # draining: the deliveries in hand finish (and are acked)
                await asyncio.wait(set(running))
        finally:
            for task in running:
                task.cancel()

    async def _deliver(self, msg: Msg) -> None:
        try:
            await self.deliver(json.loads(msg.data))
        except asyncio.CancelledError:  # stopped mid-delivery: another gateway takes it now
            await _settle(msg.nak())
            raise
        except (FetchError, _Refused) as exc:
            attempt = msg.metadata.num_delivered
            if attempt > len(RETRY_DELAYS):
                log.warning("gave up delivering an event after %d attempts: %s", attempt, exc)
                await _settle(msg.ack())
            else:
                log.info("delivery failed (attempt %d), again later: %s", attempt, exc)
                await _settle(msg.nak(delay=RETRY_DELAYS[attempt - 1]))
            return
        except (TimeoutError, nats.errors.Error) as exc:
            log.info("relaying waits for NATS (%s)", type(exc).__name__)
            await _settle(msg.nak(delay=2.0))
            return
        except Exception:
            log.exception("relaying an event failed")
            await _settle(msg.nak(delay=5.0))
            return
        await _settle(msg.ack())

    async def deliver(self, data: dict[str, Any]) -> None:
        if data.get("kind") != "webhook":
            return
        token = str(data.get("token", ""))
        if token in self._idle:
            return
        reg = await registry.get(self.ctx, token)
        if reg is None:
            return
        intent = reg.twilio
        if not reg.relay_url and (intent is None or not intent.status_callback):
            self._idle[token] = None
            while len(self._idle) > IDLE_LIMIT:
                self._idle.popitem(last=False)
            return
        payload = data["payload"]
        if reg.relay_url:
            headers = {}
            if data.get("eventId"):
                headers["X-Kaphila-Event-Id"] = str(data["eventId"])
            status = await self.apps.post_json(reg.relay_url, payload, headers)
            if status >= 300:
                raise _Refused(f"the client's webhook URL answered HTTP {status}")
        if intent is None or not intent.status_callback:
            return
        wanted = set(intent.status_callback_events)
        for name in CALLBACK_EVENTS.get(str(payload.get("event")), ()):
            if name not in wanted:
                continue
            params = status_params(reg, payload, name)
            params["SequenceNumber"] = str(
                sum(1 for n in CALLBACK_ORDER[: CALLBACK_ORDER.index(name)] if n in wanted)
            )
            auth = self.ctx.sealer.open(intent.auth_token if intent.auth_token else reg.key)
            status, _, _ = await self.apps.form(
                intent.status_callback, intent.status_callback_method, params, auth
            )
            if status >= 300:
                raise _Refused(f"the status callback answered HTTP {status}")


def status_params(reg: wire.Registration, payload: dict[str, Any], name: str) -> dict[str, str]:
    """Twilio's status callback parameters for one callback event."""
    params = twilio_params(reg)
    # The event names its call even before the registration has learnt the id
    # (call.initiated can outrun Kaphila's answer to /makecall).
    params["CallSid"] = str(payload.get(kaphila.F_CALL_ID) or params["CallSid"])
    kaphila_status = kaphila.STATUS_TO_TWILIO.get(str(payload.get(kaphila.F_STATUS)))
    status = {
        "initiated": "initiated",
        "ringing": "ringing",
        "answered": "in-progress",
    }.get(name) or (kaphila_status or "completed")
    if name == "completed" and payload.get("event") == "call.timeout":
        status = "no-answer"
    params["CallStatus"] = status
    params["CallbackSource"] = "call-progress-events"
    params["Timestamp"] = formatdate(usegmt=True)
    params["StatusCallbackEvent"] = name
    amd = payload.get(kaphila.F_AMD)
    if isinstance(amd, dict) and amd.get("status"):
        params["AnsweredBy"] = kaphila.AMD_TO_TWILIO.get(str(amd["status"]), "human")
    if name == "completed":
        duration = payload.get(kaphila.F_DURATION)
        params["CallDuration"] = str(duration if isinstance(duration, int) else 0)
        params["Duration"] = str(-(-int(params["CallDuration"]) // 60))  # minutes, up
        if reg.error_code or reg.error_message:
            params["ErrorCode"] = str(reg.error_code or "")
            params["ErrorMessage"] = reg.error_message or ""
    return params


class _Refused(Exception):
    pass


async def _settle(awaitable: Any) -> None:
    try:
        await awaitable
    except Exception as exc:
        log.debug("relay ack failed: %s", exc)
