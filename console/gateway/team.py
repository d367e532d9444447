"""The team's side of the gateway (docs/TEAM.md): what the stream says about
calls besides Kaphila's webhooks, the live-call view and the day's figures,
per-call summaries in the log, and presence.

- ``placed`` and ``action`` messages go on ``kgw.team.<partition>`` of the
  events stream (``publish_placed`` / ``publish_action``); ``presence`` on
  ``kgw.team.presence``. Desks read them, with the webhooks, from the team feed.
- ``TeamWorker``: one gateway at a time (a lease in key-value storage) reads
  the stream in order and keeps ``kgw_live`` (the live calls, what a desk
  rebuilds from) and ``kgw_stats`` (the day's figures) current, and logs one
  INFO line per call when it ends. Each stored record carries the sequence of
  the last message applied to it, so a worker that dies between two writes
  applies nothing twice when the next one goes on.
- ``Presence``: desks post their status (and heartbeat); every gateway keeps
  a mirror of the bucket and marks a desk offline once its heartbeat is older
  than ``OFFLINE_AFTER`` (a compare-and-set, so one gateway does it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
import zoneinfo
from collections import OrderedDict
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js.kv import KeyValue

from console.gateway import registry, streamreader, wire
from console.gateway.authority import Caller
from console.gateway.context import GatewayContext
from twilio import kaphila
from twilio.twiml.program import Program

log = logging.getLogger("kaphila.gateway.team")

LEASE_SECONDS = 6.0
LEASE_REFRESH = 2.0
FLUSH_EVERY = 0.1  # seconds the worker gathers writes before storing them
ENDED_REMEMBERED = 10_000
OFFLINE_AFTER = 15.0
SWEEP_EVERY = 2.5
LIVENESS_EVERY = 5.0  # each gateway writes the desks it heard from this often
STATUSES = ("available", "on-call", "wrap-up", "away")
OFFLINE = "offline"
REASON_MAX = 80
ENDED_EVENTS = ("call.ended", "call.timeout")
STATUS_OF = {
    "call.initiated": "ringing",
    "call.answered": "in-progress",
}


def _dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


async def _publish(ctx: GatewayContext, subject: str, message: dict[str, Any], msg_id: str) -> int:
    ack = await ctx.js.publish(
        subject,
        _dumps(message),
        timeout=ctx.config.publish_timeout,
        headers={"Nats-Msg-Id": msg_id},
    )
    return int(ack.seq)


async def publish_placed(ctx: GatewayContext, reg: wire.Registration) -> None:
    call_id = reg.call_id or ""
    message = {
        "kind": "placed",
        "callId": call_id,
        "owner": reg.owner,
        "to": reg.to,
        "from": reg.from_,
        "at": reg.created_at,
    }
    await _publish(ctx, wire.team_subject(call_id), message, f"placed:{reg.token}")


def action_message(
    reg: wire.Registration, caller: Caller, action: str, detail: str, ended_document: bool
) -> dict[str, Any]:
    return {
        "kind": "action",
        "callId": reg.call_id or "",
        "owner": reg.owner,
        "takenFrom": reg.taken_from,
        "by": caller.name,
        "role": caller.role,
        "action": action,
        "detail": detail,
        "at": time.time(),
        "endedDocument": ended_document,
    }


async def publish_action(
    ctx: GatewayContext,
    reg: wire.Registration,
    caller: Caller,
    action: str,
    detail: str,
    ended_document: bool,
    msg_id: str | None = None,
) -> None:
    """Publish an action now; ``msg_id`` makes a retried one count once."""
    message = action_message(reg, caller, action, detail, ended_document)
    ident = msg_id or f"action:{uuid.uuid4().hex}"
    await _publish(ctx, wire.team_subject(reg.call_id or ""), message, ident)


AUDIT_RETRIES = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0)  # about 70 s in all
_retrying: set[asyncio.Task[None]] = set()


async def record_action(
    ctx: GatewayContext,
    reg: wire.Registration,
    caller: Caller,
    action: str,
    detail: str,
    ended_document: bool,
) -> None:
    """The audit of an action Kaphila has already done: published now, or, if the
    stream will not take it this moment, published again in the background (the
    same message id, so it is stored once) until it is, for about a minute; only
    then is it logged as lost. The desk's answer says what Kaphila did."""
    message = action_message(reg, caller, action, detail, ended_document)
    subject, ident = wire.team_subject(reg.call_id or ""), f"action:{uuid.uuid4().hex}"
    try:
        await _publish(ctx, subject, message, ident)
        return
    except (TimeoutError, nats.errors.Error) as exc:
        log.warning(
            "%s by %s not recorded yet (%s); trying again",
            action,
            caller.name,
            exc,
            extra={"call_id": reg.call_id, "operator": caller.name},
        )

    async def again() -> None:
        for delay in AUDIT_RETRIES:
            await asyncio.sleep(delay)
            try:
                await _publish(ctx, subject, message, ident)
                return
            except (TimeoutError, nats.errors.Error):
                continue
        log.error(
            "%s by %s done, but its record was lost: the stream refused it for a minute",
            action,
            caller.name,
            extra={"call_id": reg.call_id, "operator": caller.name},
        )

    task = asyncio.get_running_loop().create_task(again())
    _retrying.add(task)
    task.add_done_callback(_retrying.discard)


async def _program(ctx: GatewayContext, reg: wire.Registration) -> Program | None:
    try:
        entry = await ctx.programs.get(reg.token)
    except nats.js.errors.KeyNotFoundError:
        return None
    return Program.from_json(json.loads(entry.value)) if entry.value else None


def _will_run(reg: wire.Registration) -> bool:
    """A call not answered yet whose answer starts a document (``url``/``twiml``)."""
    intent = reg.twilio
    return intent is not None and bool(intent.url or intent.twiml)


async def document_running(ctx: GatewayContext, reg: wire.Registration) -> bool:
    """True while the call runs a TwiML document, or will run one once answered."""
    if reg.status in kaphila.TERMINAL_TWILIO_STATUSES:
        return False
    program = await _program(ctx, reg)
    return (not program.done) if program is not None else _will_run(reg)


async def end_document(ctx: GatewayContext, reg: wire.Registration) -> bool:
    """Stop the TwiML document a call is running (or would run once answered):
    True when there was one. A desk's action comes first."""
    if reg.status in kaphila.TERMINAL_TWILIO_STATUSES:
        return False
    program = await _program(ctx, reg)
    if program is None:
        if not _will_run(reg):
            return False  # a plain call (the SDK sends its extension all the same)
        program = Program()  # done from the start: the answer starts nothing
    elif program.done:
        return False
    program.abandon()
    program.failure = None
    await ctx.programs.put(reg.token, _dumps(program.to_json()))
    log.info("TwiML document ended by a desk's action", extra={"call_id": reg.call_id})
    return True


# ----------------------------------------------------------------- the day's figures


def zone(ctx: GatewayContext) -> zoneinfo.ZoneInfo | None:
    return zoneinfo.ZoneInfo(ctx.config.timezone) if ctx.config.timezone else None


def zone_name(ctx: GatewayContext) -> str:
    if ctx.config.timezone:
        return ctx.config.timezone
    return datetime.now().astimezone().tzname() or "local"


def day_of(at: float, tz: zoneinfo.ZoneInfo | None) -> str:
    return datetime.fromtimestamp(at, tz).strftime("%Y-%m-%d")


def empty_day(day: str) -> dict[str, Any]:
    return {
        "day": day,
        "placed": 0,
        "answered": 0,
        "notAnswered": 0,
        "amd": {"human": 0, "machine": 0, "unknown": 0},
        "handleSeconds": 0.0,
        "handled": 0,
        "perOperator": {},
        "seq": 0,
    }


def figures(day: dict[str, Any], live: int, zone_label: str) -> dict[str, Any]:
    answered, missed = int(day["answered"]), int(day["notAnswered"])
    ended = answered + missed
    handled = int(day["handled"])
    return {
        "success": True,
        "day": day["day"],
        "timezone": zone_label,
        "live": live,
        "placed": int(day["placed"]),
        "answered": answered,
        "notAnswered": missed,
        "answerRate": round(answered / ended, 4) if ended else None,
        "amd": dict(day["amd"]),
        "avgHandleSeconds": round(float(day["handleSeconds"]) / handled, 1) if handled else None,
        "perOperator": dict(day["perOperator"]),
    }


# ----------------------------------------------------------------- the team worker


class LeaseLost(Exception):
    pass


@dataclass
class Lease:
    holder: str
    revision: int = 0


class TeamWorker:
    """Keeps ``kgw_live`` and ``kgw_stats`` current; one gateway at a time."""

    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx
        self.lease = Lease(uuid.uuid4().hex)
        self.leading = False
        self.live: dict[str, dict[str, Any]] = {}
        self.days: dict[str, dict[str, Any]] = {}
        self.position = 0  # the last sequence applied
        self._dirty_live: set[str] = set()
        self._dirty_days: set[str] = set()
        self._lost = asyncio.Event()
        self._ended: OrderedDict[str, None] = OrderedDict()  # calls ended lately
        self._flush_lock = asyncio.Lock()
        self._applying = False
        self._flushed_at = 0.0
        self._written = 0  # the sequence stored last

    async def run(self) -> None:
        while True:
            try:
                if await self._acquire():
                    await self._lead()
            except asyncio.CancelledError:
                raise
            except LeaseLost:
                log.info("another gateway keeps the team's figures now")
            except Exception:
                log.exception("the team worker failed; starting again")
            self.leading = False
            await asyncio.sleep(LEASE_REFRESH)

    # ------------------------------------------------------------- lease

    async def _acquire(self) -> bool:
        kv = self.ctx.stats
        now = time.time()
        value = _dumps({"holder": self.lease.holder, "until": now + LEASE_SECONDS})
        try:
            entry = await kv.get("lease")
        except nats.js.errors.KeyNotFoundError:
            try:
                self.lease.revision = await kv.create("lease", value)
            except nats.js.errors.KeyWrongLastSequenceError:
                return False
            return True
        held = json.loads(entry.value or b"{}")
        if held.get("holder") != self.lease.holder and float(held.get("until", 0)) > now:
            return False
        try:
            self.lease.revision = await kv.update("lease", value, last=entry.revision)
        except nats.js.errors.KeyWrongLastSequenceError:
            return False
        return True

    async def _keep_lease(self) -> None:
        while True:
            await asyncio.sleep(LEASE_REFRESH)
            value = _dumps({"holder": self.lease.holder, "until": time.time() + LEASE_SECONDS})
            try:
                self.lease.revision = await self.ctx.stats.update(
                    "lease", value, last=self.lease.revision
                )
            except nats.js.errors.KeyWrongLastSequenceError:
                self._lost.set()
                return
            except (TimeoutError, nats.errors.Error) as exc:
                log.debug("could not renew the team lease: %s", exc)

    # ------------------------------------------------------------- leading

    async def _load(self) -> None:
        kv = self.ctx.stats
        try:
            meta = json.loads((await kv.get("seq")).value or b"{}")
            self.position = int(meta.get("seq", 0))
        except nats.js.errors.KeyNotFoundError:
            first, _ = await streamreader.newest(self.ctx.js)
            self.position = max(0, first - 1)
        self.live = {}
        watcher = await self.ctx.live.watchall(ignore_deletes=True)
        try:
            async for entry in watcher:
                if entry is None:
                    break
                if entry.value:
                    record = json.loads(entry.value)
                    self.live[str(record["callId"])] = record
        finally:
            await watcher.stop()  # type: ignore[no-untyped-call]
        self.days = {}
        self._written = self.position

    async def _day(self, day: str) -> dict[str, Any]:
        found = self.days.get(day)
        if found is None:
            try:
                found = json.loads((await self.ctx.stats.get(f"d.{day}")).value or b"{}")
            except nats.js.errors.KeyNotFoundError:
                found = empty_day(day)
            # Days before this one leave memory, unless a change to them is not stored yet.
            kept = {k: v for k, v in self.days.items() if k >= day or k in self._dirty_days}
            self.days = kept | {day: found}
        return found

    async def _lead(self) -> None:
        self._lost.clear()
        await self._load()
        self.leading = True
        log.info("this gateway keeps the team's figures (from sequence %d)", self.position)
        loop = asyncio.get_running_loop()
        helpers = [loop.create_task(self._keep_lease()), loop.create_task(self._flush_when_idle())]
        try:
            async for batch in streamreader.read(self.ctx.js, self.position + 1, "team worker"):
                if self._lost.is_set():
                    raise LeaseLost
                self._applying = True
                for msg in batch:
                    await self._apply(msg)
                self._applying = False
                if loop.time() - self._flushed_at >= FLUSH_EVERY:
                    await self._flush()
        finally:
            self._applying = False
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)

    async def _flush_when_idle(self) -> None:
        """Writes gathered while the stream went quiet are stored within FLUSH_EVERY."""
        while True:
            await asyncio.sleep(FLUSH_EVERY)
            if not self._applying and self._written < self.position:
                try:
                    await self._flush()
                except (TimeoutError, nats.errors.Error) as exc:
                    log.debug("storing the team's figures: %s (tried again)", exc)

    async def _flush(self) -> None:
        """Store what changed, then the sequence it covers: a snapshot taken between
        two messages (no await until it is taken), so the stored sequence never
        claims a message whose changes were not stored."""
        async with self._flush_lock:
            position, live = self.position, len(self.live)
            dirty_live, dirty_days = self._dirty_live, self._dirty_days
            self._dirty_live, self._dirty_days = set(), set()
            writes: list[Coroutine[Any, Any, object]] = []
            for call_id in dirty_live:
                record = self.live.get(call_id)
                key = wire.callid_key(call_id)
                if record is None:
                    writes.append(self.ctx.live.delete(key))
                else:
                    writes.append(self.ctx.live.put(key, _dumps(record)))
            for day in dirty_days:
                if day in self.days:
                    writes.append(self.ctx.stats.put(f"d.{day}", _dumps(self.days[day])))
            meta = _dumps({"seq": position, "live": live})
            try:
                await asyncio.gather(*writes)
                await self.ctx.stats.put("seq", meta)
            except BaseException:
                self._dirty_live |= dirty_live  # stored again next time
                self._dirty_days |= dirty_days
                raise
            self._written = position
            self._flushed_at = asyncio.get_running_loop().time()

    async def _apply(self, msg: Msg) -> None:
        seq = msg.metadata.sequence.stream
        self.position = seq
        try:
            data = json.loads(msg.data)
        except ValueError:
            return
        kind = data.get("kind")
        if kind == "placed":
            await self._placed(seq, data)
        elif kind == "webhook":
            await self._webhook(seq, data)
        elif kind == "action" and data.get("action") == "takeover":
            record = self.live.get(str(data.get("callId")))
            if record is not None and seq > record["seq"]:
                record.update(owner=data.get("by", ""), takenFrom=data.get("detail", ""), seq=seq)
                self._dirty_live.add(record["callId"])

    async def _count(self, seq: int, at: float, change: dict[str, Any]) -> None:
        day = await self._day(day_of(at, zone(self.ctx)))
        if seq <= day["seq"]:
            return
        day["seq"] = seq
        for name, value in change.items():
            if name in ("amd", "perOperator"):
                bucket = day[name]
                for key, add in value.items():
                    bucket[key] = bucket.get(key, 0) + add
            else:
                day[name] += value
        self._dirty_days.add(day["day"])

    async def _placed(self, seq: int, data: dict[str, Any]) -> None:
        call_id = str(data.get("callId") or "")
        if not call_id:
            return
        owner = str(data.get("owner") or "")
        at = float(data.get("at") or time.time())
        await self._count(seq, at, {"placed": 1, "perOperator": {owner or "-": 1}})
        if call_id in self._ended:
            return  # it ended before the gateway had said it was placed
        record = self.live.get(call_id)
        if record is None:
            record = self._record(call_id, seq)
            self.live[call_id] = record
        if seq > record["seq"] or not record.get("placed"):
            record.update(
                owner=owner or record["owner"],
                to=data.get("to", ""),
                **{"from": data.get("from", "")},
                placedAt=data.get("at"),
                placed=True,
                seq=max(seq, record["seq"]),
            )
            self._dirty_live.add(call_id)

    def _record(self, call_id: str, seq: int) -> dict[str, Any]:
        return {
            "callId": call_id,
            "owner": "",
            "takenFrom": "",
            "to": "",
            "from": "",
            "status": "queued",
            "answeredBy": None,
            "placedAt": None,
            "answeredAt": None,
            "placed": False,
            "seq": 0,
        }

    async def _webhook(self, seq: int, data: dict[str, Any]) -> None:
        payload = data.get("payload") or {}
        call_id = str(payload.get(kaphila.F_CALL_ID) or "")
        event = str(payload.get(kaphila.F_EVENT) or "")
        at = float(data.get("receivedAt") or time.time())
        record = self.live.get(call_id)
        if record is None:
            if event in ENDED_EVENTS or not call_id:
                return  # ended before (a replay), or not a call event
            record = self._record(call_id, 0)
            reg = await registry.get(self.ctx, str(data.get("token", "")))
            if reg is not None:
                record.update(owner=reg.owner, to=reg.to, **{"from": reg.from_})
                record.update(placedAt=reg.created_at, takenFrom=reg.taken_from)
            self.live[call_id] = record
        if seq <= record["seq"]:
            return
        record["seq"] = seq
        self._dirty_live.add(call_id)
        if event in ENDED_EVENTS:
            del self.live[call_id]
            self._ended[call_id] = None
            while len(self._ended) > ENDED_REMEMBERED:
                self._ended.popitem(last=False)
            if record["answeredAt"] is not None:
                handle = max(0.0, at - float(record["answeredAt"]))
                await self._count(seq, at, {"handleSeconds": handle, "handled": 1})
            else:
                await self._count(seq, at, {"notAnswered": 1})
            status = str(payload.get(kaphila.F_STATUS) or event)
            log.info(
                "call ended: %s, %s, answered by %s, %s s",
                status,
                record["owner"] or "no operator",
                record["answeredBy"] or "-",
                round(at - float(record["placedAt"] or at)),
                extra={"call_id": call_id, "operator": record["owner"]},
            )
            return
        if event == "call.answered" and record["answeredAt"] is None:
            amd = payload.get(kaphila.F_AMD)
            said = amd.get("status") if isinstance(amd, dict) else None
            # NOTSURE and no detection at all count as unknown: the figures show
            # what AMD was sure of.
            answered_by = kaphila.AMD_TO_TWILIO.get(str(said).upper(), "unknown")
            record.update(answeredAt=at, answeredBy=answered_by, status="in-progress")
            await self._count(seq, at, {"answered": 1, "amd": {answered_by: 1}})
        elif event in STATUS_OF and record["status"] in ("queued", "initiated"):
            record["status"] = STATUS_OF[event]


async def live_view(ctx: GatewayContext) -> tuple[int, list[dict[str, Any]]]:
    """(sequence the view includes, the live calls), read from ``kgw_live``."""
    try:
        meta = json.loads((await ctx.stats.get("seq")).value or b"{}")
        seq = int(meta.get("seq", 0))
    except nats.js.errors.KeyNotFoundError:
        seq = 0
    calls = []
    watcher = await ctx.live.watchall(ignore_deletes=True)
    try:
        async for entry in watcher:
            if entry is None:
                break
            if entry.value:
                calls.append(json.loads(entry.value))
    finally:
        await watcher.stop()  # type: ignore[no-untyped-call]
    return seq, calls


async def today(ctx: GatewayContext) -> dict[str, Any]:
    day = day_of(time.time(), zone(ctx))
    try:
        found = json.loads((await ctx.stats.get(f"d.{day}")).value or b"{}")
    except nats.js.errors.KeyNotFoundError:
        found = empty_day(day)
    try:
        live = int(json.loads((await ctx.stats.get("seq")).value or b"{}").get("live", 0))
    except nats.js.errors.KeyNotFoundError:
        live = 0
    return figures(found, live, zone_name(ctx))


# ----------------------------------------------------------------- presence


class Presence:
    """Each desk's status: posted by desks, mirrored by every gateway.

    A status that changes is written to ``kgw_presence`` (``p.<operator>``) and
    announced on the stream. A heartbeat (the same status posted again) is only
    noted in this gateway's memory; every ``LIVENESS_EVERY`` seconds each
    gateway writes one record (``g.<gateway>``) naming the desks it heard from
    and when. A desk is offline when neither its last change nor any
    gateway's record has heard from it for ``OFFLINE_AFTER`` seconds: 500
    desks' heartbeats cost one write per gateway every 5 s, not 100 a second.
    """

    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx
        self.kv: KeyValue = ctx.presence
        self.me = uuid.uuid4().hex[:12]
        self.mirror: dict[str, tuple[dict[str, Any], int]] = {}  # name -> (record, revision)
        self.gateways: dict[str, dict[str, Any]] = {}  # gateway -> {"at", "heard"}
        self.heard: dict[str, float] = {}  # operator -> this gateway's last heartbeat
        self._unannounced: set[str] = set()  # changes stored but not on the stream yet

    async def run(self) -> None:
        """Mirror the bucket, publish what this gateway heard, sweep, forever."""
        loop = asyncio.get_running_loop()
        helpers = [loop.create_task(self._sweep()), loop.create_task(self._publish_heard())]
        try:
            while True:
                try:
                    watcher = await self.kv.watchall()
                    try:
                        async for entry in watcher:
                            if entry is not None:
                                self._mirror(
                                    entry.key, entry.value, entry.operation, entry.revision
                                )
                    finally:
                        await watcher.stop()  # type: ignore[no-untyped-call]
                except asyncio.CancelledError:
                    raise
                except (TimeoutError, nats.errors.Error, ValueError) as exc:
                    log.debug("watching presence: %s", exc)
                await asyncio.sleep(1.0)
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)

    def _mirror(self, key: str, value: bytes | None, operation: Any, revision: int) -> None:
        kind, _, name = key.partition(".")
        gone = operation is not None or not value
        if kind == "p":
            if gone:
                self.mirror.pop(name, None)
            else:
                assert value is not None
                self.mirror[name] = (json.loads(value), revision)
        elif kind == "g":
            if gone:
                self.gateways.pop(name, None)
            else:
                assert value is not None
                self.gateways[name] = json.loads(value)

    def last_heard(self, name: str, record: dict[str, Any]) -> float:
        """The newest sign of life from ``name``'s desk, on any gateway."""
        last = max(float(record.get("seen", 0)), self.heard.get(name, 0.0))
        for other in self.gateways.values():
            last = max(last, float(other.get("heard", {}).get(name, 0.0)))
        return last

    async def post(self, caller: Caller, status: str, reason: str, call_id: str) -> dict[str, Any]:
        now = time.time()
        self.heard[caller.name] = now
        known = self.mirror.get(caller.name)
        if known is not None and caller.name not in self._unannounced:
            record = known[0]
            same = (record.get("status"), record.get("reason", ""), record.get("callId", ""))
            if same == (status, reason, call_id):
                return record  # a heartbeat: noted above, written with the others
        key = f"p.{caller.name}"
        for _ in range(5):
            try:
                entry = await self.kv.get(key)
                old = json.loads(entry.value or b"{}")
                revision: int | None = entry.revision
            except nats.js.errors.KeyNotFoundError:
                old, revision = {}, None
            changed = (old.get("status"), old.get("reason", ""), old.get("callId", "")) != (
                status,
                reason,
                call_id,
            ) or caller.name in self._unannounced
            record = {
                "operator": caller.name,
                "role": caller.role,
                "status": status,
                "reason": reason,
                "callId": call_id,
                "since": now if changed else old.get("since", now),
                "seen": now,
            }
            try:
                if revision is None:
                    revision = await self.kv.create(key, _dumps(record))
                else:
                    revision = await self.kv.update(key, _dumps(record), last=revision)
            except nats.js.errors.KeyWrongLastSequenceError:
                continue
            self.mirror[caller.name] = (record, revision)
            if changed:
                # Stored but not yet told: until it is, the same status posted again
                # (the desk's retry of a 503) is a change to announce, not a heartbeat.
                self._unannounced.add(caller.name)
                await self._announce(record)
                self._unannounced.discard(caller.name)
            return record
        raise RuntimeError("presence changed too often to be updated")

    async def _announce(self, record: dict[str, Any]) -> None:
        message = {"kind": "presence", **{k: v for k, v in record.items() if k != "seen"}}
        await _publish(
            self.ctx,
            wire.PRESENCE_SUBJECT,
            message,
            f"presence:{record['operator']}:{record['status']}:{record['since']}",
        )

    async def _publish_heard(self) -> None:
        while True:
            await asyncio.sleep(LIVENESS_EVERY)
            now = time.time()
            fresh = {n: at for n, at in self.heard.items() if at > now - OFFLINE_AFTER}
            self.heard = fresh
            if not fresh:
                continue
            try:
                await self.kv.put(f"g.{self.me}", _dumps({"at": now, "heard": fresh}))
            except (TimeoutError, nats.errors.Error) as exc:
                log.debug("publishing the desks heard here: %s", exc)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_EVERY)
            cutoff = time.time() - OFFLINE_AFTER
            for name, (record, revision) in list(self.mirror.items()):
                if record.get("status") == OFFLINE or self.last_heard(name, record) >= cutoff:
                    continue
                gone = {**record, "status": OFFLINE, "reason": "", "since": time.time()}
                try:
                    await self.kv.update(f"p.{name}", _dumps(gone), last=revision)
                except nats.js.errors.KeyWrongLastSequenceError:
                    continue  # it posted again, or another gateway marked it
                except (TimeoutError, nats.errors.Error) as exc:
                    log.debug("marking %s offline: %s", name, exc)
                    continue
                log.info("desk offline (no heartbeat)", extra={"operator": name})
                try:
                    await self._announce(gone)
                except (TimeoutError, nats.errors.Error) as exc:
                    log.warning("could not announce %s offline: %s", name, exc)

    def listing(self, names: dict[str, str], caller: Caller) -> list[dict[str, Any]]:
        shown = names if caller.supervisor else {caller.name: caller.role}
        found = []
        for name, role in sorted(shown.items()):
            record = self.mirror.get(name, ({}, 0))[0]
            found.append(
                {
                    "operator": name,
                    "role": role,
                    "status": record.get("status", OFFLINE),
                    "reason": record.get("reason", ""),
                    "since": record.get("since"),
                    "callId": record.get("callId", ""),
                }
            )
        return found
