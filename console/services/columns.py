"""One column spec for a call's history row: the journal's ``calls`` table, the
CSV export and the History window's table all read it.

Each column names its SQL column (also ``HistoryRow``'s field), how a live
``Call`` fills it, its CSV heading and value, its heading in the History
window (``None``: not shown) and whether History can sort by it. Adding a
column: one entry here, a migration in ``journal.MIGRATIONS``, a field in
``HistoryRow`` (a test keeps the three in step). CONTRIBUTING.md walks it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from console.core.calls import Call
from console.services.codec import storable


def _iso(value: Any) -> str:
    return datetime.fromtimestamp(value).astimezone().isoformat(timespec="seconds") if value else ""


def _seconds(value: Any) -> str:
    return "" if value is None else f"{value:.0f}"


def _confidence(value: Any) -> str:
    return "" if value is None else f"{value:.2f}"


def _text(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Column:
    key: str  # SQL column in ``calls`` and ``HistoryRow`` field
    of_call: Callable[[Call, str], Any]  # (call, profile) -> the stored value
    csv: str  # heading in the CSV export
    title: str | None = None  # heading in the History window; None: not shown there
    sort: str | None = None  # the History window's sort key; None: not sortable
    to_csv: Callable[[Any], Any] = _text


def _duration(call: Call) -> float | None:
    if call.ended_at is None or call.answered_at is None:
        return None
    return call.ended_at - call.answered_at


COLUMNS: tuple[Column, ...] = (
    Column("sid", lambda c, p: storable(c.sid), "call_sid"),
    Column("started_at", lambda c, p: c.created_at, "started", "Started", "started", _iso),
    Column("number", lambda c, p: storable(c.to), "number", "Number", "number"),
    Column("caller_id", lambda c, p: storable(c.from_), "caller_id", "Caller ID", "caller_id"),
    Column("profile", lambda c, p: storable(p), "profile", "Profile", "profile"),
    Column("answered_at", lambda c, p: c.answered_at, "answered", to_csv=_iso),
    Column("ended_at", lambda c, p: c.ended_at, "ended", to_csv=_iso),
    Column("duration", lambda c, p: _duration(c), "duration_s", "Duration", "duration", _seconds),
    Column("status", lambda c, p: c.status.value, "status", "Status", "status"),
    Column("amd", lambda c, p: storable(c.amd.answered_by) if c.amd else "", "amd", "AMD", "amd"),
    Column(
        "amd_confidence",
        lambda c, p: c.amd.confidence if c.amd else None,
        "amd_confidence",
        to_csv=_confidence,
    ),
    Column("digits", lambda c, p: storable(c.all_digits), "digits", "Digits", "digits"),
    Column("forwards", lambda c, p: storable(c.forwarded_to or ""), "forwarded_to", "Forwarded to"),
    Column("spoken", lambda c, p: storable(" | ".join(c.spoken)), "spoken", "Spoken"),
    Column("end_reason", lambda c, p: storable(c.end_reason or ""), "end_reason"),
    Column("placed_here", lambda c, p: int(c.placed_here), "placed_here"),
)

CALL_COLUMNS = tuple(c.key for c in COLUMNS)
CSV_HEADER = tuple(c.csv for c in COLUMNS)
SORT_COLUMNS = {c.sort: c.key for c in COLUMNS if c.sort is not None}
SHOWN = tuple(c for c in COLUMNS if c.title is not None)


def call_row(call: Call, profile: str) -> tuple[Any, ...]:
    """The history row of a call, in ``CALL_COLUMNS`` order."""
    return tuple(c.of_call(call, profile) for c in COLUMNS)


def csv_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A stored row as the CSV export writes it."""
    return tuple(c.to_csv(value) for c, value in zip(COLUMNS, row, strict=True))
