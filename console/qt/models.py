"""Qt item models: thin adapters over the reducer's state.

Rows change in place: a new call is appended, a call that left is removed
with ``beginRemoveRows`` (never a model reset), so Qt's selection follows the
call and not the row. While ``hold`` is set (the pointer is over the table)
calls that left stay as they last were, so nothing moves under the pointer;
they go when it leaves.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont

from console.core.calls import Call
from console.core.reducer import State
from console.core.team import read_only
from console.qt import wording
from console.qt.palette import status_colour

SidRole = Qt.ItemDataRole.UserRole + 1
StatusRole = Qt.ItemDataRole.UserRole + 2
PlacedHereRole = Qt.ItemDataRole.UserRole + 3

COLUMNS = ("Number", "Caller ID", "Status", "Time", "AMD", "Digits", "Forwarded to")


@functools.cache
def italic() -> QFont:
    font = QFont()  # made on first use: a QFont wants the application to exist
    font.setItalic(True)
    return font


Index = QModelIndex | QPersistentModelIndex


def elapsed(call: Call, now: float) -> str:
    """The running timer: talk time once answered, else time since dialing."""
    start = call.answered_at or call.created_at
    if start is None:
        return ""
    end = call.ended_at if call.ended_at is not None else now
    seconds = max(0, int(end - start))
    return f"{seconds // 60}:{seconds % 60:02d}"


def board_rows(state: State) -> Mapping[str, object]:
    """The live board: calls in progress, and finished ones for a few seconds."""
    return state.board


def board_order(state: State) -> Callable[[str], tuple[float, str]]:
    return lambda sid: (float(state.board.get(sid, 0)), sid)


def session_rows(state: State) -> Mapping[str, object]:
    """The session list: every call the console holds (live and recent)."""
    return state.calls


def session_order(state: State) -> Callable[[str], tuple[float, str]]:
    calls = state.calls
    return lambda sid: (calls[sid].created_at or 0.0, sid)


class CallBoardModel(QAbstractTableModel):
    """One row per call; which calls is ``rows(state)``, new ones in ``order``."""

    columns: tuple[str, ...] = COLUMNS

    def __init__(
        self,
        parent: object = None,
        rows: Callable[[State], Mapping[str, object]] = board_rows,
        order: Callable[[State], Callable[[str], tuple[float, str]]] = board_order,
    ) -> None:
        super().__init__(parent)  # type: ignore[arg-type]
        self._state = State()
        self._rows: list[str] = []
        self._index: dict[str, int] = {}
        self._gone: dict[str, Call] = {}  # left the state, still shown while held
        self._select_rows = rows
        self._order = order
        self._hold = False
        self.now = time.time

    # ------------------------------------------------------------ changes

    def set_state(self, state: State) -> None:
        if state.shape == self._state.shape and not self._gone:
            previous, self._state = self._state, state
            self._repaint(previous)  # no call joined or left: only the rows' contents changed
            return
        wanted_set = self._select_rows(state)  # a persistent map: O(1) membership
        new = [sid for sid in wanted_set if sid not in self._index]
        left = [sid for sid in self._rows if sid not in wanted_set and sid not in self._gone]
        previous, self._state = self._state, state
        for sid in left:  # keep what the operator sees until the rows may move
            call = state.calls.get(sid) or previous.calls.get(sid)
            if call is not None:
                self._gone[sid] = call
        for sid in list(self._gone):
            if sid in wanted_set:  # came back (e.g. a late event): it is live data again
                del self._gone[sid]
        if not self._hold:
            self._drop_gone()
        if new:
            new.sort(key=self._order(state))
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            for sid in new:
                self._index[sid] = len(self._rows)
                self._rows.append(sid)
            self.endInsertRows()
        self._repaint(previous)

    def set_hold(self, hold: bool) -> None:
        """Hold rows in place (the pointer is over the view) or let them go."""
        self._hold = hold
        if not hold:
            self._drop_gone()

    def _drop_gone(self) -> None:
        if not self._gone:
            return
        rows = sorted((self._index[sid] for sid in self._gone if sid in self._index), reverse=True)
        self._gone.clear()
        start = 0
        while start < len(rows):  # contiguous runs, bottom first, so indexes stay valid
            end = start
            while end + 1 < len(rows) and rows[end + 1] == rows[end] - 1:
                end += 1
            last, first = rows[start], rows[end]
            self.beginRemoveRows(QModelIndex(), first, last)
            del self._rows[first : last + 1]
            self.endRemoveRows()
            start = end + 1
        self._index = {sid: i for i, sid in enumerate(self._rows)}

    def _repaint(self, previous: State) -> None:
        """Repaint what may have changed since ``previous``: here every row (a
        desk's board; one signal, and the view repaints only what it shows)."""
        self.refresh()

    def refresh(self) -> None:
        """Repaint every row (the timers move even when nothing happened)."""
        if self._rows:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._rows) - 1, len(self.columns) - 1)
            )

    # ------------------------------------------------------------ reading

    def sid_at(self, row: int) -> str | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, sid: str) -> int:
        return self._index.get(sid, -1)

    def call_at(self, row: int) -> Call | None:
        sid = self.sid_at(row)
        if sid is None:
            return None
        return self._state.calls.get(sid) or self._gone.get(sid)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        call = self.call_at(index.row())
        if call is None:
            return None
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(call, column)
        if role == Qt.ItemDataRole.ForegroundRole and column == 2:
            return status_colour(call.status)  # the active palette's, read at each repaint
        if role == Qt.ItemDataRole.ToolTipRole and read_only(self._state.team, call):
            return wording.taken_over(call)  # a team: a supervisor has it now
        if role == Qt.ItemDataRole.FontRole and read_only(self._state.team, call):
            return italic()  # taken over: italic on every column, the tooltip says why
        if role == Qt.ItemDataRole.ToolTipRole and column == 0 and not call.placed_here:
            return "Not placed from this console: its webhooks arrived at the listener"
        if role == Qt.ItemDataRole.FontRole and column == 0 and not call.placed_here:
            return italic()  # not placed here: italic, and the tooltip says why
        if role == SidRole:
            return call.sid
        if role == StatusRole:
            return call.status.value
        if role == PlacedHereRole:
            return call.placed_here
        return None

    def _text(self, call: Call, column: int) -> str:
        if column == 0:
            return call.to or call.sid
        if column == 1:
            return call.from_
        if column == 2:
            if read_only(self._state.team, call):  # a team: seen, not handled, here
                return f"{wording.status(call)} · taken over by {call.owner}"
            return wording.status(call)
        if column == 3:
            return elapsed(call, self.now())
        if column == 4:
            return wording.amd(call.amd)
        if column == 5:
            return call.digits if call.gathering else call.all_digits
        return call.forwarded_to or ""
