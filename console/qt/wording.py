"""The operator's words for what the window shows, in one place.

Core and services keep facts (a status, an AMD result with its confidence, a
request's state); this module turns them into text. Nothing ever parses
these sentences back.
"""

from __future__ import annotations

from console.core.calls import Amd, Call
from console.core.events import Failure
from console.core.reducer import Request, RequestState

AMD_WORDS = {"human": "person", "machine": "machine", "unknown": "not sure"}
ACTION_NAMES = {"dial": "Dial", "speak": "Speak", "gather": "Gather", "forward": "Forward",
                "hang up": "Hang up"}


def plural(count: int, one: str, many: str | None = None) -> str:
    """``plural(1, "call")`` -> "1 call"; ``plural(3, "call")`` -> "3 calls"."""
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def amd(result: Amd | None) -> str:
    """AMD as the operator reads it: "machine (97%)", "not sure (55%)"."""
    if result is None:
        return ""
    words = AMD_WORDS.get(result.answered_by, result.answered_by)
    return words if result.confidence is None else f"{words} ({result.confidence:.0%})"


def status(call: Call) -> str:
    return call.status.label + (" · gathering" if call.gathering else "")


def call_name(call: Call) -> str:
    """How the window names a call: its number, and whose it is."""
    return call.to + ("" if call.placed_here else " (not placed here)") if call.to else call.sid


def request(req: Request) -> str:
    what = ACTION_NAMES.get(req.kind, req.kind.capitalize())
    if req.state == RequestState.PENDING:
        return f"{what}: sending…"
    if req.state == RequestState.FAILED:
        return f"{what} failed: {failure(req)}"
    return f"{what}: done"


def failure(req: Request) -> str:
    """Why a request failed, in words; the API's own message only when it is all we have."""
    match req.reason:
        case Failure.ENDED:
            return "the call has already ended"
        case Failure.BUSY if req.kind == "gather":
            return "a gather is already running on this call"
        case Failure.BUSY if req.kind == "hang up":
            return "the call is already being hung up"
        case Failure.INTERRUPTED:
            return ("the console stopped before Kaphila answered; check the call board "
                    "before trying again")
        case _:
            return req.message


def acting_on(call: Call | None) -> str:
    if call is None:
        return "No call selected: select one on the board (Ctrl+B)"
    verdict = "" if call.live else " · ended, nothing more can be done"
    return (f"Acting on <b>{call_name(call)}</b> · {status(call)}"
            + (f" · AMD {amd(call.amd)}" if call.amd else "") + verdict)


def characters_left(text: str, limit: int) -> str:
    return f"{len(text):,} / {limit:,}"
