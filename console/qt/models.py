"""Qt item models: thin adapters over the reducer's state. They hold the last
state they were given and re-read it when told; they never keep their own
copy of a call."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from console.core.calls import Call
from console.core.reducer import State, board_order
from console.qt.palette import status_colour

SidRole = Qt.ItemDataRole.UserRole + 1
StatusRole = Qt.ItemDataRole.UserRole + 2
PlacedHereRole = Qt.ItemDataRole.UserRole + 3

COLUMNS = ("Number", "Caller ID", "Status", "Time", "AMD", "Digits", "Forwarded to")

Index = QModelIndex | QPersistentModelIndex


def elapsed(call: Call, now: float) -> str:
    """The running timer: talk time once answered, else time since dialing."""
    start = call.answered_at or call.created_at
    if start is None:
        return ""
    end = call.ended_at if call.ended_at is not None else now
    seconds = max(0, int(end - start))
    return f"{seconds // 60}:{seconds % 60:02d}"


def board_rows(state: State) -> tuple[str, ...]:
    """The live board: calls in progress, and finished ones for a few seconds."""
    return tuple(board_order(state))


def session_rows(state: State) -> tuple[str, ...]:
    """The session list: every call the state holds, newest first (a persistent map
    has no order of its own)."""
    calls = state.calls
    return tuple(sorted(calls, key=lambda sid: (calls[sid].created_at or 0.0, sid),
                        reverse=True))


class CallBoardModel(QAbstractTableModel):
    """One row per call; which calls is ``rows(state)`` (the board by default)."""

    def __init__(self, parent: object = None,
                 rows: Callable[[State], tuple[str, ...]] = board_rows) -> None:
        super().__init__(parent)  # type: ignore[arg-type]
        self._state = State()
        self._rows: tuple[str, ...] = ()
        self._select_rows = rows
        self.now = time.time

    def set_state(self, state: State) -> None:
        rows = self._select_rows(state)
        if rows != self._rows:
            self.beginResetModel()
            self._state, self._rows = state, rows
            self.endResetModel()
            return
        self._state = state
        self.refresh()

    def refresh(self) -> None:
        """Repaint every row (the timers move even when nothing happened)."""
        if self._rows:
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(len(self._rows) - 1, len(COLUMNS) - 1))

    def sid_at(self, row: int) -> str | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, sid: str) -> int:
        return self._rows.index(sid) if sid in self._rows else -1

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        call = self._state.calls[self._rows[index.row()]]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(call, column)
        if role == Qt.ItemDataRole.ForegroundRole and column == 2:
            return status_colour(call.status)  # the active palette's, read at each repaint
        if role == Qt.ItemDataRole.ToolTipRole and column == 0 and not call.placed_here:
            return "Not placed from this console: its webhooks arrived at the listener"
        if role == SidRole:
            return call.sid
        if role == StatusRole:
            return call.status.value
        if role == PlacedHereRole:
            return call.placed_here
        return None

    def _text(self, call: Call, column: int) -> str:
        if column == 0:
            return call.to + ("" if call.placed_here else "  (not placed here)")
        if column == 1:
            return call.from_
        if column == 2:
            return call.status.label + (" · gathering" if call.gathering else "")
        if column == 3:
            return elapsed(call, self.now())
        if column == 4:
            return call.amd.label if call.amd else ""
        if column == 5:
            return call.digits
        return call.forwarded_to or ""
