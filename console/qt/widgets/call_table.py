"""A table of calls: whole rows, one at a time; Tab leaves it instead of walking
its cells; rows hold still while the pointer is over it; the number column
gets the room first.

Column widths are measured once, from the font and the widest value each
column can hold, never from the rows: ``ResizeToContents`` made Qt measure
every row at every repaint (74% of the GUI thread with 10,000 live calls)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QHeaderView, QTableView, QWidget

from console.qt.models import CallBoardModel

# The widest value each column can show, in COLUMNS order (numbers: 15 digits).
WIDEST = (
    "+999999999999999",
    "+999999999999999",
    "In progress · gathering",
    "999:59",
    "not sure (100%)",
    "9999, 9999",
    "+999999999999999",
)
# In a team an operator's status column may say who took the call over.
TEAM_WIDEST = (*WIDEST[:2], "In progress · taken over by mmmmmm", *WIDEST[3:])


class CallTable(QTableView):
    def __init__(self, model: CallBoardModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.calls = model
        self.widest = WIDEST
        self.setModel(model)
        self.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.setTabKeyNavigation(False)
        self.setWordWrap(False)  # one line a call: a value too long for its column elides
        self.verticalHeader().setVisible(False)
        # The number is never cut: its column fits the longest number Kaphila takes;
        # the last column takes what is left, and a narrow window scrolls sideways.
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setMinimumSectionSize(48)
        self.fit_columns()
        self.setAlternatingRowColors(True)
        self.setMouseTracking(True)

    def fit_columns(self) -> None:
        """Each column as wide as its widest possible value (or its heading)."""
        metrics = self.fontMetrics()
        heading = self.horizontalHeader().fontMetrics()
        for column, sample in enumerate(self.widest):
            title = str(self.calls.headerData(column, Qt.Orientation.Horizontal))
            width = max(metrics.horizontalAdvance(sample), heading.horizontalAdvance(title))
            self.setColumnWidth(column, width + 24)

    def fit_team(self) -> None:
        """A Team profile: room for "taken over by …" in the status column."""
        if self.widest is not TEAM_WIDEST:
            self.widest = TEAM_WIDEST
            self.fit_columns()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self.fit_columns()

    def selected_sid(self) -> str | None:
        rows = self.selectionModel().selectedRows()
        return self.calls.sid_at(rows[0].row()) if rows else None

    def select_sid(self, sid: str) -> bool:
        row = self.calls.row_of(sid)
        if row < 0:
            return False
        if not self.selectionModel().isRowSelected(row):
            self.selectRow(row)
        return True

    # Rows do not move under the pointer: finished calls wait until it leaves.
    def enterEvent(self, event: QEvent) -> None:  # type: ignore[override]
        self.calls.set_hold(True)
        super().enterEvent(event)

    def leaveEvent(self, event: QEvent) -> None:
        self.calls.set_hold(False)
        super().leaveEvent(event)
