"""A table of calls: whole rows, one at a time; Tab leaves it instead of walking
its cells; rows hold still while the pointer is over it; the number column
gets the room first."""

from __future__ import annotations

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QHeaderView, QTableView, QWidget

from console.qt.models import NUMBER_COLUMN, CallBoardModel


class CallTable(QTableView):
    def __init__(self, model: CallBoardModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.calls = model
        self.setModel(model)
        self.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.setTabKeyNavigation(False)
        self.verticalHeader().setVisible(False)
        # The number is never cut: it takes its full width first; the last column
        # takes what is left, and a narrow window scrolls sideways.
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(NUMBER_COLUMN, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        header.setMinimumSectionSize(48)
        self.setAlternatingRowColors(True)
        self.setMouseTracking(True)

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
