"""The single owner of call state: ``reduce(state, event) -> (state, effects)``.

Rules (each has its own test):

- Statuses only move forward: queued -> initiated -> ringing -> in-progress ->
  a final status. A final status never changes, and a call never goes back
  to a live state.
- A webhook delivered twice is recorded in the timeline as a duplicate and
  changes nothing else.
- A webhook older than what the call has already seen is recorded in the
  timeline, in its place by time, marked late; it changes the status only
  forward, and fills in facts the call does not have yet (AMD, answer time).
- An unknown callId at the listener becomes a call "not placed here".
- Nothing is dialled twice: a request id is acted on once, and a second dial
  to a number whose dial is still in flight is refused.
- An action on a call that has ended fails at once, without an effect.
- Finished calls leave the live board ``BOARD_LINGER`` seconds after they end
  and stay in the session list (``State.calls``).
- After a restart, a live call's status as the API reports it moves the call
  forward like a webhook would; a call the API no longer knows is ended as
  failed, with that reason on its timeline.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from console.core.calls import Amd, Call, CallStatus, TimelineEntry
from console.core.events import (
    ActionFailed,
    ActionKind,
    ActionRequested,
    ActionSucceeded,
    CallChecked,
    DialAccepted,
    DialFailed,
    DialRequested,
    Effect,
    Event,
    PlaceCall,
    RunAction,
    Tick,
    WebhookReceived,
)

BOARD_LINGER = 10.0  # seconds a finished call stays on the live board
LOG_LIMIT = 1000  # global event log entries kept


class RequestState:
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Request:
    """An operator request (a dial or an action) and how it went."""

    request_id: str
    kind: str  # "dial" or an ActionKind value
    at: float
    target: str = ""  # the number dialled or forwarded to, the text spoken ...
    call_sid: str | None = None
    state: str = RequestState.PENDING
    message: str = ""
    code: int | None = None


@dataclass(frozen=True, slots=True)
class LogEntry:
    at: float
    text: str
    call_sid: str | None = None
    level: str = "info"  # info | warning | error


@dataclass(frozen=True, slots=True)
class State:
    calls: Mapping[str, Call] = field(default_factory=dict)
    board: tuple[str, ...] = ()
    requests: Mapping[str, Request] = field(default_factory=dict)
    log: tuple[LogEntry, ...] = ()
    seen: Mapping[str, frozenset[str]] = field(default_factory=dict)
    credits: int | None = None
    last_webhook_at: float | None = None


def reduce(state: State, event: Event) -> tuple[State, tuple[Effect, ...]]:
    """Apply one event; see the module docstring for the rules."""
    if isinstance(event, WebhookReceived):
        return _webhook(state, event), ()
    if isinstance(event, DialRequested):
        return _dial_requested(state, event)
    if isinstance(event, DialAccepted):
        return _dial_accepted(state, event), ()
    if isinstance(event, DialFailed):
        return _request_failed(state, event.request_id, event.message, event.code,
                               event.at), ()
    if isinstance(event, ActionRequested):
        return _action_requested(state, event)
    if isinstance(event, ActionSucceeded):
        return _action_succeeded(state, event), ()
    if isinstance(event, ActionFailed):
        return _request_failed(state, event.request_id, event.message, event.code,
                               event.at), ()
    if isinstance(event, CallChecked):
        return _call_checked(state, event), ()
    return _tick(state, event), ()


# --------------------------------------------------------------------- webhooks


def _webhook(state: State, event: WebhookReceived) -> State:
    sid = event.call_sid
    params = event.params
    call = state.calls.get(sid) or Call(
        sid=sid, to=params.get("To", ""), from_=params.get("From", ""),
        created_at=event.at, placed_here=_is_leg_of_known_call(state, params),
    )
    digits = params.get("Digits", "")
    key = f"{event.event}|{event.at!r}|{digits}"
    seen = state.seen.get(sid, frozenset())
    base = replace(state, last_webhook_at=event.received_at)
    if key in seen:
        entry = TimelineEntry(event.at, event.event, _summary(event) + " (duplicate)",
                              dict(event.raw), duplicate=True)
        return _put_call(base, replace(call, timeline=_insert(call.timeline, entry)))
    late = event.at < call.last_event_at
    entry = TimelineEntry(event.at, event.event, _summary(event), dict(event.raw), late=late)
    updated = _apply_facts(call, event)
    updated = replace(updated, timeline=_insert(call.timeline, entry),
                      last_event_at=max(call.last_event_at, event.at))
    new_seen = {**state.seen, sid: seen | {key}}
    result = _put_call(replace(base, seen=new_seen), updated)
    text = f"{updated.to or sid}: {entry.summary}" + (" (late)" if late else "")
    level = "warning" if event.event in ("gather.failed",) or late else "info"
    return _log(result, LogEntry(event.received_at, text, sid, level))


def _is_leg_of_known_call(state: State, params: Mapping[str, str]) -> bool:
    parent = params.get("ParentCallSid")
    return bool(parent and parent in state.calls and state.calls[parent].placed_here)


def _apply_facts(call: Call, event: WebhookReceived) -> Call:
    params, raw, name = event.params, event.raw, event.event
    changes: dict[str, object] = {}
    status = CallStatus.parse(params.get("CallStatus"))
    if status is not None and not call.status.terminal and (
            status.rank > call.status.rank):
        changes["status"] = status
    if not call.to and params.get("To"):
        changes["to"] = params["To"]
    if not call.from_ and params.get("From"):
        changes["from_"] = params["From"]
    if name == "call.answered" and call.answered_at is None:
        changes["answered_at"] = event.at
    if call.amd is None and params.get("AnsweredBy"):
        changes["amd"] = Amd(params["AnsweredBy"], _float(params.get("MachineDetectionConfidence")))
    if name in ("call.ended", "call.timeout"):
        if call.ended_at is None:
            changes["ended_at"] = event.at
        if isinstance(raw.get("reason"), str):
            changes["end_reason"] = raw["reason"]
        if isinstance(raw.get("forwardedTo"), str):
            changes["forwarded_to"] = "+" + str(raw["forwardedTo"])
    digits = params.get("Digits", "")
    if name == "gather.started":
        changes.update(gathering=True, digits="")
    elif name == "gather.progress":
        changes["digits"] = digits
    elif name in ("gather.complete", "gather.timeout", "gather.failed"):
        changes.update(gathering=False, digits=digits or call.digits)
    elif name == "dtmf.received" and not call.gathering:
        changes["digits"] = (call.digits + digits)[-12:]
    if params.get("RecordingUrl"):
        changes["recording_url"] = params["RecordingUrl"]
    new_status = changes.get("status")
    if isinstance(new_status, CallStatus) and new_status.terminal:
        changes["gathering"] = False
        changes.setdefault("ended_at", call.ended_at or event.at)
    return replace(call, **changes) if changes else call  # type: ignore[arg-type]


def _summary(event: WebhookReceived) -> str:
    params, raw, name = event.params, event.raw, event.event
    digits = params.get("Digits", "")
    if name == "call.initiated":
        return "Ringing"
    if name == "call.answered":
        who = params.get("AnsweredBy")
        return f"Answered ({who})" if who else "Answered"
    if name == "call.ended":
        status = params.get("CallStatus", "completed")
        reason = raw.get("reason")
        by = raw.get("hangupBy")
        detail = ", ".join(str(x) for x in (reason, f"by {by}" if by else None) if x)
        return f"Ended: {status}" + (f" ({detail})" if detail else "")
    if name == "call.timeout":
        return "No answer"
    if name == "dtmf.received":
        return f"Pressed {digits}"
    if name == "gather.started":
        return "Gather started"
    if name == "gather.progress":
        return f"Digits so far: {digits}"
    if name == "gather.complete":
        return f"Gather complete: {digits or '(none)'}"
    if name == "gather.timeout":
        return "Gather timed out" + (f" with {digits}" if digits else "")
    if name == "gather.failed":
        return f"Gather failed: {raw.get('reason', 'unknown reason')}"
    if name == "recording.started":
        return "Recording started"
    if name == "recording.completed":
        return "Recording ready"
    return name


# --------------------------------------------------------------------- dials


def _dial_requested(state: State, event: DialRequested) -> tuple[State, tuple[Effect, ...]]:
    if event.request_id in state.requests:
        return state, ()
    in_flight = any(r.kind == "dial" and r.state == RequestState.PENDING and r.target == event.to
                    for r in state.requests.values())
    if in_flight:
        return _log(state, LogEntry(event.at, f"Already dialing {event.to}", None,
                                    "warning")), ()
    request = Request(event.request_id, "dial", event.at, target=event.to)
    state = replace(state, requests={**state.requests, event.request_id: request})
    state = _log(state, LogEntry(event.at, f"Dialing {event.to} from {event.caller_id}"))
    effect = PlaceCall(event.request_id, event.to, event.caller_id, event.amd, event.voice,
                       event.ring_timeout)
    return state, (effect,)


def _dial_accepted(state: State, event: DialAccepted) -> State:
    request = state.requests.get(event.request_id)
    if request is None or request.state != RequestState.PENDING:
        return state
    done = replace(request, state=RequestState.DONE, call_sid=event.call_sid)
    state = replace(state, requests={**state.requests, event.request_id: done},
                    credits=event.credits if event.credits is not None else state.credits)
    existing = state.calls.get(event.call_sid)
    if existing is None:
        call = Call(event.call_sid, to=request.target, status=CallStatus.QUEUED,
                    placed_here=True, created_at=event.at)
    else:  # its webhooks arrived before the API answered
        call = replace(existing, placed_here=True, to=existing.to or request.target)
    return _put_call(state, call)


def _request_failed(state: State, request_id: str, message: str, code: int | None,
                    at: float) -> State:
    request = state.requests.get(request_id)
    if request is None or request.state != RequestState.PENDING:
        return state
    failed = replace(request, state=RequestState.FAILED, message=message, code=code)
    state = replace(state, requests={**state.requests, request_id: failed})
    what = "Dial" if request.kind == "dial" else request.kind.capitalize()
    return _log(state, LogEntry(at, f"{what} failed: {message}", request.call_sid, "error"))


# --------------------------------------------------------------------- actions


def _action_requested(state: State, event: ActionRequested) -> tuple[State, tuple[Effect, ...]]:
    if event.request_id in state.requests:
        return state, ()
    call = state.calls.get(event.call_sid)
    request = Request(event.request_id, event.kind.value, event.at, target=event.text,
                      call_sid=event.call_sid)
    state = replace(state, requests={**state.requests, event.request_id: request})
    if call is None or not call.live:
        return _request_failed(state, event.request_id, "the call has already ended", None,
                               event.at), ()
    if event.kind is ActionKind.HANG_UP and any(
            r.call_sid == event.call_sid and r.kind == ActionKind.HANG_UP.value
            and r.state == RequestState.PENDING and r.request_id != event.request_id
            for r in state.requests.values()):
        return _request_failed(state, event.request_id, "already hanging up", None,
                               event.at), ()
    return state, (RunAction(event),)


def _action_succeeded(state: State, event: ActionSucceeded) -> State:
    request = state.requests.get(event.request_id)
    if request is None or request.state != RequestState.PENDING:
        return state
    state = replace(state, requests={**state.requests,
                                     event.request_id: replace(request,
                                                               state=RequestState.DONE)})
    call = state.calls.get(request.call_sid or "")
    text = _action_text(request)
    if call is not None:
        entry = TimelineEntry(event.at, f"operator.{request.kind}", text)
        state = _put_call(state, replace(call, timeline=_insert(call.timeline, entry)))
    return _log(state, LogEntry(event.at, text, request.call_sid))


def _action_text(request: Request) -> str:
    if request.kind == ActionKind.SPEAK.value:
        return f"Spoke: {request.target}"
    if request.kind == ActionKind.GATHER.value:
        return "Gather sent" + (f": {request.target}" if request.target else "")
    if request.kind == ActionKind.FORWARD.value:
        return f"Forwarded to {request.target}"
    return "Hung up"


# --------------------------------------------------------------------- restart


def _call_checked(state: State, event: CallChecked) -> State:
    call = state.calls.get(event.call_sid)
    if call is None or not call.live:
        return state
    status = CallStatus.parse(event.status)
    if event.status is None:
        summary = "Checked after restart: the API no longer knows this call"
        changes: dict[str, object] = {"status": CallStatus.FAILED,
                                      "end_reason": "unknown to the API after a restart"}
    else:
        summary = f"Checked after restart: {status.label if status else event.status}"
        changes = ({"status": status} if status is not None and status.rank > call.status.rank
                   else {})
    new_status = changes.get("status")
    if isinstance(new_status, CallStatus) and new_status.terminal:
        changes.update(ended_at=call.ended_at or event.at, gathering=False)
    entry = TimelineEntry(event.at, "console.checked", summary)
    updated = replace(call, timeline=_insert(call.timeline, entry), **changes)  # type: ignore[arg-type]
    level = "warning" if event.status is None else "info"
    return _log(_put_call(state, updated), LogEntry(event.at, f"{call.to or call.sid}: {summary}",
                                                    call.sid, level))


# --------------------------------------------------------------------- clock


def _tick(state: State, event: Tick) -> State:
    keep = tuple(sid for sid in state.board
                 if state.calls[sid].live
                 or (state.calls[sid].ended_at or state.calls[sid].last_event_at)
                 > event.now - BOARD_LINGER)
    return state if keep == state.board else replace(state, board=keep)


# --------------------------------------------------------------------- helpers


def _put_call(state: State, call: Call) -> State:
    board = state.board
    if call.sid not in board and (call.live or call.placed_here):
        board = (*board, call.sid)
    return replace(state, calls={**state.calls, call.sid: call}, board=board)


def _insert(timeline: tuple[TimelineEntry, ...],
            entry: TimelineEntry) -> tuple[TimelineEntry, ...]:
    index = bisect.bisect_right([e.at for e in timeline], entry.at)
    return (*timeline[:index], entry, *timeline[index:])


def _log(state: State, entry: LogEntry) -> State:
    log = (*state.log, entry)
    if len(log) > LOG_LIMIT:
        log = log[-LOG_LIMIT:]
    return replace(state, log=log)


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None
