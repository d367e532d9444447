"""``GET /team/events``: the team stream to desks, as server-sent events.

One reader per gateway process (``Feed.run``) follows the events stream from
the moment the gateway started, turns each message a desk may see into one
encoded frame, keeps the newest ``RING`` frames, and hands each frame to the
desks connected here whose operator may see it (docs/TEAM.md says who sees
what). A desk resuming from a sequence older than the ring reads the stream
itself (``streamreader``) until it reaches the live frames, then joins them:
its connection is registered before that catch-up starts, so nothing falls
between the two.

A desk that cannot keep up (``QUEUE_LIMIT`` frames waiting) is disconnected;
it resumes from its last id. Removing an operator ends their streams with a
``revoked`` frame; a gateway that stops ends every stream with ``bye``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

import nats.errors
from aiohttp import web
from nats.aio.msg import Msg

from console.gateway import registry, streamreader
from console.gateway.authority import DIRECTORY_KEY, Caller, caller_of
from console.gateway.context import CONTEXT_KEY, GatewayContext
from console.gateway.httpio import ApiError
from twilio import kaphila

log = logging.getLogger("kaphila.gateway.teamfeed")

RING = 20_000  # frames kept in memory for desks that were away a moment
QUEUE_LIMIT = 50_000  # frames waiting for one desk before it is dropped
OWNERS_KEPT = 50_000  # calls whose operator the feed remembers
KEEPALIVE = 10.0
WRITE_TIMEOUT = 30.0
LATENCIES_KEPT = 100_000


@dataclass(frozen=True, slots=True)
class Frame:
    seq: int
    names: frozenset[str]  # operators (besides supervisors) who may see it
    data: bytes  # the encoded SSE frame
    received_at: float | None = None  # a webhook's arrival at the gateway


@dataclass(eq=False)
class Desk:
    caller: Caller
    queue: asyncio.Queue[Frame | str] = field(default_factory=asyncio.Queue)

    def may_see(self, frame: Frame) -> bool:
        return self.caller.supervisor or self.caller.name in frame.names

    def offer(self, item: Frame | str) -> bool:
        if self.queue.qsize() >= QUEUE_LIMIT and isinstance(item, Frame):
            return False
        self.queue.put_nowait(item)
        return True


def encode(seq: int | None, kind: str, data: dict[str, Any]) -> bytes:
    head = f"id: {seq}\n" if seq is not None else ""
    # ASCII escapes: a lone surrogate someone typed (valid JSON, not UTF-8) is sent
    # as \\ud800, not an exception that would stop the feed.
    body = json.dumps(data, separators=(",", ":"))
    return f"{head}event: {kind}\ndata: {body}\n\n".encode()


class Feed:
    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx
        self.ring: deque[Frame] = deque(maxlen=RING)
        self.desks: set[Desk] = set()
        # Who gets what without asking every desk about every frame: supervisors
        # get all, an operator's desks what names them.
        self._supervisors: set[Desk] = set()
        self._by_name: dict[str, set[Desk]] = {}
        self.position = 0  # the last sequence this feed has read
        self.started = asyncio.Event()
        self._owners: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self.latencies: deque[float] = deque(maxlen=LATENCIES_KEPT)

    # ------------------------------------------------------------- reading

    async def run(self) -> None:
        while True:
            try:
                _, last = await streamreader.newest(self.ctx.js)
                break
            except (TimeoutError, nats.errors.Error) as exc:
                log.debug("team feed: waiting for the stream: %s", exc)
                await asyncio.sleep(0.5)
        self.position = last
        self.started.set()
        async for batch in streamreader.read(self.ctx.js, last + 1, "team feed"):
            for msg in batch:
                try:
                    frame = await self.frame(msg)
                except Exception:  # one message must not stop every desk's stream
                    log.exception("team feed: skipped a message it could not turn into a frame")
                    frame = None
                self.position = msg.metadata.sequence.stream
                if frame is None:
                    continue
                self.ring.append(frame)
                for desk in self.audience(frame):
                    if not desk.offer(frame):
                        log.info(
                            "a desk fell too far behind; disconnected (it resumes)",
                            extra={"operator": desk.caller.name},
                        )
                        self.detach(desk)
                        desk.queue.put_nowait("slow")

    async def frame(self, msg: Msg) -> Frame | None:
        """The frame for one stream message, or None when desks get nothing of it."""
        seq = msg.metadata.sequence.stream
        try:
            data = json.loads(msg.data)
        except ValueError:
            return None
        kind = data.get("kind")
        if kind == "webhook":
            payload = data.get("payload")
            if not isinstance(payload, dict):
                return None
            call_id = str(payload.get(kaphila.F_CALL_ID) or "")
            owner, taken_from = await self._owner(call_id, str(data.get("token", "")))
            out = {
                "callId": call_id,
                "owner": owner,
                "receivedAt": data.get("receivedAt"),
                "payload": payload,
            }
            received = data.get("receivedAt")
            return Frame(
                seq,
                frozenset({owner, taken_from} - {""}),
                encode(seq, "webhook", out),
                float(received) if isinstance(received, int | float) else None,
            )
        if kind == "placed":
            call_id, owner = str(data.get("callId")), str(data.get("owner") or "")
            self._remember(call_id, owner, "")
            out = {k: data.get(k) for k in ("callId", "owner", "to", "from", "at")}
            return Frame(seq, frozenset({owner} - {""}), encode(seq, "placed", out))
        if kind == "action":
            call_id = str(data.get("callId"))
            owner, taken_from = str(data.get("owner") or ""), str(data.get("takenFrom") or "")
            names = {owner, taken_from}
            if data.get("action") == "takeover":
                names.add(str(data.get("detail") or ""))
                self._remember(call_id, owner, str(data.get("detail") or ""))
            out = {
                k: data.get(k)
                for k in (
                    "callId",
                    "owner",
                    "by",
                    "role",
                    "action",
                    "detail",
                    "at",
                    "endedDocument",
                )
            }
            return Frame(seq, frozenset(names - {""}), encode(seq, "action", out))
        if kind == "presence":
            operator = str(data.get("operator") or "")
            out = {
                k: data.get(k) for k in ("operator", "role", "status", "reason", "since", "callId")
            }
            return Frame(seq, frozenset({operator}), encode(seq, "presence", out))
        return None  # documents, timers: the interpreter's business

    def _remember(self, call_id: str, owner: str, taken_from: str) -> None:
        self._owners[call_id] = (owner, taken_from)
        self._owners.move_to_end(call_id)
        while len(self._owners) > OWNERS_KEPT:
            self._owners.popitem(last=False)

    async def _owner(self, call_id: str, token: str) -> tuple[str, str]:
        known = self._owners.get(call_id)
        if known is not None:
            return known
        try:
            reg = await registry.get(self.ctx, token) if token else None
        except (TimeoutError, nats.errors.Error):
            reg = None
        found = (reg.owner, reg.taken_from) if reg is not None else ("", "")
        self._remember(call_id, *found)
        return found

    # ------------------------------------------------------------- desks

    def attach(self, desk: Desk) -> None:
        self.desks.add(desk)
        self.ctx.metrics.desks_connected.inc()
        if desk.caller.supervisor:
            self._supervisors.add(desk)
        else:
            self._by_name.setdefault(desk.caller.name, set()).add(desk)

    def detach(self, desk: Desk) -> None:
        if desk not in self.desks:
            return
        self.desks.discard(desk)
        self.ctx.metrics.desks_connected.dec()
        self._supervisors.discard(desk)
        mine = self._by_name.get(desk.caller.name)
        if mine is not None:
            mine.discard(desk)
            if not mine:
                del self._by_name[desk.caller.name]

    def audience(self, frame: Frame) -> list[Desk]:
        found = list(self._supervisors)
        for name in frame.names:
            found.extend(self._by_name.get(name, ()))
        return found

    def revoke(self, name: str) -> None:
        for desk in list(self.desks):
            if desk.caller.name == name:
                self.detach(desk)
                desk.queue.put_nowait("revoked")

    def close_all(self) -> None:
        for desk in list(self.desks):
            self.detach(desk)
            desk.queue.put_nowait("bye")


FEED_KEY = web.AppKey("team_feed", Feed)


def _after(request: web.Request) -> int | None:
    text = request.headers.get("Last-Event-ID") or request.query.get("after")
    if text is None or text == "":
        return None
    try:
        value = int(text)
    except ValueError:
        raise ApiError(400, "Last-Event-ID (or after) must be a stream sequence number") from None
    if value < 0:
        raise ApiError(400, "Last-Event-ID (or after) must not be negative")
    return value


async def events(request: web.Request) -> web.StreamResponse:
    caller = caller_of(request)
    feed = request.app[FEED_KEY]
    ctx = request.app[CONTEXT_KEY]
    after = _after(request)
    if ctx.draining.is_set():
        raise ApiError(503, "this gateway is stopping; connect again", {"Retry-After": "1"})
    try:
        async with asyncio.timeout(5):
            await feed.started.wait()
            first, last = await streamreader.newest(ctx.js)
    except (TimeoutError, nats.errors.Error):
        raise ApiError(503, "the team stream is not available right now; try again") from None
    if after is None:
        after = feed.position
    # Events after the desk's position are gone (older than the stream keeps), or
    # its position is past the stream's end (a stream made afresh): either way it
    # rebuilds from the snapshot, and streams on from the live end.
    gap = 0 < after < first - 1 or after > last
    if after > last:
        after = feed.position
    desk = Desk(caller)
    feed.attach(desk)  # from here on, every new frame reaches the desk's queue
    joined_at = feed.position
    ring = [f for f in feed.ring if f.seq > after and desk.may_see(f)]
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # nginx: pass each frame on at once
        }
    )
    await response.prepare(request)
    sent = after
    try:
        hello = {
            "operator": caller.name,
            "role": caller.role,
            "seq": last,
            "first": first,
            "gap": gap,
        }
        await _write(response, encode(None, "hello", hello))
        ring_start = feed.ring[0].seq if feed.ring else joined_at + 1
        if after + 1 < ring_start and after < joined_at:
            sent = await _catch_up(feed, desk, response, max(after, first - 1), joined_at)
        for frame in ring:
            if frame.seq > sent:
                await _write(response, frame.data)
                sent = frame.seq
        log.debug("desk connected", extra={"operator": caller.name})
        await _stream(feed, desk, response, sent)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        feed.detach(desk)
        log.debug("desk disconnected", extra={"operator": caller.name})
    return response


async def _write(response: web.StreamResponse, data: bytes) -> None:
    """A desk that reads nothing for WRITE_TIMEOUT is let go (it resumes by id)."""
    try:
        await asyncio.wait_for(response.write(data), WRITE_TIMEOUT)
    except TimeoutError:
        raise ConnectionResetError("the desk stopped reading") from None


async def _catch_up(
    feed: Feed, desk: Desk, response: web.StreamResponse, after: int, until: int
) -> int:
    """Frames after ``after`` up to ``until``, read from the stream itself."""
    sent = after
    reader = streamreader.read(feed.ctx.js, after + 1, "desk catch-up")
    try:
        async for batch in reader:
            chunk = []
            for msg in batch:
                seq = msg.metadata.sequence.stream
                if seq > until:
                    break
                try:
                    frame = await feed.frame(msg)
                except Exception:
                    log.exception("desk catch-up: skipped a message it could not turn into a frame")
                    frame = None
                if frame is not None and desk.may_see(frame):
                    chunk.append(frame.data)
                sent = seq
            if chunk:
                await _write(response, b"".join(chunk))
            if sent >= until:
                break
    finally:
        await reader.aclose()  # type: ignore[attr-defined]  # an async generator
    return sent


async def _stream(feed: Feed, desk: Desk, response: web.StreamResponse, sent: int) -> None:
    while True:
        try:
            item = await asyncio.wait_for(desk.queue.get(), KEEPALIVE)
        except TimeoutError:
            await _write(response, b": keepalive\n\n")
            continue
        items = [item]
        while not desk.queue.empty() and len(items) < 512:
            items.append(desk.queue.get_nowait())
        chunk = []
        end: str | None = None
        now = time.time()
        for one in items:
            if isinstance(one, str):
                end = one
                break
            if one.seq <= sent:
                continue
            chunk.append(one.data)
            sent = one.seq
            if one.received_at is not None:
                feed.latencies.append(now - one.received_at)
                feed.ctx.metrics.observe_fanout(now - one.received_at)
        if chunk:
            await _write(response, b"".join(chunk))
        if end is not None:
            if end in ("revoked", "bye"):
                with contextlib.suppress(ConnectionResetError):
                    await _write(response, encode(None, end, {}))
            return


def attach(app: web.Application, feed: Feed) -> None:
    app[FEED_KEY] = feed
    app.router.add_get("/team/events", events)
    app[DIRECTORY_KEY].on_removed(feed.revoke)
