"""The supervisor board's models: the team's operators and its live calls.

Thin adapters over the reducer's ``State``, as ``CallBoardModel`` is: rows are
inserted and removed, never reset, so a selection follows its operator or
call. A new state repaints only the rows whose object changed: the persistent
maps hand back the very same object for whatever an event did not touch, so
``is`` finds the few changed rows among 1,000 in about a tenth of a
millisecond, and each run of changed rows is one ``dataChanged``.

Rows never move once placed (operators by name, calls in the order they
reached the board): the filters (``OperatorFilter``, ``CallFilter``) hide
rows and sort nothing, so a busy board does not jitter under the
supervisor's eyes. The clock is not a change of state: the board's views
repaint the columns that tick (``TICKING_*``) without a model signal, so no
filter re-checks 1,500 rows a second for a time that grew.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterable

from immutables import Map
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)

from console.core.calls import Call, CallStatus
from console.core.reducer import State
from console.core.team import OperatorPresence, Presence, Role
from console.qt import wording
from console.qt.models import CallBoardModel, SidRole, StatusRole, elapsed, italic
from console.qt.palette import presence_colour, status_colour

Index = QModelIndex | QPersistentModelIndex
NameRole = Qt.ItemDataRole.UserRole + 11  # an operator row's name
PresenceRole = Qt.ItemDataRole.UserRole + 12  # an operator row's status (Presence value)
OwnerRole = Qt.ItemDataRole.UserRole + 13  # a call row's operator

OPERATOR_COLUMNS = ("Operator", "Status", "In status", "Current call", "Today")
# Who, doing what, for how long first: what a supervisor scans for on a narrow screen.
CALL_COLUMNS = ("Operator", "Status", "Time", "Number", "AMD", "Digits", "Forwarded to")
_STATUS, _TIME, _NUMBER = 1, 2, 3  # the palette colours status, the clock moves time
TICKING_CALL_COLUMN = _TIME
TICKING_OPERATOR_COLUMNS = (2, 3)  # time in status; the current call (it may arrive later)
_NO_OPERATORS: Map[str, OperatorPresence] = Map()
# Roles as plain ints, and the ones each model answers: a view asks every visible
# cell for a dozen roles at each repaint, and most answers are "none" (asked
# first, those cost no lookup: repainting 1,000-row tables stays a few ms).
_DISPLAY = Qt.ItemDataRole.DisplayRole.value
_FOREGROUND = Qt.ItemDataRole.ForegroundRole.value
_TOOLTIP = Qt.ItemDataRole.ToolTipRole.value
_FONT = Qt.ItemDataRole.FontRole.value
_ALIGNMENT = Qt.ItemDataRole.TextAlignmentRole.value
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_OPERATOR_ROLES = frozenset(
    {_DISPLAY, _FOREGROUND, _TOOLTIP, _FONT, _ALIGNMENT, NameRole, PresenceRole}
)
_CALL_ROLES = frozenset({_DISPLAY, _FOREGROUND, _TOOLTIP, _FONT, SidRole, StatusRole, OwnerRole})


def runs(rows: Iterable[int]) -> list[tuple[int, int]]:
    """Contiguous runs of row numbers, as (first, last): one signal per run."""
    result: list[tuple[int, int]] = []
    for row in sorted(rows):
        if result and row == result[-1][1] + 1:
            result[-1] = (result[-1][0], row)
        else:
            result.append((row, row))
    return result


class OperatorsModel(QAbstractTableModel):
    """One row per operator the desk knows (``State.team.operators``), by name."""

    def __init__(self, parent: object = None) -> None:
        super().__init__(parent)  # type: ignore[arg-type]
        self._state = State()
        self._names: list[str] = []
        self._index: dict[str, int] = {}
        self._shown: dict[str, OperatorPresence] = {}  # as last painted (to find changes)
        self._figures: object = None
        self._today: dict[str, int] = {}
        self.now = time.time

    # ------------------------------------------------------------ changes

    def set_state(self, state: State) -> None:
        self._state = state
        team = state.team
        operators = team.operators if team is not None else _NO_OPERATORS
        figures = team.figures if team is not None else None
        if len(operators) != len(self._names):  # operators come (and, after a rebuild, go)
            self._add_and_remove(operators)
        changed = [
            row
            for name, row in self._index.items()
            if operators.get(name) is not self._shown.get(name)
        ]
        for row in changed:
            name = self._names[row]
            self._shown[name] = operators[name]
        for first, last in runs(changed):
            self.dataChanged.emit(self.index(first, 0), self.index(last, 4))
        if figures is not self._figures:  # the gateway's count of calls today
            self._figures = figures
            self._today = dict(figures.per_operator) if figures is not None else {}
            self._repaint_columns(4, 4)

    def _add_and_remove(self, operators: Map[str, OperatorPresence]) -> None:
        left = [row for row, name in enumerate(self._names) if name not in operators]
        for first, last in reversed(runs(left)):
            self.beginRemoveRows(QModelIndex(), first, last)
            for name in self._names[first : last + 1]:
                self._shown.pop(name, None)
            del self._names[first : last + 1]
            self.endRemoveRows()
        known = set(self._names)
        new = sorted(name for name in operators if name not in known)
        if not new:
            self._reindex()
            return
        if not self._names or new[0] > self._names[-1]:  # the first load: one insert
            first = len(self._names)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            self._names.extend(new)
            self.endInsertRows()
        else:  # a newcomer now and then: each in its place, nothing else moves
            for name in new:
                row = bisect.bisect_left(self._names, name)
                self.beginInsertRows(QModelIndex(), row, row)
                self._names.insert(row, name)
                self.endInsertRows()
        self._reindex()

    def _reindex(self) -> None:
        self._index = {name: row for row, name in enumerate(self._names)}

    def _repaint_columns(self, first: int, last: int) -> None:
        if self._names:
            self.dataChanged.emit(self.index(0, first), self.index(len(self._names) - 1, last))

    # ------------------------------------------------------------ reading

    def key_at(self, row: int) -> str | None:
        return self._names[row] if 0 <= row < len(self._names) else None

    def row_of(self, name: str) -> int:
        return self._index.get(name, -1)

    def presence_at(self, row: int) -> OperatorPresence | None:
        name = self.key_at(row)
        team = self._state.team
        return team.operators.get(name) if team is not None and name is not None else None

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._names)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(OPERATOR_COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return OPERATOR_COLUMNS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return "Calls placed today (the gateway's count)" if section == 4 else None
        return None

    def data(self, index: Index, role: int = _DISPLAY) -> object:
        role = int(role)
        if role not in _OPERATOR_ROLES or not index.isValid():
            return None
        row = index.row()
        seen = self._shown.get(self._names[row]) if 0 <= row < len(self._names) else None
        if seen is None:
            return None
        column = index.column()
        if role == _DISPLAY:
            return self._text(seen, column)
        if role == _FOREGROUND:
            return presence_colour(seen.status) if column == 1 else None
        if role == _TOOLTIP and column in (0, 1):
            since = wording.clock_time(seen.since) if seen.since else ""
            return wording.presence(seen.status, seen.reason) + (f" since {since}" if since else "")
        if role == _FONT:
            return italic() if seen.status is Presence.OFFLINE and column == 1 else None
        if role == _ALIGNMENT:
            return _RIGHT if column in (2, 4) else None
        if role == NameRole:
            return seen.operator
        if role == PresenceRole:
            return seen.status.value
        return None

    def _text(self, seen: OperatorPresence, column: int) -> str:
        if column == 0:
            return seen.operator + (" (supervisor)" if seen.role is Role.SUPERVISOR else "")
        if column == 1:
            return wording.presence(seen.status, seen.reason)
        if column == 2:
            return wording.duration(self.now() - seen.since) if seen.since else ""
        if column == 3:
            call = self._state.calls.get(seen.call_sid) if seen.call_sid else None
            return (call.to or call.sid) if call is not None else seen.call_sid
        if self._figures is None:
            return ""
        return f"{self._today.get(seen.operator, 0):,}"


class TeamCallsModel(CallBoardModel):
    """The team's live board (every call a supervisor sees), with its operator.

    Rows come and go as on a desk's board (``CallBoardModel``: appended in the
    order calls arrive, held under the pointer); only the contents differ."""

    columns = CALL_COLUMNS

    def __init__(self, parent: object = None) -> None:
        super().__init__(parent)
        self._painted: dict[str, Call] = {}  # each row's call as last painted

    def key_at(self, row: int) -> str | None:
        return self.sid_at(row)

    def _repaint(self, previous: State) -> None:
        calls = self._state.calls
        if calls is previous.calls and len(self._painted) == len(self._index):
            return
        painted = self._painted
        if len(painted) > len(self._index) + 256:  # rows that left: forget them now and then
            self._painted = painted = {s: c for s, c in painted.items() if s in self._index}
        changed = []
        for sid, row in self._index.items():
            call = calls.get(sid)
            if call is not None and call is not painted.get(sid):
                painted[sid] = call
                changed.append(row)
        last_column = len(self.columns) - 1
        for first, last in runs(changed):
            self.dataChanged.emit(self.index(first, 0), self.index(last, last_column))

    def refresh(self) -> None:
        """The clock: only the time column moves."""
        if self._rows:
            self.dataChanged.emit(self.index(0, _TIME), self.index(len(self._rows) - 1, _TIME))

    def data(self, index: Index, role: int = _DISPLAY) -> object:
        role = int(role)
        if role not in _CALL_ROLES or not index.isValid():
            return None
        row = index.row()
        # Each row's call as last painted is the state's (repaint keeps it so).
        call = self._painted.get(self._rows[row]) if 0 <= row < len(self._rows) else None
        if call is None:
            call = self.call_at(row)
            if call is None:
                return None
        column = index.column()
        if role == _DISPLAY:
            return self._team_text(call, column)
        if role == _FOREGROUND:
            return status_colour(call.status) if column == _STATUS else None
        if role == _TOOLTIP:
            return (wording.owner_detail(call) or None) if column == 0 else None
        if role == _FONT:  # taken over: italic, and the tooltip says from whom
            return italic() if column == 0 and call.taken_from else None
        if role == SidRole:
            return call.sid
        if role == StatusRole:
            return call.status.value
        if role == OwnerRole:
            return call.owner
        return None

    def _team_text(self, call: Call, column: int) -> str:
        if column == 0:
            return wording.owner(call)
        if column == _STATUS:
            return wording.status(call)
        if column == _TIME:
            return elapsed(call, self.now())
        if column == _NUMBER:
            return call.to or call.sid
        if column == 4:
            return wording.amd(call.amd)
        if column == 5:
            return call.digits if call.gathering else call.all_digits
        return call.forwarded_to or ""


# ------------------------------------------------------------------ filters


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


class OperatorFilter(QSortFilterProxyModel):
    """Operators whose name holds the text, in the chosen status (None: any)."""

    def __init__(self, source: OperatorsModel, parent: object = None) -> None:
        super().__init__(parent)  # type: ignore[arg-type]
        self.operators = source
        self.text = ""
        self.status: Presence | None = None
        self.setSourceModel(source)
        self.setDynamicSortFilter(True)  # a status change re-filters that row, sorts nothing

    def set_filter(self, text: str, status: Presence | None) -> None:
        text = text.strip().lower()
        if (text, status) == (self.text, self.status):
            return
        self.beginFilterChange()
        self.text, self.status = text, status
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, row: int, parent: Index) -> bool:
        seen = self.operators.presence_at(row)
        if seen is None:
            return False
        if self.status is not None and seen.status is not self.status:
            return False
        return not self.text or self.text in seen.operator.lower()


class CallFilter(QSortFilterProxyModel):
    """Calls matching the text (an operator's name, or digits of the number), in
    one of the chosen statuses (empty: any), of one operator ("" for all)."""

    def __init__(self, source: TeamCallsModel, parent: object = None) -> None:
        super().__init__(parent)  # type: ignore[arg-type]
        self.calls = source
        self.text = ""
        self.statuses: frozenset[CallStatus] = frozenset()
        self.operator = ""
        self.setSourceModel(source)
        self.setDynamicSortFilter(True)

    def set_filter(self, text: str, statuses: Iterable[CallStatus], operator: str) -> None:
        wanted = (text.strip().lower(), frozenset(statuses), operator)
        if wanted == (self.text, self.statuses, self.operator):
            return
        self.beginFilterChange()
        self.text, self.statuses, self.operator = wanted
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, row: int, parent: Index) -> bool:
        call = self.calls.call_at(row)
        if call is None:
            return False
        if self.operator and self.operator not in (call.owner, call.taken_from):
            return False
        if self.statuses and call.status not in self.statuses:
            return False
        text = self.text
        if not text:
            return True
        if text in call.owner.lower() or text in call.taken_from.lower():
            return True
        digits = _digits(text)
        return bool(digits) and digits in call.to
