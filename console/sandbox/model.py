"""The sandbox's records: a simulated clock, calls, gathers and their timelines.

Kaphila status strings are the sandbox's own vocabulary (the SDK maps them to
Twilio's): ``ringing`` and ``answered`` are live; ``completed``, ``busy``,
``failed``, ``no-answer`` and ``canceled`` are final.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from console.sandbox.scenarios import Scenario

LIVE_STATUSES = frozenset({"ringing", "answered"})
FINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})


class SimClock:
    """Simulated time: starts at the real wall clock and runs ``scale`` times
    faster, so timestamps and durations in events agree with each other."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale
        self._wall0 = time.time()
        self._mono0 = time.monotonic()

    def now(self) -> float:
        """Simulated epoch seconds."""
        return self._wall0 + (time.monotonic() - self._mono0) * self.scale

    def real_seconds(self, sim_seconds: float) -> float:
        return max(0.0, sim_seconds) / self.scale

    async def sleep(self, sim_seconds: float) -> None:
        await asyncio.sleep(self.real_seconds(sim_seconds))

    async def sleep_until(self, sim_deadline: float) -> None:
        await asyncio.sleep(self.real_seconds(sim_deadline - self.now()))


_HOOK_TOKEN = re.compile(r"(/hooks/)([^/]*)")


def masked_url(url: str) -> str:
    """A webhook URL fit to show: scheme, host, port and path, with any
    ``/hooks/<token>`` segment (the console listener's capability token, which
    alone lets a sender inject events) cut to its first 4 characters and "…";
    no user info, query or fragment, which may hold secrets too."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(a URL that cannot be parsed)"
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    path = _HOOK_TOKEN.sub(lambda m: f"{m[1]}{m[2][:4]}…", parts.path)
    return f"{parts.scheme}://{netloc}{path}"


def iso(ts: float) -> str:
    """Kaphila timestamps: UTC, millisecond precision, ``Z`` suffix."""
    dt = datetime.fromtimestamp(ts, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


@dataclass(slots=True, eq=False)
class Gather:
    gather_id: str
    num_digits: int | None
    timeout: float  # simulated seconds between digits
    finish_on_key: str | None
    valid_digits: str | None
    prompt: str | None
    started_at: float
    deadline: float  # when it times out unless a digit arrives first
    digits: str = ""
    outcome: str | None = None  # complete | timeout | failed
    reason: str | None = None
    task: asyncio.Task[None] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "gatherId": self.gather_id,
            "prompt": self.prompt,
            "numDigits": self.num_digits,
            "timeout": round(self.timeout * 1000),
            "finishOnKey": self.finish_on_key,
            "validDigits": self.valid_digits,
            "digits": self.digits,
            "outcome": self.outcome,
            "reason": self.reason,
            "startedAt": iso(self.started_at),
        }


@dataclass(slots=True, eq=False)
class Call:
    call_id: str
    account_key: str
    number: str
    caller_id: str
    webhook_url: str | None
    use_amd: bool
    voice_name: str
    ring_timeout: int
    record: bool
    scenario: Scenario
    created_at: float
    forwarded_from: str | None = None
    status: str = "ringing"
    answered_at: float | None = None
    ended_at: float | None = None
    end_reason: str | None = None
    hangup_by: str | None = None
    amd: dict[str, Any] | None = None
    forwarded_to: str | None = None
    forwarded_call_id: str | None = None
    recording_id: str | None = None
    digits: str = ""
    speech_free_at: float = 0.0
    spoken: list[dict[str, Any]] = field(default_factory=list)
    gathers: list[Gather] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    event_seq: int = 0

    @property
    def live(self) -> bool:
        return self.status in LIVE_STATUSES

    @property
    def active_gather(self) -> Gather | None:
        if self.gathers and self.gathers[-1].outcome is None:
            return self.gathers[-1]
        return None

    @property
    def duration(self) -> int:
        """Whole seconds from answer to end (0 if never answered)."""
        if self.answered_at is None:
            return 0
        end = self.ended_at if self.ended_at is not None else self.answered_at
        return round(end - self.answered_at)

    def note(self, at: float, kind: str, **details: Any) -> None:
        """Append one entry to the call's timeline."""
        self.timeline.append({"at": iso(at), "type": kind, **details})

    def summary_json(self) -> dict[str, Any]:
        """The state of one call, as ``GET /calls/{callId}`` returns it.

        ``lastGather`` (assumed, like the endpoint) is the newest gather's result so
        far, so a client without a webhook receiver can wait for it by polling."""
        last = self.gathers[-1] if self.gathers else None
        return {
            "callId": self.call_id,
            "status": self.status,
            "number": self.number,
            "callerId": self.caller_id,
            "webhookUrl": self.webhook_url,
            "amdEnabled": self.use_amd,
            "amd": self.amd,
            "voiceName": self.voice_name,
            "ringTimeoutSeconds": self.ring_timeout,
            "record": self.record,
            "createdAt": iso(self.created_at),
            "answeredAt": _iso_or_none(self.answered_at),
            "endedAt": _iso_or_none(self.ended_at),
            "duration": self.duration,
            "endReason": self.end_reason,
            "hangupBy": self.hangup_by,
            "forwardedTo": self.forwarded_to,
            "forwardedCallId": self.forwarded_call_id,
            "forwardedFrom": self.forwarded_from,
            "digits": self.digits,
            "recordingId": self.recording_id,
            "lastGather": None
            if last is None
            else {"gatherId": last.gather_id, "outcome": last.outcome, "digits": last.digits},
        }

    def full_json(self) -> dict[str, Any]:
        """Everything the sandbox knows, for ``/sandbox/calls/{callId}``."""
        out = self.summary_json()
        out["scenario"] = self.scenario.title
        out["spoken"] = list(self.spoken)
        out["gathers"] = [g.to_json() for g in self.gathers]
        out["timeline"] = list(self.timeline)
        return out


def _iso_or_none(ts: float | None) -> str | None:
    return None if ts is None else iso(ts)
