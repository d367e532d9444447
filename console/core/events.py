"""What happened (events, in) and what must be done (effects, out).

Events come from the operator (``...Requested``), from the telephony service
(``...Accepted`` / ``...Failed`` / ``...Succeeded``), from the webhook listener
(``WebhookReceived``) and from the clock (``Tick``). Times are epoch seconds.
Effects are intents; ``console.services`` turns them into SDK calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from console.core.calls import (
    ActionKind,
    AnsweredBy,
    CallStatus,
    CheckReason,
    Failure,
    Happened,
)

__all__ = ["ActionKind", "AnsweredBy", "CheckReason", "Failure", "Happened"]


# ----------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class WebhookReceived:
    """A webhook, as facts in the console's own terms (``services.webhook_events``
    translates Kaphila's). ``raw`` is the body as it came, kept to be shown
    verbatim; nothing here reads it."""

    call_sid: str
    happened: Happened
    at: float  # the event's own timestamp
    received_at: float  # local time it arrived
    status: CallStatus | None = None
    to: str = ""  # E.164
    from_: str = ""
    answered_by: AnsweredBy | None = None
    confidence: float | None = None
    digits: str = ""
    reason: str = ""  # why it ended, or why a gather failed, in the API's word
    hangup_by: str = ""
    forwarded_to: str = ""  # E.164
    parent_sid: str = ""  # the call this leg was forwarded from
    recording_url: str = ""
    raw: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DialRequested:
    request_id: str
    to: str  # E.164
    caller_id: str  # E.164
    at: float
    amd: bool = True
    voice: str | None = None
    ring_timeout: int = 30


@dataclass(frozen=True, slots=True)
class DialAccepted:
    request_id: str
    call_sid: str
    at: float
    credits: int | None = None


@dataclass(frozen=True, slots=True)
class DialFailed:
    """``message`` is what the API or the SDK said, as said; ``code`` Twilio's
    error code and ``status`` the HTTP status (both None when none came)."""

    request_id: str
    message: str
    at: float
    code: int | None = None
    reason: Failure = Failure.REFUSED
    status: int | None = None


@dataclass(frozen=True, slots=True)
class ActionRequested:
    request_id: str
    call_sid: str
    kind: ActionKind
    at: float
    text: str = ""  # speak: the text; gather: the prompt; forward: the number
    voice: str | None = None
    num_digits: int | None = None
    timeout: int = 5
    finish_on_key: str = "#"
    valid_digits: str = ""


@dataclass(frozen=True, slots=True)
class ActionSucceeded:
    request_id: str
    at: float


@dataclass(frozen=True, slots=True)
class ActionFailed:
    request_id: str
    message: str
    at: float
    code: int | None = None
    reason: Failure = Failure.REFUSED
    status: int | None = None


@dataclass(frozen=True, slots=True)
class CallChecked:
    """What the API says about a live call (``GET /calls/{callId}``) after a restart
    or a silence. ``status`` is Twilio's status, or ``None`` when the API no longer
    knows the call; ``reachable`` is False when the API could not be asked at all
    (nothing changes then)."""

    call_sid: str
    status: str | None
    at: float
    reason: CheckReason = CheckReason.RESTART
    reachable: bool = True


@dataclass(frozen=True, slots=True)
class ReconcileRequested:
    """Ask the API about every live call (after a restart)."""

    at: float


@dataclass(frozen=True, slots=True)
class Tick:
    """The clock: finished calls leave the live board after a while."""

    now: float


Event = (
    WebhookReceived
    | DialRequested
    | DialAccepted
    | DialFailed
    | ActionRequested
    | ActionSucceeded
    | ActionFailed
    | CallChecked
    | ReconcileRequested
    | Tick
)
Outcome = DialAccepted | DialFailed | ActionSucceeded | ActionFailed  # ends a request


# ----------------------------------------------------------------------- effects


@dataclass(frozen=True, slots=True)
class PlaceCall:
    request_id: str
    to: str
    caller_id: str
    amd: bool
    voice: str | None
    ring_timeout: int


@dataclass(frozen=True, slots=True)
class RunAction:
    """Speak, gather, forward or hang up on a call (see ``ActionRequested``)."""

    request: ActionRequested


@dataclass(frozen=True, slots=True)
class CheckCall:
    """Ask the API how a call is doing (``GET /calls/{callId}``)."""

    call_sid: str
    reason: CheckReason


Effect = PlaceCall | RunAction | CheckCall
