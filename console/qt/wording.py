"""The operator's words for what the window shows, in one place.

Core and services keep facts (a status, an AMD result with its confidence, a
request's state); this module turns them into text. Nothing ever parses
these sentences back.
"""

from __future__ import annotations

from datetime import datetime

from console.core.calls import (
    ActionKind,
    Amd,
    Call,
    CallStatus,
    CheckReason,
    Failure,
    Happened,
    TimelineEntry,
)
from console.core.notices import (
    EventsSkipped,
    KeyMissing,
    KeyUnusable,
    NoKeyring,
    Notice,
    PlainHttp,
    PortTaken,
    SetAside,
    SettingsUnreadable,
    Storage,
    StorageProblem,
)
from console.core.phone import NumberCheck, NumberProblem
from console.core.reducer import DIAL, LogEntry, Note, Request, RequestState
from console.core.team import (
    Desk,
    Link,
    Presence,
    Role,
    Team,
    TeamFact,
    TeamFigures,
    read_only,
)

STATUS = {
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

AMD_WORDS = {"human": "person", "machine": "machine", "unknown": "not sure"}
ACTION_NAMES: dict[object, str] = {
    DIAL: "Dial",
    ActionKind.SPEAK: "Speak",
    ActionKind.GATHER: "Gather",
    ActionKind.FORWARD: "Forward",
    ActionKind.HANG_UP: "Hang up",
    ActionKind.DOCUMENT: "Run a document",
    ActionKind.TAKE_OVER: "Take over",
}


NUMBER_PROBLEMS = {
    NumberProblem.EMPTY: "enter a number",
    NumberProblem.BAD_COUNTRY_CODE: "the country code is not valid",
    NumberProblem.NOT_A_NUMBER: "this is not a phone number",
    NumberProblem.TOO_SHORT_AFTER_PREFIX: "too short after the international prefix",
    NumberProblem.TOO_SHORT: "too short",
    NumberProblem.TOO_LONG: "too long",
    NumberProblem.WRONG_LENGTH: "Kaphila needs 10 to 15 digits with the country code",
    NumberProblem.IMPOSSIBLE: "not a possible number for its country",
    NumberProblem.INVALID: "not a valid number for its country",
}


def number_problem(check: NumberCheck) -> str:
    return NUMBER_PROBLEMS[check.problem] if check.problem is not None else ""


def plural(count: int, one: str, many: str | None = None) -> str:
    """``plural(1, "call")`` -> "1 call"; ``plural(3, "call")`` -> "3 calls"."""
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def amd(result: Amd | None) -> str:
    """AMD as the operator reads it: "machine (97%)", "not sure (55%)"."""
    if result is None:
        return ""
    words = AMD_WORDS.get(result.answered_by, result.answered_by)
    return words if result.confidence is None else f"{words} ({result.confidence:.0%})"


def status_label(value: CallStatus) -> str:
    return STATUS[value]


def status(call: Call) -> str:
    return STATUS[call.status] + (" · gathering" if call.gathering else "")


def call_name(call: Call) -> str:
    """How the window names a call: its number, and whose it is."""
    return call.to + ("" if call.placed_here else " (not placed here)") if call.to else call.sid


def request(req: Request) -> str:
    what = ACTION_NAMES[req.kind]
    if req.state == RequestState.PENDING:
        return f"{what}: sending…"
    if req.state == RequestState.FAILED:
        return f"{what} failed: {failure(req)}"
    return f"{what}: done"


def failure(req: Request) -> str:
    """Why a request failed, in words."""
    match req.reason:
        case Failure.ENDED:
            return "the call has already ended"
        case Failure.BUSY if req.kind is ActionKind.GATHER:
            return "a gather is already running on this call"
        case Failure.BUSY if req.kind is ActionKind.HANG_UP:
            return "the call is already being hung up"
        case Failure.INTERRUPTED:
            return (
                "the console stopped before Kaphila answered; check the call board "
                "before trying again"
            )
        case Failure.INTERNAL:
            return f"the console failed to send it ({req.message})"
        case Failure.TAKEN_OVER:
            return "this call was taken over from you; you can only watch it"
        case Failure.FORBIDDEN if req.message:  # the gateway's reason, which names the owner
            return f"refused: {req.message}"
        case Failure.FORBIDDEN:
            return "only a supervisor can take a call over"
        case Failure.UNAUTHORIZED:
            return (
                "the gateway refused this desk's operator token (removed, or mistyped); "
                "ask for a new one and enter it in Settings"
            )
        case Failure.NOT_SUPPORTED if req.kind is ActionKind.DOCUMENT:
            return "documents are run by scripts through the gateway, not from the desk"
        case _:
            return refusal(req.reason, req.message, req.code, req.status, req.caller_id)


REFUSALS = {
    20003: "The API key was refused; check the profile's key",
    20404: "Kaphila does not know this call",
    21211: "The number is not valid",
    21212: "The caller ID is not a valid number",
    20500: "Kaphila had a server error; try again",
    20503: "Kaphila is unavailable; try again in a moment",
}


def refusal(
    reason: Failure | None, message: str, code: int | None, status: int | None, caller_id: str = ""
) -> str:
    """What the API or the SDK said, in the operator's words, with Kaphila's HTTP
    status for support. Kaphila's own text only when there are no better words."""
    match reason:
        case Failure.TIMED_OUT:
            return "Kaphila did not answer in time; the request may or may not have gone through"
        case Failure.UNREACHABLE:
            return f"Cannot reach Kaphila ({message})"
        case Failure.NOT_SUPPORTED:
            return message
        case Failure.BAD_ANSWER:
            if message == "no call id":
                return "Kaphila's answer had no call id; check the call board before dialling again"
            return message
    if status is None:  # stored by an older console: already in words
        return message
    words = REFUSALS.get(code or 0)
    if code == 21210:
        words = f"Caller ID {caller_id or 'in use'} is not verified on this account"
    if "gather in progress" in message or "already has a gather" in message:
        words = "A gather is already running on this call"  # Kaphila's text names ids
    if code == 20429:
        words = (
            "Out of credits"
            if status == 402
            else ("Too many requests; wait a moment and try again")
        )
    return (words or f"Kaphila refused: {message}") + f" (Kaphila {status})"


def acting_on(call: Call | None, team: Team | None = None) -> str:
    """The actions panel's heading. In a team a supervisor reads whose call it is;
    an operator whose call was taken over reads that they can only watch it."""
    if call is None:
        return "No call selected: select one on the board (Ctrl+B)"
    watching = read_only(team, call)
    verdict = "" if call.live else " · ended, nothing more can be done"
    if watching:
        verdict = f" · taken over by {call.owner}; you can only watch it"
    mine = team is not None and call.owner == team.me.operator
    return (
        f"{'Watching' if watching else 'Acting on'} <b>{call_name(call)}</b>"
        + (f" ({owner(call)})" if call.owner and not watching and not mine else "")
        + f" · {status(call)}"
        + (f" · AMD {amd(call.amd)}" if call.amd else "")
        + verdict
    )


def characters_left(text: str, limit: int) -> str:
    return f"{len(text):,} / {limit:,}"


CHECKED_WHEN = {
    CheckReason.RESTART: "after restart",
    CheckReason.SILENT: "after a silence",
    CheckReason.REBUILD: "after a long absence",
}


def timeline(entry: TimelineEntry) -> str:
    """One timeline line: a webhook, an operator action done, an answer from the API;
    in a team, who placed the call and who did each action."""
    what = entry.what
    if isinstance(what, TeamFact):
        return f"Placed by {entry.by}" + (f" to {entry.detail}" if entry.detail else "")
    if isinstance(what, ActionKind):
        return _team_action(what, entry) if entry.by else _action_done(what, entry.detail)
    if isinstance(what, CheckReason):
        when = CHECKED_WHEN[what]
        if entry.status is None and not entry.detail:
            return f"Checked {when}: the API no longer knows this call"
        return f"Checked {when}: {STATUS[entry.status] if entry.status else entry.detail}"
    return _happened(entry)


def _team_action(kind: ActionKind, entry: TimelineEntry) -> str:
    """A team's action, as every desk shows it: "Forwarded to +1… by bob, supervisor"."""
    who = f"{entry.by}, {entry.role.value}" if entry.role is not None else entry.by
    if kind is ActionKind.TAKE_OVER:
        line = f"{who}, took over from {entry.detail}" if entry.detail else f"{who}, took over"
    elif kind is ActionKind.SPEAK:
        # Who first: the words are the operator's own and may run long, or end in a stop.
        line = f"{who}, spoke: “{entry.detail}”"
    elif kind is ActionKind.GATHER:
        line = f"{who}, sent a gather" + (f": “{entry.detail}”" if entry.detail else "")
    else:
        line = f"{_action_done(kind, entry.detail)} by {who}"
    return line + ("; ended the TwiML document first" if entry.ended_document else "")


def _action_done(kind: ActionKind, detail: str) -> str:
    match kind:
        case ActionKind.SPEAK:
            return f"Spoke: {detail}"
        case ActionKind.GATHER:
            return "Gather sent" + (f": {detail}" if detail else "")
        case ActionKind.FORWARD:
            return f"Forwarded to {detail}"
        case ActionKind.HANG_UP:
            return "Hung up"
        case ActionKind.DOCUMENT:
            return f"Ran the document {detail}" if detail else "Ran a document"
        case ActionKind.TAKE_OVER:
            return f"Took over from {detail}" if detail else "Took over"


def _happened(entry: TimelineEntry) -> str:
    digits = entry.digits
    match entry.what:
        case Happened.RINGING:
            return "Ringing"
        case Happened.ANSWERED:
            who = AMD_WORDS.get(entry.answered_by, entry.answered_by)
            return f"Answered ({who})" if who else "Answered"
        case Happened.ENDED:
            ended = STATUS[entry.status].lower() if entry.status else "completed"
            detail = ", ".join(x for x in (entry.detail, f"by {entry.by}" if entry.by else "") if x)
            return f"Ended: {ended}" + (f" ({detail})" if detail else "")
        case Happened.NO_ANSWER:
            return "No answer"
        case Happened.KEY_PRESSED:
            return f"Pressed {digits}"
        case Happened.GATHER_STARTED:
            return "Gather started"
        case Happened.GATHER_PROGRESS:
            return f"Digits so far: {digits}"
        case Happened.GATHER_COMPLETE:
            return f"Gather complete: {digits or '(none)'}"
        case Happened.GATHER_TIMEOUT:
            return "Gather timed out" + (f" with {digits}" if digits else "")
        case Happened.GATHER_FAILED:
            return f"Gather failed: {entry.detail or 'no reason given'}"
        case Happened.RECORDING_STARTED:
            return "Recording started"
        case Happened.RECORDING_READY:
            return "Recording ready"
        case Happened.RECORDING_FAILED:
            return "Recording failed"
    return str(entry.what.value)


def log_line(entry: LogEntry) -> str:
    """One line of the event log."""
    line = entry.line
    if isinstance(line, Note):
        return f"Already dialing {entry.number}"
    if isinstance(line, Request):
        if line.state == RequestState.PENDING and line.kind == DIAL:
            return f"Dialing {line.target} from {line.caller_id}"
        return request(line)
    text = timeline(line)
    if isinstance(line.what, ActionKind):
        return text
    return f"{entry.number}: {text}" + (" (late)" if line.late else "")


# ------------------------------------------------------------ the desk's own notices


def storage(problem: StorageProblem) -> str:
    """Why history is not being saved (or cannot be opened)."""
    path = problem.path
    match problem.kind:
        case Storage.LOCKED:
            return (
                f"History is not being saved: the history file {path} is locked by another "
                "program (is a second console running?). The console keeps trying."
            )
        case Storage.FULL:
            return (
                f"History is not being saved: the disk holding {path} is full. Free some "
                "space; the console keeps trying and saves again by itself."
            )
        case Storage.READ_ONLY:
            return (
                f"History is not being saved: the history file {path} cannot be written "
                "(read-only). The console keeps trying."
            )
        case Storage.DAMAGED:
            return f"The history file {path} is damaged ({problem.detail})."
        case Storage.NEWER:
            return (
                f"The history file {path} was written by a newer version of the console "
                f"({problem.detail}); it is left untouched and history is not being saved."
            )
        case Storage.UNOPENABLE:
            return f"The history file {path} cannot be opened ({problem.detail})."
        case Storage.FAILED:
            return (
                f"History is not being saved: the history file {path} failed "
                f"({problem.detail}). The console keeps trying."
            )


KEY_UNSENDABLE = (
    "The API key contains a line break, a space or another character that cannot be "
    "sent; paste it again without them."
)


def notice(item: Notice) -> str:
    """A notice about the desk itself, in the operator's words."""
    match item:
        case StorageProblem():
            return storage(item)
        case SetAside():
            return (
                f"{storage(item.cause)} It was set aside as {item.moved_to}, untouched, and a "
                "new history was started; calls from before may be missing from History."
            )
        case EventsSkipped():
            return (
                f"{plural(item.count, 'stored event')} in {item.path} could not be read and "
                "were skipped; the calls they belong to may look incomplete."
            )
        case NoKeyring():
            why = (
                f"{item.backend} would store keys in a plain file"
                if item.why == "plaintext"
                else "no Secret Service or other keyring backend was found"
            )
            return (
                f"No OS keyring is available ({why}). API keys are kept for this session "
                "only and will be asked for again next time; they are never written to a file."
            )
        case KeyMissing():
            return f"No API key is stored for the profile {item.profile!r}; enter it in Settings."
        case KeyUnusable():
            return (
                f"The API key stored for the profile {item.profile!r} cannot be used: "
                + KEY_UNSENDABLE
            )
        case PortTaken():
            return (
                f"Port {item.port}, where this profile receives webhooks, is in use by another "
                f"program (a second console?). Listening on port {item.instead} for now: "
                "webhooks for calls placed before may not arrive here; their calls are checked "
                "with the API instead. The saved port is kept for the next start."
            )
        case PlainHttp():
            return (
                f"{item.url} uses plain http:// to another machine: the API key would travel "
                "unencrypted. Use https://."
            )
        case SettingsUnreadable():
            return (
                f"{item.path} could not be read ({item.detail}); it was kept as "
                f"{item.kept_as} and the console starts with default settings"
            )


# ------------------------------------------------------------------ the team


PRESENCE = {
    Presence.AVAILABLE: "Available",
    Presence.ON_CALL: "On a call",
    Presence.WRAP_UP: "Wrap-up",
    Presence.AWAY: "Away",
    Presence.OFFLINE: "Offline",
}

ROLE = {Role.OPERATOR: "operator", Role.SUPERVISOR: "supervisor"}

LINK = {
    Link.CONNECTING: "connecting…",
    Link.CONNECTED: "connected",
    Link.RECONNECTING: "reconnecting…",
    Link.REBUILDING: "rebuilding…",
    Link.REVOKED: "token revoked: enter a new one in Settings",
}

LINK_DETAIL = {
    Link.CONNECTING: "Connecting to the team's stream at the gateway.",
    Link.CONNECTED: "Events arrive from the team's stream as they happen.",
    Link.RECONNECTING: (
        "The connection to the gateway was lost; trying again. Nothing is missed: the "
        "stream resumes where it stopped."
    ),
    Link.REBUILDING: (
        "This desk was away longer than the stream keeps events: loading the gateway's "
        "current view of the live calls."
    ),
    Link.REVOKED: (
        "The gateway no longer accepts this desk's operator token (the operator was removed "
        "from the team). Ask your supervisor for a new token and enter it in Settings."
    ),
}


def presence(status: Presence, reason: str = "") -> str:
    """An operator's status: "On a call", "Away: lunch"."""
    words = PRESENCE[status]
    return f"{words}: {reason}" if status is Presence.AWAY and reason else words


def who(desk: Desk) -> str:
    """The desk's own operator, as the header names it: "alice · supervisor"."""
    return f"{desk.operator} · {ROLE[desk.role]}" if desk.known else "joining the team…"


def link(state: Link) -> str:
    """The header's words for the stream's link (shown while it is not live)."""
    return LINK[state]


def link_state(state: Link) -> str:
    """The status bar's short words: "stream reconnecting…", "stream revoked"."""
    return "revoked" if state is Link.REVOKED else LINK[state]


def clock_time(ts: float) -> str:
    """A time of day on this desk's clock: "14:03"."""
    return datetime.fromtimestamp(ts).strftime("%H:%M")


def duration(seconds: float) -> str:
    """A time in a status or a handle time: "0:42", "12:05", "1:02:05"."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def owner(call: Call) -> str:
    """Whose call it is on the supervisor board: "sue (from alice)" once taken over."""
    return f"{call.owner} (from {call.taken_from})" if call.taken_from else call.owner


def owner_detail(call: Call) -> str:
    if call.taken_from:
        return f"{call.owner} took this call over from {call.taken_from}"
    return f"Placed by {call.owner}" if call.owner else ""


def taken_over(call: Call) -> str:
    """Why an operator's own call can only be watched (tooltips, the actions panel)."""
    return f"Taken over by {call.owner}: you can only watch this call"


def answer_rate(figures: TeamFigures) -> str:
    return "—" if figures.answer_rate is None else f"{figures.answer_rate:.0%}"


def amd_split(figures: TeamFigures) -> str:
    return f"{figures.human:,} person · {figures.machine:,} machine · {figures.unknown:,} not sure"


def handle_time(figures: TeamFigures) -> str:
    return "—" if figures.avg_handle_seconds is None else duration(figures.avg_handle_seconds)


def per_operator(figures: TeamFigures, operators: int) -> str:
    """Calls per operator today: the average over the team and the busiest."""
    if not figures.per_operator:
        return "—"
    counts = dict(figures.per_operator)
    busiest = max(counts, key=lambda name: (counts[name], name))
    average = figures.placed / max(operators, len(counts), 1)
    return f"{average:.1f} avg · most {busiest} {counts[busiest]:,}"


def busiest(figures: TeamFigures, limit: int = 10) -> str:
    """The busiest operators today, one a line (the strip's tooltip)."""
    ranked = sorted(figures.per_operator, key=lambda item: (-item[1], item[0]))[:limit]
    lines = [f"{name}: {plural(count, 'call')}" for name, count in ranked]
    return "Calls placed today, busiest first:\n" + "\n".join(lines) if lines else ""
