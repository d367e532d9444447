"""The call simulator: what happens to each call after the API accepts it.

Lifecycle (simulated seconds, scenario by the number's last four digits):

    makecall -> call.initiated (status ringing)
             -> call.answered (+ amd when useAmd)  -> ... -> call.ended
             |  or call.ended (busy / failed)
             |  or call.timeout (no-answer) once ringTimeout passes

Every state change is one ``_emit``: it stamps the event, writes it to the
call's timeline and hands it to the webhook dispatcher. Nothing here speaks
HTTP; ``api.py`` and ``control.py`` call these methods after validating input,
and the only errors raised are ``SimulatorError`` with a message for the user.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections import Counter, deque
from collections.abc import Coroutine
from dataclasses import replace
from typing import Any

from console.sandbox.config import Account, SandboxConfig
from console.sandbox.delivery import WebhookDispatcher
from console.sandbox.model import Call, Gather, SimClock, iso
from console.sandbox.scenarios import (
    SCRIPT_DIGIT_GAP,
    Outcome,
    scenario_for,
    scripted_digits,
)

# Speech takes time in proportion to the text: ~15 characters a second.
SPEECH_CHARS_PER_SECOND = 15.0
MIN_SPEECH_SECONDS = 0.3
# The gap between digits the callee presses through the control API.
CALLEE_DIGIT_GAP = 0.2


class SimulatorError(Exception):
    """An action the simulator refuses, with a message for the API caller."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Simulator:
    def __init__(
        self,
        config: SandboxConfig,
        clock: SimClock,
        dispatcher: WebhookDispatcher,
        rng: random.Random,
    ) -> None:
        self.config = config
        self.clock = clock
        self.dispatcher = dispatcher
        self.rng = rng
        self.accounts: dict[str, Account] = {a.key: replace(a) for a in config.accounts}
        self.calls: dict[str, Call] = {}
        # Finished call ids, oldest first: memory stays bounded in an all-day sandbox.
        self._finished: deque[str] = deque()
        self.base_url = ""  # set by the server once it knows its address
        # Public API requests received, by path, before any fault or check.
        self.requests_received: Counter[str] = Counter()
        self._ids = itertools.count(1)

    # ------------------------------------------------------------------ queries

    def call_for(self, account: Account, call_id: str) -> Call:
        """The account's call, or a 400 that does not reveal other accounts'."""
        call = self.calls.get(call_id)
        if call is None or call.account_key != account.key:
            raise SimulatorError(400, f"unknown callId {call_id!r}")
        return call

    def live_count(self) -> int:
        return sum(1 for c in self.calls.values() if c.live)

    # ------------------------------------------------------------------ actions

    def place_call(
        self,
        account: Account,
        *,
        number: str,
        caller_id: str,
        webhook_url: str | None,
        use_amd: bool,
        voice_name: str,
        ring_timeout: int,
        record: bool,
        forwarded_from: str | None = None,
    ) -> Call:
        """Charge the account and start a new call leg."""
        self._charge(account)
        now = self.clock.now()
        call = Call(
            call_id=f"{int(now)}.{next(self._ids)}",
            account_key=account.key,
            number=number,
            caller_id=caller_id,
            webhook_url=webhook_url,
            use_amd=use_amd,
            voice_name=voice_name,
            ring_timeout=ring_timeout,
            record=record,
            scenario=scenario_for(number),
            created_at=now,
            forwarded_from=forwarded_from,
        )
        self.calls[call.call_id] = call
        extra: dict[str, Any] = {"ringTimeout": ring_timeout}
        if forwarded_from:
            extra["forwardedFrom"] = forwarded_from
        self._emit(call, "call.initiated", **extra)
        self._spawn(call, self._run_lifecycle(call))
        return call

    def hangup(self, call: Call, by: str) -> None:
        """End a live call: the caller's /hangup, or the callee hanging up."""
        self._require_live(call)
        if call.status == "ringing":
            self._finish(call, "canceled", reason="canceled", by=by)
        else:
            reason = "hangup" if by == "caller" else f"{by}-hangup"
            self._finish(call, "completed", reason=reason, by=by)

    def speak(self, call: Call, text: str, voice: str | None, play_to: str) -> str:
        """Queue text-to-speech on an answered call; returns the playback id."""
        self._require_answered(call, "speak on")
        playback_id = f"tts-{call.call_id}-{len(call.spoken) + 1}"
        start, end = self._queue_speech(call, text)
        entry = {
            "playbackId": playback_id,
            "text": text,
            "voice": voice or call.voice_name,
            "playTo": play_to,
            "startedAt": iso(start),
            "endedAt": iso(end),
            "interrupted": False,
        }
        call.spoken.append(entry)
        call.note(self.clock.now(), "tts", **entry)
        return playback_id

    def speech_ends_in_ms(self, call: Call) -> int:
        """Real milliseconds until the call's queued speech has been played: the
        ``endsInMs`` of /voice and /gather answers (an assumption about Kaphila,
        written in the SDK's wire table), so a client can wait for the last word."""
        return round(self.clock.real_seconds(call.speech_free_at - self.clock.now()) * 1000)

    def start_gather(
        self,
        call: Call,
        *,
        prompt: str | None,
        num_digits: int | None,
        timeout_ms: int,
        finish_on_key: str | None,
        valid_digits: str | None,
    ) -> Gather:
        """Start collecting digits; the timer runs once the prompt has been spoken."""
        self._require_answered(call, "gather on")
        if call.active_gather is not None:
            raise SimulatorError(
                400,
                f"call {call.call_id} already has a gather in progress "
                f"({call.active_gather.gather_id})",
            )
        now = self.clock.now()
        prompt_end = now
        if prompt:
            _, prompt_end = self._queue_speech(call, prompt)
            entry = {
                "playbackId": f"gather-prompt-{call.call_id}-{len(call.gathers) + 1}",
                "text": prompt,
                "voice": call.voice_name,
                "playTo": "bridge",
                "startedAt": iso(prompt_end - self._speech_seconds(prompt)),
                "endedAt": iso(prompt_end),
                "interrupted": False,
            }
            call.spoken.append(entry)
        timeout = timeout_ms / 1000
        gather = Gather(
            gather_id=f"gather-{call.call_id}-{len(call.gathers) + 1}",
            num_digits=num_digits,
            timeout=timeout,
            finish_on_key=finish_on_key,
            valid_digits=valid_digits,
            prompt=prompt,
            started_at=now,
            deadline=prompt_end + timeout,
        )
        call.gathers.append(gather)
        self._emit(
            call,
            "gather.started",
            gatherId=gather.gather_id,
            numDigits=num_digits,
            timeout=timeout_ms,
            finishOnKey=finish_on_key,
            validDigits=valid_digits,
        )
        gather.task = self._spawn(call, self._run_gather_timer(call, gather))
        if call.scenario.answers_gathers:
            digits = scripted_digits(num_digits, finish_on_key, valid_digits)
            self._spawn(
                call,
                self._press_later(call, digits, prompt_end - now + 0.5, SCRIPT_DIGIT_GAP, gather),
            )
        return gather

    def forward(self, account: Account, call: Call, number: str) -> Call:
        """Bridge the callee to a new leg; the original leg ends as forwarded."""
        self._require_answered(call, "forward")
        leg = self.place_call(
            account,
            number=number,
            caller_id=call.caller_id,
            webhook_url=call.webhook_url,
            use_amd=False,
            voice_name=call.voice_name,
            ring_timeout=call.ring_timeout,
            record=False,
            forwarded_from=call.call_id,
        )
        call.forwarded_to = number
        call.forwarded_call_id = leg.call_id
        self._finish(
            call,
            "completed",
            reason="forwarded",
            by="caller",
            forwardedTo=number,
            forwardedCallId=leg.call_id,
        )
        return leg

    def press(self, call: Call, digits: str) -> None:
        """The callee presses digits, one every CALLEE_DIGIT_GAP seconds."""
        self._require_answered(call, "press digits on")
        self._spawn(call, self._press_later(call, digits, 0.0, CALLEE_DIGIT_GAP, None))

    async def reset(self) -> None:
        """Forget every call and restore the configured accounts."""
        for call in list(self.calls.values()):
            self._cancel_tasks(call)
        await self.dispatcher.cancel_all()
        self.calls.clear()
        self._finished.clear()
        self.requests_received.clear()
        self.accounts = {a.key: replace(a) for a in self.config.accounts}

    async def close(self) -> None:
        for call in self.calls.values():
            self._cancel_tasks(call)
        tasks = [t for c in self.calls.values() for t in c.tasks]
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # ------------------------------------------------------------------ lifecycle

    async def _run_lifecycle(self, call: Call) -> None:
        scenario = call.scenario
        if scenario.outcome is Outcome.BUSY:
            await self.clock.sleep(scenario.ring_seconds)
            self._finish(call, "busy", reason="busy", by="callee")
            return
        if scenario.outcome is Outcome.FAILED:
            await self.clock.sleep(scenario.ring_seconds)
            self._finish(call, "failed", reason="unreachable", by="system")
            return
        if scenario.outcome is Outcome.NO_ANSWER or scenario.ring_seconds >= call.ring_timeout:
            await self.clock.sleep(call.ring_timeout)
            self._finish(
                call,
                "no-answer",
                reason="no-answer",
                by="system",
                event="call.timeout",
                ringTimeout=call.ring_timeout,
            )
            return
        await self.clock.sleep(scenario.ring_seconds)
        self._answer(call)
        hangup_after = scenario.callee_hangup_after
        if hangup_after is not None:
            await self.clock.sleep(hangup_after)
            self._finish(call, "completed", reason="callee-hangup", by="callee")
        else:
            await self.clock.sleep(self.config.max_call_seconds)
            self._finish(call, "completed", reason="max-duration", by="system")

    def _answer(self, call: Call) -> None:
        now = self.clock.now()
        call.status = "answered"
        call.answered_at = now
        call.speech_free_at = now
        extra: dict[str, Any] = {}
        if call.use_amd:
            # A little jitter so confidences look like measurements, not constants.
            confidence = call.scenario.amd_confidence + self.rng.uniform(-0.03, 0.03)
            call.amd = {
                "status": call.scenario.amd_status,
                "confidence": round(min(0.99, max(0.01, confidence)), 2),
            }
            extra["amd"] = call.amd
        self._emit(call, "call.answered", **extra)
        if call.record:
            call.recording_id = f"RE{call.call_id.replace('.', '')}"
            self._emit(call, "recording.started", recordingId=call.recording_id)

    def _finish(
        self,
        call: Call,
        status: str,
        *,
        reason: str,
        by: str,
        event: str = "call.ended",
        **extra: Any,
    ) -> None:
        if not call.live:
            return
        now = self.clock.now()
        call.status = status
        call.ended_at = now
        call.end_reason = reason
        call.hangup_by = by
        gather = call.active_gather
        if gather is not None:
            self._end_gather(call, gather, "failed", reason="call ended")
        for entry in call.spoken:
            if entry["endedAt"] > iso(now):
                entry["interrupted"] = True
        self._emit(call, event, duration=call.duration, reason=reason, hangupBy=by, **extra)
        if call.recording_id is not None:
            self._emit(
                call,
                "recording.completed",
                recordingId=call.recording_id,
                recordingUrl=f"{self.base_url}/recordings/{call.recording_id}.wav",
                recordingDuration=call.duration,
            )
        self._cancel_tasks(call)
        self._finished.append(call.call_id)
        while len(self._finished) > self.config.max_finished_calls:
            self.calls.pop(self._finished.popleft(), None)

    # ------------------------------------------------------------------ digits

    async def _press_later(
        self, call: Call, digits: str, delay: float, gap: float, only_for: Gather | None
    ) -> None:
        await self.clock.sleep(delay)
        for index, digit in enumerate(digits):
            if not call.live or (only_for is not None and only_for.outcome is not None):
                return
            if index:
                await self.clock.sleep(gap)
                if not call.live or (only_for is not None and only_for.outcome is not None):
                    return
            self._digit(call, digit)

    def _digit(self, call: Call, digit: str) -> None:
        call.digits += digit
        call.note(self.clock.now(), "digit", digit=digit, by="callee")
        self._emit(call, "dtmf.received", digits=digit)
        gather = call.active_gather
        if gather is None:
            return
        if gather.finish_on_key and digit == gather.finish_on_key:
            self._end_gather(call, gather, "complete")
            return
        if gather.valid_digits and digit not in gather.valid_digits:
            self._end_gather(
                call,
                gather,
                "failed",
                reason=f"digit {digit!r} is not one of {gather.valid_digits!r}",
            )
            return
        gather.digits += digit
        # The timeout is Twilio's: seconds allowed between one digit and the next.
        gather.deadline = self.clock.now() + gather.timeout
        self._emit(call, "gather.progress", gatherId=gather.gather_id, digits=gather.digits)
        if gather.num_digits is not None and len(gather.digits) >= gather.num_digits:
            self._end_gather(call, gather, "complete")

    async def _run_gather_timer(self, call: Call, gather: Gather) -> None:
        # The deadline moves with every digit; sleep until it holds still.
        while gather.outcome is None:
            remaining = gather.deadline - self.clock.now()
            if remaining <= 0:
                break
            await self.clock.sleep(remaining)
        if gather.outcome is not None:
            return
        # Digits and no fixed count: the caller gets what was typed (Twilio does the same).
        if gather.digits and gather.num_digits is None:
            self._end_gather(call, gather, "complete")
        else:
            self._end_gather(call, gather, "timeout")

    def _end_gather(
        self, call: Call, gather: Gather, outcome: str, reason: str | None = None
    ) -> None:
        gather.outcome = outcome
        gather.reason = reason
        extra: dict[str, Any] = {"reason": reason} if reason else {}
        self._emit(
            call, f"gather.{outcome}", gatherId=gather.gather_id, digits=gather.digits, **extra
        )
        task = gather.task
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    # ------------------------------------------------------------------ helpers

    def _emit(self, call: Call, event: str, **fields: Any) -> None:
        now = self.clock.now()
        call.event_seq += 1
        event_id = f"{call.call_id}:{call.event_seq}"
        payload: dict[str, Any] = {
            "callId": call.call_id,
            "event": event,
            "status": call.status,
            "timestamp": iso(now),
            "number": call.number,
            "callerId": call.caller_id,
        }
        payload.update({k: v for k, v in fields.items() if v is not None})
        call.timeline.append(
            {
                "at": payload["timestamp"],
                "type": "event",
                "eventId": event_id,
                "event": event,
                "payload": payload,
            }
        )
        self.dispatcher.submit(call, event_id, payload)

    def _charge(self, account: Account) -> None:
        cost = self.config.call_cost
        if account.credits < cost:
            raise SimulatorError(
                402,
                f"insufficient credits: the balance is {account.credits} and a call costs {cost}",
            )
        account.credits -= cost

    def _speech_seconds(self, text: str) -> float:
        return max(MIN_SPEECH_SECONDS, len(text) / SPEECH_CHARS_PER_SECOND)

    def _queue_speech(self, call: Call, text: str) -> tuple[float, float]:
        start = max(self.clock.now(), call.speech_free_at)
        end = start + self._speech_seconds(text)
        call.speech_free_at = end
        return start, end

    def _require_live(self, call: Call) -> None:
        if not call.live:
            raise SimulatorError(400, f"call {call.call_id} has already ended ({call.status})")

    def _require_answered(self, call: Call, action: str) -> None:
        self._require_live(call)
        if call.status != "answered":
            raise SimulatorError(
                400, f"cannot {action} call {call.call_id}: it is {call.status}, not answered"
            )

    def _spawn(self, call: Call, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        call.tasks.add(task)
        task.add_done_callback(call.tasks.discard)
        return task

    def _cancel_tasks(self, call: Call) -> None:
        current = asyncio.current_task()
        for task in list(call.tasks):
            if task is not current:
                task.cancel()
