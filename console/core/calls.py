"""Calls as the console sees them, in Twilio's terms (the SDK's WebhookHelper
translates Kaphila's; the console never speaks Kaphila's vocabulary itself)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class CallStatus(Enum):
    QUEUED = "queued"
    INITIATED = "initiated"
    RINGING = "ringing"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    BUSY = "busy"
    FAILED = "failed"
    NO_ANSWER = "no-answer"
    CANCELED = "canceled"

    @property
    def rank(self) -> int:
        """Statuses only move to a higher rank; every final status ranks highest."""
        return _RANK[self]

    @property
    def terminal(self) -> bool:
        return self.rank == FINAL_RANK

    @property
    def label(self) -> str:
        return _LABELS[self]

    @classmethod
    def parse(cls, text: str | None) -> CallStatus | None:
        try:
            return cls(text) if text else None
        except ValueError:
            return None


FINAL_RANK = 4
_RANK = {
    CallStatus.QUEUED: 0,
    CallStatus.INITIATED: 1,
    CallStatus.RINGING: 2,
    CallStatus.IN_PROGRESS: 3,
    CallStatus.COMPLETED: FINAL_RANK,
    CallStatus.BUSY: FINAL_RANK,
    CallStatus.FAILED: FINAL_RANK,
    CallStatus.NO_ANSWER: FINAL_RANK,
    CallStatus.CANCELED: FINAL_RANK,
}
_LABELS = {
    CallStatus.QUEUED: "Queued",
    CallStatus.INITIATED: "Dialing",
    CallStatus.RINGING: "Ringing",
    CallStatus.IN_PROGRESS: "In progress",
    CallStatus.COMPLETED: "Completed",
    CallStatus.BUSY: "Busy",
    CallStatus.FAILED: "Failed",
    CallStatus.NO_ANSWER: "No answer",
    CallStatus.CANCELED: "Canceled",
}


@dataclass(frozen=True, slots=True)
class Amd:
    """Answering-machine detection: ``human``, ``machine`` or ``unknown``."""

    answered_by: str
    confidence: float | None = None

    @property
    def label(self) -> str:
        if self.confidence is None:
            return self.answered_by
        return f"{self.answered_by} ({self.confidence:.0%})"


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One thing that happened to a call, in the order of its own timestamp."""

    at: float  # the event's own time (epoch seconds)
    kind: str  # the Kaphila event name, or an operator action
    summary: str
    raw: dict[str, object] | None = None
    duplicate: bool = False
    late: bool = False


@dataclass(frozen=True, slots=True)
class Call:
    sid: str
    to: str = ""
    from_: str = ""
    status: CallStatus = CallStatus.QUEUED
    placed_here: bool = False  # False: an unknown callId arrived at the listener
    created_at: float | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    amd: Amd | None = None
    digits: str = ""  # digits of the current or last gather, else the last keys pressed
    gathers: tuple[str, ...] = ()  # the digits of every finished gather, in order
    gathering: bool = False
    forwarded_to: str | None = None
    recording_url: str | None = None
    end_reason: str | None = None
    last_event_at: float = 0.0  # the newest event's own timestamp
    heard_at: float = 0.0  # local time of the last word about this call (webhook, API)
    checked_at: float = 0.0  # local time the console last asked the API about it
    spoken: tuple[str, ...] = ()  # what the operator had spoken, in order
    duplicates: int = 0  # webhooks delivered again, counted and otherwise ignored
    seen: frozenset[str] = frozenset()  # keys of the webhooks applied (duplicate check)
    timeline: tuple[TimelineEntry, ...] = field(default=())

    @property
    def live(self) -> bool:
        return not self.status.terminal

    @property
    def all_digits(self) -> str:
        """Every finished gather's digits ("-" for none), else the keys pressed."""
        return ", ".join(d or "-" for d in self.gathers) if self.gathers else self.digits
