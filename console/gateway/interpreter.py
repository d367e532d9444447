"""The TwiML interpreter: Twilio apps' documents run on Kaphila calls.

Each partition of the events stream has one durable pull consumer that allows
one un-acknowledged message, shared by every gateway process: whichever process
fetches a call's next event handles it, and a call's events are handled in the
order Kaphila sent them. The program of each call (``twilio.twiml.program``)
lives in the ``kgw_programs`` bucket and is saved after every step that reached
Kaphila or the app, so a gateway that dies mid-document leaves a state another
process continues from: the step in flight runs again at most once, and none
is skipped (the message is redelivered after ``ack_wait``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

from console.gateway import bus, registry, timers, wire
from console.gateway.context import GatewayContext
from console.gateway.fetcher import AppClient, FetchError
from console.gateway.upstream import UpstreamError, call_upstream, request
from twilio import kaphila
from twilio.twiml.program import (
    DocumentError,
    Fetch,
    Forward,
    Hangup,
    Listen,
    Program,
    Speak,
    Step,
    Wait,
    notes,
)

log = logging.getLogger("kaphila.gateway.interpreter")

GIVE_UP_AFTER = 8  # deliveries of one message that keep failing (a bug, not the app)
# How long one pull request for a partition waits for its next event. Also the
# longest a drain waits for an idle partition's request to run out (bus.batches);
# idle, each partition asks NATS once in this long.
FETCH_WAIT = 2.0
GATHER_OUTCOMES = {"gather.complete": "complete", "gather.timeout": "timeout"}
ENDED = ("call.ended", "call.timeout")
# The events that change a call's registration or its program; others are acked unread.
ACTED_ON = frozenset(
    {"call.initiated", "call.answered", "dtmf.received", "gather.failed", *GATHER_OUTCOMES, *ENDED}
)


class DocumentEnded(Exception):
    """A desk's action ended the call's document while a step of it ran."""


@dataclass
class Handled:
    """What one message did, for metrics and tests."""

    steps: int = 0
    first_voice_at: float | None = None


class Interpreter:
    def __init__(self, ctx: GatewayContext, apps: AppClient) -> None:
        self.ctx = ctx
        self.apps = apps
        # answer webhook received -> first /voice or /gather sent, seconds (newest)
        self.latencies: deque[float] = deque(maxlen=100_000)
        # The stored program's revision per call being handled (compare-and-set).
        self._revisions: dict[str, int | None] = {}

    async def start(self) -> list[asyncio.Task[None]]:
        tasks = []
        for partition in range(wire.PARTITIONS):
            sub = await self.ctx.js.pull_subscribe(
                f"{wire.EVENTS_SUBJECT}.{partition}",
                durable=f"{wire.INTERPRETER_DURABLE}-{partition}",
                stream=wire.EVENTS_STREAM,
                config=ConsumerConfig(
                    ack_policy=AckPolicy.EXPLICIT,
                    deliver_policy=DeliverPolicy.NEW,
                    ack_wait=self.ctx.config.ack_wait,
                    max_ack_pending=1,
                ),
            )
            tasks.append(
                asyncio.create_task(bus.consume(self._loop(sub), sub), name=f"interp-{partition}")
            )
        return tasks

    async def _loop(self, sub: Any) -> None:
        async for messages in bus.batches(
            sub, 1, FETCH_WAIT, "interpreter", stop=self.ctx.draining
        ):
            for msg in messages:
                await self._handle_safely(msg)

    async def _handle_safely(self, msg: Msg) -> None:
        heartbeat = asyncio.create_task(self._heartbeat(msg))
        try:
            await self.handle(msg)
        except asyncio.CancelledError:
            # Stopped mid-event (a stop, or a drain past its time): hand the event
            # back now rather than after ack_wait; the next holder continues from
            # the saved program (the step in flight runs again at most once).
            await _quietly(msg.nak())
            raise
        except Exception as exc:
            delivered = msg.metadata.num_delivered
            if delivered >= GIVE_UP_AFTER:
                log.exception("giving up on an event after %d tries", delivered)
                await _quietly(msg.term())
            else:
                log.warning("handling an event failed (try %d), again shortly: %s", delivered, exc)
                await _quietly(msg.nak(delay=min(30.0, 0.5 * 2**delivered)))
            return
        finally:
            heartbeat.cancel()
        # Not ack_sync: the next fetch on this connection follows the ack, and a
        # lost ack only hands the event out again, which last_seq makes harmless.
        await _quietly(msg.ack())

    async def _heartbeat(self, msg: Msg) -> None:
        """Long steps (an app slow to answer) keep the message ours."""
        every = max(0.5, self.ctx.config.ack_wait / 3)
        while True:
            await asyncio.sleep(every)
            await _quietly(msg.in_progress())

    # ------------------------------------------------------------------ one event

    async def handle(self, msg: Msg) -> Handled:
        data = json.loads(msg.data)
        token = str(data.get("token", ""))
        seq = msg.metadata.sequence.stream
        kind = data.get("kind")
        if kind == "webhook" and data["payload"].get("event") not in ACTED_ON:
            return Handled()  # gather.started, gather.progress, recording.*: nothing to do
        reg = await registry.get(self.ctx, token)
        if reg is None:
            log.info("an event for a call this gateway never placed: dropped")
            return Handled()
        if kind == "webhook":
            payload = data["payload"]
            if reg.call_id and payload.get(kaphila.F_CALL_ID) != reg.call_id:
                log.warning(
                    "an event for call %s came to call %s's URL: dropped",
                    payload.get(kaphila.F_CALL_ID),
                    reg.call_id,
                )
                return Handled()
            reg = await self._note_status(token, reg, payload)
            if reg.twilio is None:
                return Handled()  # a plain Kaphila client: the relay's, not ours
        program = await self._load(token)
        loaded = json.dumps(program.to_json(), separators=(",", ":")) if program else None
        step: Step | None = None
        if kind == "webhook":
            if program is not None and seq <= program.last_seq:
                pass  # redelivered: the event is in the state already; go on from there
            else:
                program = self._apply(reg, program, payload)
                if program is not None:
                    program.last_seq = seq
        elif kind == "timer" and program is not None:
            step = program.on_wake(str(data.get("wake")))
        elif kind == "document":
            if program is not None and seq <= program.last_seq:
                pass  # redelivered: the document is the program already; go on from there
            else:
                previous, program = program, self._new_document(reg, data)
                if program is not None:
                    program.last_seq = seq
                    if previous is not None:
                        # Waits are numbered, and a wait's timer is de-duplicated by its
                        # number (t:<token>:<wake>): counting on from the old document's
                        # keeps the new one's first wait from being taken for the old one's.
                        program.waits = previous.waits
        if program is None:
            self._revisions.pop(token, None)
            return Handled()
        try:
            return await self._run(token, reg, program, step, data.get("receivedAt"), loaded)
        except DocumentEnded:
            log.info("a desk ended the TwiML document; stopped", extra={"call_id": reg.call_id})
            return Handled()
        finally:
            self._revisions.pop(token, None)

    def _apply(
        self, reg: wire.Registration, program: Program | None, payload: dict[str, Any]
    ) -> Program | None:
        event = payload.get("event")
        intent = reg.twilio
        assert intent is not None
        if event == "call.answered" and program is None:
            if intent.twiml is not None:
                try:
                    return Program.inline(intent.twiml)
                except DocumentError as exc:  # checked at create; a newer rule?
                    return Program.failed(exc)
            if intent.url:
                return Program.from_url(intent.url, intent.method, {})
            return None
        if program is None:
            return None
        if event == "dtmf.received":
            program.on_digit(str(payload.get(kaphila.F_DIGITS) or "")[-1:])
        elif event in GATHER_OUTCOMES or event == "gather.failed":
            outcome = GATHER_OUTCOMES.get(str(event), "failed")
            try:
                program.on_gather(
                    outcome,
                    str(payload.get(kaphila.F_DIGITS) or ""),
                    _text(payload.get(kaphila.F_GATHER_ID)),
                )
            except DocumentError as exc:
                program.fail(exc)
        elif event in ENDED:
            program.on_ended()
        return program

    def _new_document(self, reg: wire.Registration, data: dict[str, Any]) -> Program | None:
        """``calls(sid).update(twiml=|url=)``: the new document replaces the old."""
        if data.get("twiml") is not None:
            try:
                return Program.inline(str(data["twiml"]))
            except DocumentError as exc:
                return Program.failed(exc)
        if data.get("url"):
            return Program.from_url(str(data["url"]), str(data.get("method") or "POST"), {})
        return None

    # ------------------------------------------------------------------ running

    async def _run(
        self,
        token: str,
        reg: wire.Registration,
        program: Program,
        step: Step | None,
        received_at: Any,
        saved: str | None = None,
    ) -> Handled:
        handled = Handled()
        key: str | None = None  # opened only when a step needs Kaphila or the app
        call_id = reg.call_id or ""
        failure: Exception | None = None
        while True:
            if failure is not None:
                step, failure = await self._application_error(token, reg, program, failure)
                if failure is not None:
                    continue
            elif step is None:
                try:
                    step = program.next_step(time.time())
                except DocumentError as exc:
                    failure = exc
                    continue
            if step is None:
                break
            if key is None:
                key = self.ctx.sealer.open(reg.key)
            try:
                await self._do(token, reg, program, step, key, call_id)
            except (FetchError, DocumentError) as exc:
                failure = exc
                step = None
                continue
            except UpstreamError as exc:
                if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
                    # The call ended under us, or Kaphila refused the verb: the
                    # document cannot go on.
                    log.info("call %s: Kaphila refused %s: %s", call_id, _name(step), exc)
                    program.on_ended()
                    saved = await self._save(token, program, saved)
                    break
                raise
            handled.steps += 1
            if isinstance(step, Speak | Listen) and handled.first_voice_at is None:
                handled.first_voice_at = time.time()
                if isinstance(received_at, int | float):
                    self.latencies.append(handled.first_voice_at - received_at)
                    self.ctx.metrics.observe_interpreter(received_at, handled.first_voice_at)
            saved = await self._save(token, program, saved)
            step = None
            if program.done:
                break
        await self._save(token, program, saved)
        return handled

    async def _do(
        self,
        token: str,
        reg: wire.Registration,
        program: Program,
        step: Step,
        key: str,
        call_id: str,
    ) -> None:
        rate = self.ctx.config.speech_rate
        if isinstance(step, Speak):
            body: dict[str, Any] = {
                kaphila.F_CALL_ID: call_id,
                kaphila.F_TEXT: step.text,
                kaphila.F_PLAY_TO: kaphila.PLAY_TO_DEFAULT,
            }
            if step.voice:
                body[kaphila.F_VOICE_NAME] = step.voice
            answer = await _upstream(self.ctx, key, kaphila.VOICE, body)
            program.spoke(time.time(), step.text, _ends_in(answer), rate)
        elif isinstance(step, Listen):
            body = {kaphila.F_CALL_ID: call_id, **step.body}
            try:
                answer = await _upstream(self.ctx, key, kaphila.GATHER, body)
            except UpstreamError as exc:
                running = await self._running_gather(exc, key, call_id)
                if running is None:
                    raise
                # Ours: a gateway that died holding this event started it and could
                # not save that it had. Kaphila refuses a second one while it lasts.
                log.info("call %s: its gather is already running; waiting for it", call_id)
                program.started_gather(running)
                return
            program.started_gather(_text(answer.get(kaphila.F_GATHER_ID)))
            if step.prompt:
                program.spoke(time.time(), step.prompt, _ends_in(answer), rate)
        elif isinstance(step, Forward):
            await _upstream(
                self.ctx,
                key,
                kaphila.FORWARD_CALL,
                {kaphila.F_CALL_ID: call_id, kaphila.F_FORWARD_NUMBER: step.number},
            )
        elif isinstance(step, Hangup):
            await _upstream(self.ctx, key, kaphila.HANGUP, {kaphila.F_CALL_ID: call_id})
            log.info("call %s: hung up (%s)", call_id, step.why)
        elif isinstance(step, Wait):
            await timers.schedule(self.ctx, token, call_id, step.wake, step.until)
        elif isinstance(step, Fetch):
            intent = reg.twilio
            assert intent is not None
            # Twilio signs with the account's auth token; on Kaphila that is the key.
            auth = self.ctx.sealer.open(intent.auth_token) if intent.auth_token else key
            params = {**twilio_params(reg), **step.params}
            text, final = await self.apps.twiml(step.url, step.method, params, auth)
            program.load(text, final, step.method)
            for note in notes(program.verbs):
                log.info("call %s: %s", call_id, note)

    async def _running_gather(self, refused: UpstreamError, key: str, call_id: str) -> str | None:
        """After Kaphila refused a gather: the id of the call's gather in progress, if
        it has one (``lastGather`` of GET /calls/{callId}, assumed like the SDK's)."""
        if refused.status is None or not 400 <= refused.status < 500:
            return None
        path = kaphila.CALL.format(call_id=quote(call_id, safe=""))
        try:
            answer = await request(self.ctx.upstream, self.ctx.config.upstream, "GET", path, key)
        except UpstreamError:
            return None
        data = answer.data if answer.ok and isinstance(answer.data, dict) else {}
        last = data.get(kaphila.F_LAST_GATHER)
        if data.get(kaphila.F_STATUS) != "answered" or not isinstance(last, dict):
            return None
        return _text(last.get(kaphila.F_GATHER_ID)) if last.get("outcome") is None else None

    async def _application_error(
        self, token: str, reg: wire.Registration, program: Program, error: Exception
    ) -> tuple[Step | None, Exception | None]:
        """Twilio's rule: the fallback URL once, else the call ends with the error
        (logged with the verb's name, and reported in the status callback)."""
        code = int(getattr(error, "code", 0) or 0)
        message = str(getattr(error, "message", error))
        intent = reg.twilio
        call_id = reg.call_id or ""
        if intent is not None and intent.fallback_url:
            params = {"ErrorCode": str(code), "ErrorUrl": program.url or intent.url or ""}
            if program.recover(intent.fallback_url, intent.fallback_method, params):
                log.warning("call %s: %s; trying the fallback URL", call_id, message)
                try:
                    return program.next_step(time.time()), None
                except DocumentError as exc:
                    return None, exc
        log.warning("call %s: application error %s: %s; ending the call", call_id, code, message)

        def mark(r: wire.Registration) -> None:
            r.error_code = code or None
            r.error_message = message

        await registry.update(self.ctx, token, mark)
        program.abandon()
        return Hangup(f"application error {code}"), None

    # ------------------------------------------------------------------ state

    async def _load(self, token: str) -> Program | None:
        """The stored program; its revision is kept for ``_save``'s compare-and-set."""
        try:
            entry = await self.ctx.programs.get(token)
        except KeyNotFoundError:
            self._revisions[token] = None
            return None
        self._revisions[token] = entry.revision
        if entry.value is None or not entry.value:
            return None
        return Program.from_json(json.loads(entry.value))

    async def _save(self, token: str, program: Program, saved: str | None = None) -> str:
        """Store the program unless it is what was stored last (``saved``).

        Compare-and-set against what ``_load`` read: the only other writer is a
        desk's action ending the document (``team.end_document``). Finding that
        done program here, the run stops (``DocumentEnded``) instead of writing
        over it and going on with a document the desk has ended."""
        state = json.dumps(program.to_json(), separators=(",", ":"))
        if state == saved:
            return state
        revision = self._revisions.get(token)
        try:
            if revision is None:
                self._revisions[token] = await self.ctx.programs.create(token, state.encode())
            else:
                self._revisions[token] = await self.ctx.programs.update(
                    token, state.encode(), last=revision
                )
        except KeyWrongLastSequenceError:
            current = await self._load(token)
            if current is not None and current.done and not program.done:
                raise DocumentEnded from None
            self._revisions[token] = await self.ctx.programs.put(token, state.encode())
        return state

    async def _note_status(
        self, token: str, reg: wire.Registration, payload: dict[str, Any]
    ) -> wire.Registration:
        """Keep the registration's view of the call (for ``calls.list`` and the
        parameters sent to the app) as the events say."""
        event = payload.get("event")
        if event not in ("call.initiated", "call.answered", *ENDED) and reg.call_id:
            return reg

        def change(r: wire.Registration) -> None:
            r.call_id = r.call_id or str(payload.get(kaphila.F_CALL_ID) or "") or None
            status = kaphila.STATUS_TO_TWILIO.get(str(payload.get(kaphila.F_STATUS)))
            status = status or kaphila.EVENT_TO_TWILIO.get(str(event))
            if status and r.status not in kaphila.TERMINAL_TWILIO_STATUSES:
                r.status = status
            if event == "call.answered":
                r.start_time = str(payload.get(kaphila.F_TIMESTAMP) or "") or None
                amd = payload.get(kaphila.F_AMD)
                if isinstance(amd, dict):
                    r.answered_by = kaphila.AMD_TO_TWILIO.get(
                        str(amd.get("status")), "human" if amd.get("status") else None
                    )
            if event in ENDED:
                r.end_time = str(payload.get(kaphila.F_TIMESTAMP) or "") or None
                if isinstance(payload.get(kaphila.F_DURATION), int):
                    r.duration = payload[kaphila.F_DURATION]

        return await registry.update(self.ctx, token, change) or reg


UPSTREAM_RETRIES = (0.2, 0.5, 1.0)


async def _upstream(
    ctx: GatewayContext, key: str, path: str, body: dict[str, Any]
) -> dict[str, Any]:
    """One verb to Kaphila; a busy or unreachable Kaphila is asked again briefly
    (then the event is redelivered); a refusal is final."""
    for pause in (*UPSTREAM_RETRIES, None):
        try:
            return await call_upstream(ctx, key, path, body)
        except UpstreamError as exc:
            transient = exc.status is None or exc.status == 429 or exc.status >= 500
            if not transient or pause is None:
                raise
        await asyncio.sleep(pause)
    raise AssertionError("unreachable")


def twilio_params(reg: wire.Registration) -> dict[str, str]:
    """Twilio's parameters for a request about this call."""
    intent = reg.twilio
    to, from_ = _e164(reg.to), _e164(reg.from_)
    params = {
        "CallSid": reg.call_id or "",
        "AccountSid": intent.account_sid if intent is not None else "",
        "From": from_,
        "To": to,
        "Caller": from_,
        "Called": to,
        "CallStatus": reg.status if reg.status != "queued" else "in-progress",
        "Direction": "outbound-api",
        "ApiVersion": kaphila.API_VERSION,
    }
    if reg.answered_by:
        params["AnsweredBy"] = reg.answered_by
    return params


def _ends_in(answer: dict[str, Any]) -> float | None:
    value = answer.get(kaphila.F_ENDS_IN_MS)
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 3.6e6:
        return float(value) / 1000
    return None


def _e164(number: str) -> str:
    """Kaphila's numbers have no '+'; Twilio's parameters do."""
    return "+" + number if number and number.isdigit() else number


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _name(step: Step) -> str:
    return type(step).__name__


async def _quietly(awaitable: Any) -> None:
    with contextlib.suppress(Exception):
        await awaitable
