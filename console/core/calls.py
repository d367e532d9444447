"""Calls as the console sees them: facts in the console's own terms (statuses
are Twilio's; ``console.services`` translates Kaphila's vocabulary, and
``console.qt.wording`` turns facts into words)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

from console.core.team import Role, TeamFact

AnsweredBy = Literal["human", "machine", "unknown"]


class Happened(Enum):
    """What a webhook reports happened to a call."""

    RINGING = "ringing"
    ANSWERED = "answered"
    ENDED = "ended"
    NO_ANSWER = "no answer"
    KEY_PRESSED = "key pressed"
    GATHER_STARTED = "gather started"
    GATHER_PROGRESS = "gather progress"
    GATHER_COMPLETE = "gather complete"
    GATHER_TIMEOUT = "gather timeout"
    GATHER_FAILED = "gather failed"
    RECORDING_STARTED = "recording started"
    RECORDING_READY = "recording ready"
    RECORDING_FAILED = "recording failed"

    @property
    def ends_a_gather(self) -> bool:
        return self in (Happened.GATHER_COMPLETE, Happened.GATHER_TIMEOUT, Happened.GATHER_FAILED)


class ActionKind(Enum):
    SPEAK = "speak"
    GATHER = "gather"
    FORWARD = "forward"
    HANG_UP = "hang up"
    DOCUMENT = "document"  # a TwiML document run on the call (team stream only)
    TAKE_OVER = "take over"  # a supervisor made the call theirs (team mode)


class Failure(Enum):
    """Why a request failed, as a fact (the words are the presentation's)."""

    REFUSED = "refused"  # Kaphila answered no
    UNREACHABLE = "unreachable"  # Kaphila could not be reached
    TIMED_OUT = "timed out"  # no answer in time: it may or may not have gone through
    INTERRUPTED = "interrupted"  # the console stopped before the answer
    ENDED = "ended"  # the call had already ended
    BUSY = "busy"  # the call is already doing that (a gather running, a hang-up on its way)
    INTERNAL = "internal"  # the console failed to send it
    NOT_SUPPORTED = "not supported"  # Kaphila cannot do what was asked
    BAD_ANSWER = "bad answer"  # an answer the SDK could not use (a redirect, no call id)
    FORBIDDEN = "forbidden"  # team: the gateway says this operator may not (403)
    UNAUTHORIZED = "unauthorized"  # team: the gateway refuses the desk's operator token (401)
    TAKEN_OVER = "taken over"  # team: a supervisor took the call over; this desk only watches


class CheckReason(Enum):
    """Why the console asked the API about a call."""

    RESTART = "restart"  # it was live when the console last stopped
    SILENT = "silent"  # no webhook for it in ``SILENCE_CHECK`` seconds
    REBUILD = "rebuild"  # team: live here, but not in the gateway's snapshot after a gap


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


@dataclass(frozen=True, slots=True)
class Amd:
    """Answering-machine detection: ``human``, ``machine`` or ``unknown`` (not sure)."""

    answered_by: str
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One thing that happened to a call, in the order of its own timestamp: a
    webhook (``Happened``), an operator action done (``ActionKind``), an answer
    from the API (``CheckReason``) or, in a team, the call being placed
    (``TeamFact``). Facts only; ``console.qt.wording`` words it.

    In a team, an action's ``by`` is the operator who acted and ``role`` theirs;
    ``ended_document`` says the gateway ended the call's TwiML document first;
    a take-over's ``detail`` is the operator it was taken from, a placing's
    ``detail`` the number called."""

    at: float  # the event's own time (epoch seconds)
    what: Happened | ActionKind | CheckReason | TeamFact
    status: CallStatus | None = None  # ENDED, and checks: the status reported
    answered_by: str = ""
    digits: str = ""
    detail: str = ""  # an end or failure reason, the text spoken, the number forwarded to
    by: str = ""  # who hung up; in a team, who acted or placed the call
    raw: Mapping[str, object] | None = None  # the webhook as received
    late: bool = False
    role: Role | None = None  # team: the role of ``by``
    ended_document: bool = False  # team: the action ended a running TwiML document first


@dataclass(frozen=True, slots=True)
class Call:
    sid: str
    to: str = ""
    from_: str = ""
    status: CallStatus = CallStatus.QUEUED
    placed_here: bool = False  # False: an unknown callId arrived at the listener
    owner: str = ""  # team: the operator whose call it is ("" on a single desk)
    taken_from: str = ""  # team: the operator a supervisor took it over from
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
    checking: bool = False  # a question to the API is on its way: none more until answered
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
