"""What happened (events, in) and what must be done (effects, out).

Events come from the operator (``...Requested``), from the telephony service
(``...Accepted`` / ``...Failed`` / ``...Succeeded``), from the webhook listener
(``WebhookReceived``) and from the clock (``Tick``). Times are epoch seconds.
Effects are intents; ``console.services`` turns them into SDK calls.

In a Team profile the team's stream is the event source instead of the
listener (``services.team_stream`` translates it): ``CallPlaced``,
``WebhookReceived`` (with the stream's ``seq`` and the call's ``owner``),
``ActionRecorded`` and ``PresenceChanged``, each with its stream sequence;
``Identified`` (who this desk is), ``LinkChanged`` (the stream's state),
``CallSeen`` + ``Rebuilt`` (a snapshot after a gap), ``FiguresLoaded`` (the
team's figures) and ``PresencePosted`` (this desk's status reached the
gateway, or not). ``StatusRequested`` is the operator picking a status.
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
from console.core.team import Link, Presence, Role, TeamFigures

__all__ = [
    "ActionKind",
    "AnsweredBy",
    "CheckReason",
    "Failure",
    "Happened",
    "Link",
    "Presence",
    "Role",
    "TeamFigures",
]


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
    seq: int = 0  # team: the stream sequence (0: from the local listener)
    owner: str = ""  # team: the operator whose call it is


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


# ------------------------------------------------------------------ team events


@dataclass(frozen=True, slots=True)
class Identified:
    """Who this desk is, as the gateway says (the stream's greeting)."""

    operator: str
    role: Role
    at: float


@dataclass(frozen=True, slots=True)
class LinkChanged:
    """The team stream's connection changed (not journaled: a fact of this run)."""

    link: Link
    at: float


@dataclass(frozen=True, slots=True)
class CallPlaced:
    """The stream: ``owner`` placed a call (``at``: the gateway's time)."""

    seq: int
    call_sid: str
    owner: str
    to: str  # E.164
    from_: str  # E.164
    at: float


@dataclass(frozen=True, slots=True)
class ActionRecorded:
    """The stream: the gateway passed an action on ``by``'s behalf and Kaphila
    accepted it. ``detail``: the text spoken, the gather prompt, the number
    forwarded to (E.164), the document's URL, or for a take-over the operator it
    was taken from. ``ended_document``: a running TwiML document was ended first."""

    seq: int
    call_sid: str
    owner: str  # the owner after the action (a take-over's: the supervisor)
    by: str
    role: Role
    kind: ActionKind
    at: float
    detail: str = ""
    ended_document: bool = False


@dataclass(frozen=True, slots=True)
class PresenceChanged:
    """An operator's status, from the stream (``seq`` > 0) or from a snapshot of
    everyone's (``seq`` 0, not subject to the sequence rule)."""

    operator: str
    role: Role
    status: Presence
    since: float
    seq: int = 0
    reason: str = ""
    current_call: str = ""  # the call they are on, if any


@dataclass(frozen=True, slots=True)
class CallSeen:
    """One live call from the gateway's snapshot (``GET /team/calls``), loaded
    after a gap: the stream no longer holds what happened while the desk was away."""

    call_sid: str
    owner: str
    status: CallStatus
    at: float  # local time the snapshot was loaded
    taken_from: str = ""
    to: str = ""
    from_: str = ""
    answered_by: AnsweredBy | None = None
    placed_at: float | None = None
    answered_at: float | None = None


@dataclass(frozen=True, slots=True)
class Rebuilt:
    """The snapshot is loaded (every ``CallSeen`` of it dispatched): the stream
    goes on after ``seq``. A call live here but not in the snapshot is checked."""

    seq: int
    at: float


@dataclass(frozen=True, slots=True)
class FiguresLoaded:
    """The team's figures for today (``GET /team/stats``; not journaled)."""

    figures: TeamFigures
    at: float


@dataclass(frozen=True, slots=True)
class StatusRequested:
    """The operator picks a status: available, wrap-up, or away with a reason.
    While one of the desk's own calls is live it stays on-call."""

    status: Presence
    at: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class PresencePosted:
    """Whether this desk's status reached the gateway (``PublishPresence``)."""

    status: Presence
    at: float
    ok: bool = True


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
    | Identified
    | LinkChanged
    | CallPlaced
    | ActionRecorded
    | PresenceChanged
    | CallSeen
    | Rebuilt
    | FiguresLoaded
    | StatusRequested
    | PresencePosted
)
StreamEvent = CallPlaced | WebhookReceived | ActionRecorded | PresenceChanged  # carry ``seq``
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


@dataclass(frozen=True, slots=True)
class PublishPresence:
    """Tell the gateway this desk's status (``POST /team/presence``), now; the
    presence service repeats the newest one as the desk's heartbeat."""

    status: Presence
    reason: str = ""
    call_sid: str = ""


Effect = PlaceCall | RunAction | CheckCall | PublishPresence
