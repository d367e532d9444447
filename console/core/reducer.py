"""The single owner of call state: ``reduce(state, event) -> (state, effects)``.

Rules (each has its own test):

- Statuses only move forward: queued -> initiated -> ringing -> in-progress ->
  a final status. A final status never changes, and a call never goes back
  to a live state.
- A webhook delivered twice is counted on its call and changes nothing else
  (no new timeline entry, no log line).
- A webhook older than what the call has already seen is recorded in the
  timeline, in its place by time, marked late; it changes the status only
  forward, and fills in facts the call does not have yet (AMD, answer time).
- An unknown callId at the listener becomes a call "not placed here". At most
  ``FOREIGN_LIMIT`` of them are kept (the longest silent go first), and one
  silent for ``FOREIGN_MAX_AGE`` is dropped.
- Nothing is dialled twice: a request id is acted on once, and a second dial
  to a number whose dial is still in flight is refused.
- An action on a call that has ended fails at once, without an effect.
- Finished calls leave the live board ``BOARD_LINGER`` seconds after they
  end; the last ``RECENT_LIMIT`` stay in memory for the session list and the
  rest leave memory (the journal's history keeps them). Finished requests are
  kept the same way, the last ``REQUEST_LIMIT``.
- A live call the console has heard nothing about for ``SILENCE_CHECK``
  seconds is checked with the API (a ``CheckCall`` effect), and so is every
  live call after a restart (``ReconcileRequested``). The API's status moves
  the call forward like a webhook would; a call the API no longer knows is
  ended as failed, with that reason on its timeline.

Every map is persistent (``immutables.Map``): an event costs the same with
100 calls in memory as with 50,000.

In a Team profile (``State.team`` is a ``console.core.team.Team``) the team's
stream is the only source of a call's timeline, so every desk shows a call
identically:

- A stream event (``CallPlaced``, a ``WebhookReceived`` with a ``seq``,
  ``ActionRecorded``, ``PresenceChanged``) at or below the newest sequence
  applied is skipped and counted (``Team.skipped``): each is applied once.
- ``CallPlaced`` puts "placed by <owner>" on the timeline; ``ActionRecorded``
  puts the action with who did it, their role and whether a running TwiML
  document was ended first; a take-over makes the supervisor the call's
  owner (``Call.owner``, ``Call.taken_from``).
- The desk's own outcomes (``DialAccepted``, ``ActionSucceeded``) end their
  requests and add nothing to a timeline; refusals are shown as before.
- An action on a call taken over from this operator fails at once
  (``Failure.TAKEN_OVER``); a take-over by an operator fails as
  ``Failure.FORBIDDEN``; running a document from the desk is not supported.
- The desk's own status (``Team.status``) is on-call while one of its own
  calls is live, wrap-up when the last one ends, and otherwise what the
  operator picked (``StatusRequested``); each change is a ``PublishPresence``.
- After a gap, ``CallSeen`` loads the gateway's snapshot and ``Rebuilt``
  continues from its sequence (even a lower one: a stream started afresh); a
  call live here that the snapshot lacks is checked with the API
  (``CheckReason.REBUILD``).
- Nothing is checked for silence (the stream misses nothing) and a restart
  asks nothing (the stream resumes where the journal stopped).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any, Literal, assert_never

from immutables import Map

from console.core.calls import Amd, Call, CallStatus, Happened, TimelineEntry
from console.core.events import (
    ActionFailed,
    ActionKind,
    ActionRecorded,
    ActionRequested,
    ActionSucceeded,
    CallChecked,
    CallPlaced,
    CallSeen,
    CheckCall,
    CheckReason,
    DialAccepted,
    DialFailed,
    DialRequested,
    Effect,
    Event,
    Failure,
    FiguresLoaded,
    Identified,
    LinkChanged,
    PlaceCall,
    PresenceChanged,
    PresencePosted,
    PublishPresence,
    Rebuilt,
    ReconcileRequested,
    RunAction,
    StatusRequested,
    Tick,
    WebhookReceived,
)
from console.core.team import (
    CHOOSABLE,
    REASON_LIMIT,
    Desk,
    Link,
    OperatorPresence,
    OwnStatus,
    Presence,
    Team,
    TeamFact,
    read_only,
)

BOARD_LINGER = 10.0  # seconds a finished call stays on the live board
LOG_LIMIT = 1000  # global event log entries kept
RECENT_LIMIT = 200  # finished calls kept in memory after they leave the board
REQUEST_LIMIT = 500  # finished requests kept in memory
FOREIGN_LIMIT = 1000  # calls not placed here kept at once
FOREIGN_MAX_AGE = 3600.0  # seconds of silence before such a call is dropped
SILENCE_CHECK = 30.0  # seconds without news before a live call is checked with the API
SCAN_EVERY = 5.0  # seconds between the clock's scans for silent and old calls
TIMELINE_LIMIT = 500  # entries kept per call in memory (the journal keeps all)


class RequestState:
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


DIAL: Literal["dial"] = "dial"
RequestKind = Literal["dial"] | ActionKind


@dataclass(frozen=True, slots=True)
class Request:
    """An operator request (a dial or an action) and how it went."""

    request_id: str
    kind: RequestKind
    at: float
    target: str = ""  # the number dialled or forwarded to, the text spoken ...
    call_sid: str | None = None
    caller_id: str = ""  # a dial's caller ID
    state: str = RequestState.PENDING
    message: str = ""
    code: int | None = None
    reason: Failure | None = None
    status: int | None = None  # the HTTP status of a refusal

    @property
    def unreachable(self) -> bool:
        return self.reason is Failure.UNREACHABLE


class Note(Enum):
    """Log lines that are neither a call's event nor a request's outcome."""

    ALREADY_DIALING = "already dialing"


Level = Literal["info", "warning", "error"]


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of the global log, as facts: a call's timeline entry, a request
    (started or failed), or a note; ``number`` names the call."""

    at: float
    line: TimelineEntry | Request | Note
    number: str = ""
    call_sid: str | None = None
    level: Level = "info"


_NO_CALLS: Map[str, Call] = Map()
_NO_REQUESTS: Map[str, Request] = Map()
_NO_KEYS: Map[str, int] = Map()
_NO_IDS: Map[str, str] = Map()
_NO_TIMES: Map[str, float] = Map()


@dataclass(frozen=True, slots=True)
class State:
    calls: Map[str, Call] = _NO_CALLS  # live, on the board, or recently finished
    board: Map[str, int] = _NO_KEYS  # the live board: sid -> its place (ascending)
    requests: Map[str, Request] = _NO_REQUESTS
    log: tuple[LogEntry, ...] = ()
    credits: int | None = None
    last_webhook_at: float | None = None
    duplicates: int = 0  # webhooks delivered again (all calls)
    foreign_dropped: int = 0  # calls not placed here dropped to keep memory bounded
    # Indexes, so no event has to walk every call or request:
    dialing: Map[str, str] = _NO_IDS  # number -> the dial request in flight
    hanging_up: Map[str, str] = _NO_IDS  # sid -> the hang-up request in flight
    lingering: Map[str, float] = _NO_TIMES  # finished calls on the board -> local end time
    foreign: Map[str, float] = _NO_TIMES  # calls not placed here -> local time last heard
    recent: tuple[str, ...] = ()  # finished calls off the board, oldest first
    finished_requests: tuple[str, ...] = ()  # oldest first
    next_place: int = 0
    shape: int = 0  # bumped when a call joins or leaves ``calls`` or ``board`` (views diff then)
    next_scan: float = 0.0
    team: Team | None = None  # a Team profile's desk (console.core.team); None: a single desk


def board_order(state: State) -> list[str]:
    """The board's calls, top to bottom (oldest first)."""
    return sorted(state.board, key=state.board.__getitem__)


def reduce(state: State, event: Event) -> tuple[State, tuple[Effect, ...]]:
    """Apply one event; see the module docstring for the rules."""
    match event:
        case WebhookReceived() if state.team is not None:
            return _team_webhook(state, state.team, event)
        case WebhookReceived():
            return _webhook(state, event), ()
        case DialRequested():
            return _dial_requested(state, event)
        case DialAccepted():
            return _dial_accepted(state, event)
        case DialFailed() | ActionFailed():
            return _request_failed(
                state,
                event.request_id,
                event.message,
                event.code,
                event.at,
                event.reason,
                event.status,
            ), ()
        case ActionRequested():
            return _action_requested(state, event)
        case ActionSucceeded():
            return _action_succeeded(state, event), ()
        case CallChecked():
            return _call_checked(state, event), ()
        case ReconcileRequested():
            if state.team is not None:  # the stream resumes where the journal stopped
                return state, ()
            live = [c.sid for c in state.calls.values() if c.live]
            return _check(state, live, CheckReason.RESTART, event.at)
        case Tick():
            return _tick(state, event)
        case (
            Identified()
            | LinkChanged()
            | CallPlaced()
            | ActionRecorded()
            | PresenceChanged()
            | CallSeen()
            | Rebuilt()
            | FiguresLoaded()
            | StatusRequested()
            | PresencePosted()
        ):
            if state.team is None:  # a single desk has no team: nothing to apply
                return state, ()
            return _team_event(state, state.team, event)
        case _:
            assert_never(event)


# --------------------------------------------------------------------- webhooks


def _webhook(state: State, event: WebhookReceived) -> State:
    # Two copies per webhook (the call, the state): this is the hot path.
    sid = event.call_sid
    call = state.calls.get(sid)
    if call is None:
        placed_here = _is_leg_of_known_call(state, event.parent_sid)
        call = Call(
            sid=sid, to=event.to, from_=event.from_, created_at=event.at, placed_here=placed_here
        )
        if not placed_here:
            state = _admit_foreign(state, sid, event.received_at)
    key = f"{event.happened.value}|{event.at!r}|{event.digits}"
    if key in call.seen:
        return _put_call(
            state,
            replace(call, duplicates=call.duplicates + 1, heard_at=event.received_at),
            duplicates=state.duplicates + 1,
            last_webhook_at=event.received_at,
        )
    late = event.at < call.last_event_at
    entry = TimelineEntry(
        event.at,
        event.happened,
        status=event.status,
        answered_by=event.answered_by or "",
        digits=event.digits,
        detail=event.reason,
        by=event.hangup_by,
        raw=event.raw,
        late=late,
    )
    changes = _facts(call, event)
    changes.update(
        timeline=_insert(call.timeline, entry),
        last_event_at=max(call.last_event_at, event.at),
        heard_at=event.received_at,
        seen=call.seen | {key},
    )
    updated = replace(call, **changes)  # type: ignore[arg-type]
    level: Level = "warning" if event.happened is Happened.GATHER_FAILED or late else "info"
    foreign = state.foreign if updated.placed_here else state.foreign.set(sid, event.received_at)
    line = LogEntry(event.received_at, entry, updated.to or sid, sid, level)
    return _put_call(
        state,
        updated,
        now=event.received_at,
        foreign=foreign,
        last_webhook_at=event.received_at,
        log=_logged(state.log, line),
    )


def _is_leg_of_known_call(state: State, parent: str) -> bool:
    known = state.calls.get(parent) if parent else None
    return known is not None and known.placed_here


def _admit_foreign(state: State, sid: str, now: float) -> State:
    """Make room for one more call not placed here: the longest silent tenth go
    when the limit is reached (one sort per hundred new calls, not a scan each)."""
    if len(state.foreign) < FOREIGN_LIMIT:
        return state
    oldest = sorted(state.foreign.items(), key=lambda item: item[1])
    drop = [s for s, _ in oldest[: max(1, FOREIGN_LIMIT // 10)]]
    return replace(_forget(state, drop), foreign_dropped=state.foreign_dropped + len(drop))


def _facts(call: Call, event: WebhookReceived) -> dict[str, object]:
    """What a webhook changes on its call."""
    happened = event.happened
    changes: dict[str, object] = {}
    status = event.status
    if status is not None and not call.status.terminal and status.rank > call.status.rank:
        changes["status"] = status
    if not call.to and event.to:
        changes["to"] = event.to
    if not call.from_ and event.from_:
        changes["from_"] = event.from_
    if happened is Happened.ANSWERED and call.answered_at is None:
        changes["answered_at"] = event.at
    if call.amd is None and event.answered_by:
        changes["amd"] = Amd(event.answered_by, event.confidence)
    if happened in (Happened.ENDED, Happened.NO_ANSWER):
        if call.ended_at is None:
            changes["ended_at"] = event.at
        if event.reason:
            changes["end_reason"] = event.reason
        if event.forwarded_to:
            changes["forwarded_to"] = event.forwarded_to
    digits = event.digits
    if happened is Happened.GATHER_STARTED:
        changes.update(gathering=True, digits="")
    elif happened is Happened.GATHER_PROGRESS:
        changes["digits"] = digits
    elif happened.ends_a_gather:
        changes.update(gathering=False, digits=digits or call.digits)
        if happened is not Happened.GATHER_FAILED:
            changes["gathers"] = (*call.gathers, digits)
    elif happened is Happened.KEY_PRESSED and not call.gathering:
        changes["digits"] = (call.digits + digits)[-12:]
    if event.recording_url:
        changes["recording_url"] = event.recording_url
    new_status = changes.get("status")
    if isinstance(new_status, CallStatus) and new_status.terminal:
        changes["gathering"] = False
        changes.setdefault("ended_at", call.ended_at or event.at)
    return changes


# --------------------------------------------------------------------- dials


def _dial_requested(state: State, event: DialRequested) -> tuple[State, tuple[Effect, ...]]:
    if event.request_id in state.requests:
        return state, ()
    if event.to in state.dialing:
        return _log(state, LogEntry(event.at, Note.ALREADY_DIALING, event.to, level="warning")), ()
    request = Request(event.request_id, DIAL, event.at, target=event.to, caller_id=event.caller_id)
    state = replace(
        state,
        requests=state.requests.set(event.request_id, request),
        dialing=state.dialing.set(event.to, event.request_id),
    )
    state = _log(state, LogEntry(event.at, request, event.to))
    effect = PlaceCall(
        event.request_id, event.to, event.caller_id, event.amd, event.voice, event.ring_timeout
    )
    return state, (effect,)


def _dial_accepted(state: State, event: DialAccepted) -> tuple[State, tuple[Effect, ...]]:
    request = state.requests.get(event.request_id)
    if request is None or request.state != RequestState.PENDING:
        return state, ()
    done = replace(request, state=RequestState.DONE, call_sid=event.call_sid)
    state = _finish_request(state, done)
    if event.credits is not None:
        state = replace(state, credits=event.credits)
    existing = state.calls.get(event.call_sid)
    owner = state.team.me.operator if state.team is not None else ""
    if existing is None:
        call = Call(
            event.call_sid,
            to=request.target,
            from_=request.caller_id if state.team is not None else "",
            status=CallStatus.QUEUED,
            placed_here=True,
            created_at=event.at,
            heard_at=event.at,
            owner=owner,
        )
    else:  # its webhooks (or the stream's placed) arrived before the API answered
        call = replace(
            existing,
            placed_here=True,
            to=existing.to or request.target,
            owner=existing.owner or owner,
        )
        state = replace(
            state,
            foreign=state.foreign.delete(event.call_sid)
            if event.call_sid in state.foreign
            else state.foreign,
        )
    state = _put_call(state, call, now=event.at)
    if state.team is not None:
        return _track_mine(state, state.team, call, event.at)
    return state, ()


def _request_failed(
    state: State,
    request_id: str,
    message: str,
    code: int | None,
    at: float,
    reason: Failure = Failure.REFUSED,
    status: int | None = None,
) -> State:
    request = state.requests.get(request_id)
    if request is None or request.state != RequestState.PENDING:
        return state
    failed = replace(
        request, state=RequestState.FAILED, message=message, code=code, reason=reason, status=status
    )
    state = _finish_request(state, failed)
    call = state.calls.get(request.call_sid or "")
    number = call.to if call is not None else request.target
    return _log(state, LogEntry(at, failed, number, request.call_sid, "error"))


def _finish_request(state: State, request: Request) -> State:
    """Record a request's outcome, drop it from the in-flight indexes, and keep
    only the last ``REQUEST_LIMIT`` finished ones."""
    requests = state.requests.set(request.request_id, request)
    dialing, hanging_up = state.dialing, state.hanging_up
    if request.kind == DIAL and dialing.get(request.target) == request.request_id:
        dialing = dialing.delete(request.target)
    if request.call_sid is not None and (hanging_up.get(request.call_sid) == request.request_id):
        hanging_up = hanging_up.delete(request.call_sid)
    finished = (*state.finished_requests, request.request_id)
    if len(finished) > REQUEST_LIMIT:
        with requests.mutate() as editing:
            for old in finished[:-REQUEST_LIMIT]:
                editing.pop(old, None)
            requests = editing.finish()
        finished = finished[-REQUEST_LIMIT:]
    return replace(
        state, requests=requests, dialing=dialing, hanging_up=hanging_up, finished_requests=finished
    )


# --------------------------------------------------------------------- actions


def _action_requested(state: State, event: ActionRequested) -> tuple[State, tuple[Effect, ...]]:
    if event.request_id in state.requests:
        return state, ()
    call = state.calls.get(event.call_sid)
    request = Request(
        event.request_id, event.kind, event.at, target=event.text, call_sid=event.call_sid
    )
    state = replace(state, requests=state.requests.set(event.request_id, request))
    if call is None or not call.live:
        return _request_failed(state, event.request_id, "", None, event.at, Failure.ENDED), ()
    if (refused := _team_refusal(state.team, call, event.kind)) is not None:
        return _request_failed(state, event.request_id, "", None, event.at, refused), ()
    if event.kind is ActionKind.GATHER and call.gathering:
        return _request_failed(state, event.request_id, "", None, event.at, Failure.BUSY), ()
    if event.kind is ActionKind.HANG_UP:
        if event.call_sid in state.hanging_up:
            return _request_failed(state, event.request_id, "", None, event.at, Failure.BUSY), ()
        state = replace(state, hanging_up=state.hanging_up.set(event.call_sid, event.request_id))
    return state, (RunAction(event),)


def _action_succeeded(state: State, event: ActionSucceeded) -> State:
    request = state.requests.get(event.request_id)
    if request is None or request.state != RequestState.PENDING:
        return state
    state = _finish_request(state, replace(request, state=RequestState.DONE))
    call = state.calls.get(request.call_sid or "")
    if request.kind == DIAL:  # a dial ends with DialAccepted, never here
        return state
    if state.team is not None:  # the stream's action event is the timeline's, on every desk
        return state
    entry = TimelineEntry(event.at, request.kind, detail=request.target)
    if call is not None:
        spoken = (*call.spoken, request.target) if request.kind is ActionKind.SPEAK else call.spoken
        state = _put_call(
            state, replace(call, timeline=_insert(call.timeline, entry), spoken=spoken)
        )
    number = call.to if call is not None else ""
    return _log(state, LogEntry(event.at, entry, number, request.call_sid))


# --------------------------------------------------------------------- checks


def _check(
    state: State, sids: Iterable[str], reason: CheckReason, now: float
) -> tuple[State, tuple[Effect, ...]]:
    """Ask the API about these calls; each is asked again only after another silence."""
    effects: list[Effect] = []
    calls = state.calls
    with calls.mutate() as editing:
        for sid in sids:
            editing[sid] = replace(editing[sid], checked_at=now, checking=True)
            effects.append(CheckCall(sid, reason))
        calls = editing.finish()
    return (replace(state, calls=calls) if effects else state), tuple(effects)


def _call_checked(state: State, event: CallChecked) -> State:
    call = state.calls.get(event.call_sid)
    if call is None:
        return state
    if not call.live or not event.reachable:  # nothing learnt; the next silence asks again
        return _put_call(state, replace(call, checking=False)) if call.checking else state
    status = CallStatus.parse(event.status)
    changes: dict[str, object] = {"heard_at": max(call.heard_at, event.at), "checking": False}
    if event.status is None:
        changes.update(
            status=CallStatus.FAILED,
            end_reason="unknown to the API after a restart"
            if event.reason is CheckReason.RESTART
            else "unknown to the API",
        )
    else:
        if status is not None and status.rank > call.status.rank:
            changes["status"] = status
        elif event.reason is CheckReason.SILENT:  # still as we thought: nothing to show
            return _put_call(state, replace(call, **changes))  # type: ignore[arg-type]
    new_status = changes.get("status")
    if isinstance(new_status, CallStatus) and new_status.terminal:
        changes.update(ended_at=call.ended_at or event.at, gathering=False)
    # status None: the API no longer knows the call; detail keeps a status it
    # reported that this console does not know, as it was said.
    entry = TimelineEntry(
        event.at,
        event.reason,
        status=status,
        detail=event.status if event.status and status is None else "",
    )
    updated = replace(call, timeline=_insert(call.timeline, entry), **changes)  # type: ignore[arg-type]
    level: Level = "warning" if event.status is None else "info"
    return _log(
        _put_call(state, updated, now=event.at),
        LogEntry(event.at, entry, call.to or call.sid, call.sid, level),
    )


# --------------------------------------------------------------------- clock


def _tick(state: State, event: Tick) -> tuple[State, tuple[Effect, ...]]:
    now = event.now
    gone = sorted(
        (sid for sid, ended in state.lingering.items() if ended <= now - BOARD_LINGER),
        key=lambda sid: (state.lingering[sid], state.board.get(sid, 0)),
    )
    if gone:
        state = _leave_board(state, gone)
    if now < state.next_scan:
        return state, ()
    state = replace(state, next_scan=now + SCAN_EVERY)
    if state.team is not None:  # the stream misses nothing: no silence to check, no strangers
        return state, ()
    old = [sid for sid, heard in state.foreign.items() if heard <= now - FOREIGN_MAX_AGE]
    if old:
        state = replace(_forget(state, old), foreign_dropped=state.foreign_dropped + len(old))
    silent = [
        sid
        for sid in state.board
        if (call := state.calls[sid]).live
        and not call.checking
        and now - max(call.heard_at, call.checked_at) >= SILENCE_CHECK
    ]
    return _check(state, silent, CheckReason.SILENT, now)


def _leave_board(state: State, sids: list[str]) -> State:
    """Finished calls leave the board for the recent list; the oldest recent ones
    leave memory."""
    recent = (*state.recent, *sids)
    drop = recent[:-RECENT_LIMIT] if len(recent) > RECENT_LIMIT else ()
    with (
        state.board.mutate() as board,
        state.lingering.mutate() as lingering,
        state.foreign.mutate() as foreign,
    ):
        for sid in sids:
            board.pop(sid, None)
            lingering.pop(sid, None)
            foreign.pop(sid, None)  # bounded by the recent list from now on
        left = replace(
            state,
            board=board.finish(),
            lingering=lingering.finish(),
            foreign=foreign.finish(),
            recent=recent[len(drop) :],
            shape=state.shape + 1,
        )
    return _forget(left, drop) if drop else left


def _forget(state: State, sids: Iterable[str]) -> State:
    """Calls leave memory altogether (the journal keeps them)."""
    with (
        state.calls.mutate() as calls,
        state.board.mutate() as board,
        state.lingering.mutate() as lingering,
        state.foreign.mutate() as foreign,
    ):
        for sid in sids:
            for editing in (calls, board, lingering, foreign):
                editing.pop(sid, None)
        forgotten = replace(
            state,
            calls=calls.finish(),
            board=board.finish(),
            lingering=lingering.finish(),
            foreign=foreign.finish(),
            shape=state.shape + 1,
        )
    return forgotten


# --------------------------------------------------------------------- team


def _team_refusal(team: Team | None, call: Call, kind: ActionKind) -> Failure | None:
    """Why this desk may not act on ``call`` at all (the gateway would refuse too)."""
    if team is None:
        return None
    if read_only(team, call):
        return Failure.TAKEN_OVER
    if kind is ActionKind.TAKE_OVER and not team.supervisor:
        return Failure.FORBIDDEN
    if kind is ActionKind.DOCUMENT:  # the desk runs no documents; scripts do
        return Failure.NOT_SUPPORTED
    return None


def _fresh(team: Team, seq: int) -> bool:
    """Is a stream event at ``seq`` new here? (0: not from the stream: always.)"""
    return seq == 0 or seq > team.seq


def _skip(state: State, team: Team) -> tuple[State, tuple[Effect, ...]]:
    return replace(state, team=replace(team, skipped=team.skipped + 1)), ()


def _applied(state: State, seq: int) -> State:
    team = state.team
    assert team is not None
    if seq == 0:
        return state
    return replace(state, team=replace(team, seq=max(team.seq, seq), applied=team.applied + 1))


def _team_webhook(
    state: State, team: Team, event: WebhookReceived
) -> tuple[State, tuple[Effect, ...]]:
    if not _fresh(team, event.seq):
        return _skip(state, team)
    call = state.calls.get(event.call_sid)
    if call is None:  # a team call: known to the gateway, never a stranger here
        call = Call(
            event.call_sid,
            to=event.to,
            from_=event.from_,
            created_at=event.at,
            placed_here=True,
            owner=event.owner,
        )
        state = _put_call(state, call)
    elif event.owner and call.owner != event.owner:
        state = _put_call(state, replace(call, owner=event.owner))
    state = _applied(_webhook(state, event), event.seq)
    assert state.team is not None
    return _track_mine(state, state.team, state.calls[event.call_sid], event.received_at)


def _team_event(
    state: State,
    team: Team,
    event: Identified
    | LinkChanged
    | CallPlaced
    | ActionRecorded
    | PresenceChanged
    | CallSeen
    | Rebuilt
    | FiguresLoaded
    | StatusRequested
    | PresencePosted,
) -> tuple[State, tuple[Effect, ...]]:
    match event:
        case Identified():
            return _identified(state, team, event)
        case LinkChanged():
            if event.link is team.link:
                return state, ()
            rebuilt = Map() if event.link is Link.REBUILDING else team.rebuilt
            return replace(
                state, team=replace(team, link=event.link, link_since=event.at, rebuilt=rebuilt)
            ), ()
        case CallPlaced():
            if not _fresh(team, event.seq):
                return _skip(state, team)
            return _placed(state, event)
        case ActionRecorded():
            if not _fresh(team, event.seq):
                return _skip(state, team)
            return _recorded(state, event)
        case PresenceChanged():
            if not _fresh(team, event.seq):
                return _skip(state, team)
            seen = OperatorPresence(
                event.operator,
                event.role,
                event.status,
                event.reason,
                event.since,
                event.current_call,
            )
            team = replace(team, operators=team.operators.set(event.operator, seen))
            return _applied(replace(state, team=team), event.seq), ()
        case CallSeen():
            return _seen(state, team, event)
        case Rebuilt():
            return _rebuilt(state, team, event)
        case FiguresLoaded():
            return replace(state, team=replace(team, figures=event.figures)), ()
        case StatusRequested():
            return _status_requested(state, team, event)
        case PresencePosted():
            failed = not event.ok
            if failed is team.presence_failed:
                return state, ()
            return replace(state, team=replace(team, presence_failed=failed)), ()
        case _:
            assert_never(event)


def _identified(state: State, team: Team, event: Identified) -> tuple[State, tuple[Effect, ...]]:
    """The greeting: who this desk is. Its own live calls are found once (a scan
    per identity, not per event) and its status published."""
    me = Desk(event.operator, event.role)
    if me != team.me:
        mine: Map[str, float] = Map()
        with mine.mutate() as editing:
            for sid in state.board:
                call = state.calls[sid]
                if call.live and call.owner == me.operator:
                    editing[sid] = call.created_at or event.at
            mine = editing.finish()
        team = replace(team, me=me, mine=mine)
    status = team.status
    if team.mine and status.status is not Presence.ON_CALL:
        status = OwnStatus(Presence.ON_CALL, "", event.at, next(iter(team.mine)))
    elif not team.mine and status.status is Presence.ON_CALL:
        status = OwnStatus(Presence.WRAP_UP, "", event.at)
    elif status.since == 0.0:
        status = replace(status, since=event.at)
    team = replace(team, status=status)
    return replace(state, team=team), (_publish(status),)


def _publish(status: OwnStatus) -> PublishPresence:
    return PublishPresence(status.status, status.reason, status.call_sid)


def _track_mine(
    state: State, team: Team, call: Call, at: float
) -> tuple[State, tuple[Effect, ...]]:
    """Keep ``Team.mine`` (this desk's own live calls) and the status that follows
    from it: on-call while one is live, wrap-up once the last one is gone."""
    ours = team.me.known and call.live and call.owner == team.me.operator
    sid = call.sid
    if ours == (sid in team.mine):
        return state, ()
    status = before = team.status
    if ours:
        mine = team.mine.set(sid, at)
        if status.status is not Presence.ON_CALL:
            status = OwnStatus(Presence.ON_CALL, "", at, sid)
    else:
        mine = team.mine.delete(sid)
        if not mine and status.status is Presence.ON_CALL:
            status = OwnStatus(Presence.WRAP_UP, "", at)
        elif status.call_sid == sid:
            status = replace(status, call_sid=next(iter(mine)))
    team = replace(team, mine=mine, status=status)
    effects = (_publish(status),) if status is not before else ()
    return replace(state, team=team), effects


def _placed(state: State, event: CallPlaced) -> tuple[State, tuple[Effect, ...]]:
    call = state.calls.get(event.call_sid) or Call(
        event.call_sid, created_at=event.at, heard_at=event.at
    )
    entry = TimelineEntry(event.at, TeamFact.PLACED, detail=event.to, by=event.owner)
    call = replace(
        call,
        placed_here=True,
        owner=call.owner or event.owner,
        to=call.to or event.to,
        from_=call.from_ or event.from_,
        created_at=min(call.created_at or event.at, event.at),
        timeline=_insert(call.timeline, entry),
    )
    state = _put_call(state, call, now=event.at)
    state = _applied(_log(state, LogEntry(event.at, entry, call.to, call.sid)), event.seq)
    assert state.team is not None
    return _track_mine(state, state.team, call, event.at)


def _recorded(state: State, event: ActionRecorded) -> tuple[State, tuple[Effect, ...]]:
    entry = TimelineEntry(
        event.at,
        event.kind,
        detail=event.detail,
        by=event.by,
        role=event.role,
        ended_document=event.ended_document,
    )
    call = state.calls.get(event.call_sid)
    number = call.to if call is not None else ""
    state = _applied(_log(state, LogEntry(event.at, entry, number, event.call_sid)), event.seq)
    if call is None:  # a call this desk no longer holds (it left memory): logged only
        return state, ()
    changes: dict[str, object] = {"timeline": _insert(call.timeline, entry)}
    if event.kind is ActionKind.SPEAK:
        changes["spoken"] = (*call.spoken, event.detail)
    if event.kind is ActionKind.TAKE_OVER:
        changes.update(owner=event.owner or event.by, taken_from=event.detail or call.owner)
    elif event.owner:
        changes["owner"] = event.owner
    call = replace(call, **changes)  # type: ignore[arg-type]
    state = _put_call(state, call)
    assert state.team is not None
    return _track_mine(state, state.team, call, event.at)


def _seen(state: State, team: Team, event: CallSeen) -> tuple[State, tuple[Effect, ...]]:
    """One call of the snapshot: facts it lacks are filled in, its status moves
    only forward, its timeline is left as it is (the snapshot has none)."""
    call = state.calls.get(event.call_sid) or Call(
        event.call_sid, created_at=event.placed_at or event.at, heard_at=event.at
    )
    changes: dict[str, object] = {
        "placed_here": True,
        "owner": event.owner or call.owner,
        "taken_from": event.taken_from or call.taken_from,
        "to": call.to or event.to,
        "from_": call.from_ or event.from_,
    }
    if not call.status.terminal and event.status.rank > call.status.rank:
        changes["status"] = event.status
        if event.status.terminal:
            changes["ended_at"] = call.ended_at or event.at
    if call.amd is None and event.answered_by:
        changes["amd"] = Amd(event.answered_by)
    if call.answered_at is None and event.answered_at is not None:
        changes["answered_at"] = event.answered_at
    call = replace(call, **changes)  # type: ignore[arg-type]
    team = replace(team, rebuilt=team.rebuilt.set(call.sid, event.at))
    state = _put_call(replace(state, team=team), call, now=event.at)
    return _track_mine(state, team, call, event.at)


def _rebuilt(state: State, team: Team, event: Rebuilt) -> tuple[State, tuple[Effect, ...]]:
    """The snapshot is in: stream on after its sequence; ask about the calls live
    here that it did not list (they ended, or left this desk's sight, meanwhile)."""
    missing = [
        sid
        for sid in state.board
        if sid not in team.rebuilt and (call := state.calls[sid]).live and not call.checking
    ]
    # The snapshot's sequence, even a lower one: a stream that was started afresh
    # numbers its events from 1 again.
    team = replace(team, seq=event.seq, rebuilt=Map())
    return _check(replace(state, team=team), missing, CheckReason.REBUILD, event.at)


def _status_requested(
    state: State, team: Team, event: StatusRequested
) -> tuple[State, tuple[Effect, ...]]:
    """The operator's pick counts once none of the desk's own calls is live."""
    if event.status not in CHOOSABLE or team.mine:
        return state, ()
    reason = event.reason.strip()[:REASON_LIMIT] if event.status is Presence.AWAY else ""
    if (team.status.status, team.status.reason) == (event.status, reason):
        return state, ()
    status = OwnStatus(event.status, reason, event.at)
    return replace(state, team=replace(team, status=status)), (_publish(status),)


# --------------------------------------------------------------------- helpers


def _put_call(state: State, call: Call, now: float | None = None, **changes: Any) -> State:
    """Store a call (and ``changes`` to the state, in the same copy); a new call
    joins the board, a newly finished one lingers there."""
    sid = call.sid
    board, lingering, place = state.board, state.lingering, state.next_place
    shape = state.shape
    if sid not in board and sid not in state.calls:
        board, place, shape = board.set(sid, place), place + 1, shape + 1
    if not call.live and sid in board and sid not in lingering:
        lingering = lingering.set(sid, now if now is not None else call.ended_at or 0.0)
    if len(call.timeline) > TIMELINE_LIMIT:
        call = replace(call, timeline=call.timeline[-TIMELINE_LIMIT:])
    return replace(
        state,
        calls=state.calls.set(sid, call),
        board=board,
        lingering=lingering,
        next_place=place,
        shape=shape,
        **changes,
    )


def _insert(timeline: tuple[TimelineEntry, ...], entry: TimelineEntry) -> tuple[TimelineEntry, ...]:
    if not timeline or timeline[-1].at <= entry.at:  # the usual case: in order
        return (*timeline, entry)
    index = bisect.bisect_right(timeline, entry.at, key=lambda e: e.at)
    return (*timeline[:index], entry, *timeline[index:])


def _log(state: State, entry: LogEntry) -> State:
    return replace(state, log=_logged(state.log, entry))


def _logged(log: tuple[LogEntry, ...], entry: LogEntry) -> tuple[LogEntry, ...]:
    if len(log) >= LOG_LIMIT:
        log = log[len(log) - LOG_LIMIT + 1 :]
    return (*log, entry)


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None
