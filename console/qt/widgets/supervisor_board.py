"""The supervisor board (a supervisor's desk in a Team profile): the team strip,
every operator with their status, current call and time in status, and every
live call of the team with its operator, with filters.

The filters: text (an operator's name or digits of a number, both tables), an
operator status, a call status, and selecting an operator shows only their
calls (Escape or "All calls" shows every call again). Actions on the selected
call are the window's actions panel (speak, gather, forward, hang up, take
over), so the keys are the same on every desk.

The board holds 500 operators and 1,000 live calls smoothly: its models repaint
only rows that changed, once per frame (the window coalesces states), and the
clock repaints only the columns that tick."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from console.core.calls import CallStatus
from console.core.reducer import State
from console.core.team import Presence
from console.qt import wording
from console.qt.team_models import (
    TICKING_CALL_COLUMN,
    TICKING_OPERATOR_COLUMNS,
    CallFilter,
    OperatorFilter,
    OperatorsModel,
    TeamCallsModel,
)
from console.qt.widgets.team_strip import TeamStrip
from console.qt.widgets.team_table import TeamTable

OPERATOR_WIDEST = ("mmmmmmmmm", "Away: mmmmm", "9:59:59", "+999999999999999", "999")
CALL_WIDEST = (
    "mmmmmmmmmmmm",  # longer names (and "from …" after a take-over) elide; hover tells
    "In progress · gathering",
    "99:59",
    "+999999999999999",
    "not sure (100%)",
    "9999, 9999",
    "+999999999999999",
)
NAME_SHOWN = 12  # characters of an operator's name over their calls
CALL_STATUSES: tuple[tuple[str, tuple[CallStatus, ...]], ...] = (
    ("Any call status", ()),
    ("Dialing", (CallStatus.QUEUED, CallStatus.INITIATED)),
    ("Ringing", (CallStatus.RINGING,)),
    ("In progress", (CallStatus.IN_PROGRESS,)),
    ("Ended", tuple(s for s in CallStatus if s.terminal)),
)


class SupervisorBoard(QWidget):
    def __init__(
        self, on_call_selected: Callable[[str | None], None], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("supervisorBoard")
        self._on_call_selected = on_call_selected
        self.operators = OperatorsModel(self)
        self.calls = TeamCallsModel(self)
        self.operator_filter = OperatorFilter(self.operators, self)
        self.call_filter = CallFilter(self.calls, self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        self.strip = TeamStrip(self)
        layout.addWidget(self.strip)
        filters = QHBoxLayout()
        self.filter_text = QLineEdit()
        self.filter_text.setObjectName("boardFilter")
        self.filter_text.setPlaceholderText("Filter: operator or number (Ctrl+L)")
        self.filter_text.setClearButtonEnabled(True)
        self.filter_text.textChanged.connect(self._on_filter_changed)
        self.operator_status = QComboBox()
        self.operator_status.setObjectName("operatorStatusFilter")
        self.operator_status.addItem("Any operator status", None)
        for presence in Presence:
            self.operator_status.addItem(wording.PRESENCE[presence], presence)
        self.operator_status.currentIndexChanged.connect(self._on_filter_changed)
        self.call_status = QComboBox()
        self.call_status.setObjectName("callStatusFilter")
        for label, statuses in CALL_STATUSES:
            self.call_status.addItem(label, statuses)
        self.call_status.currentIndexChanged.connect(self._on_filter_changed)
        filters.addWidget(self.filter_text, 1)
        filters.addWidget(self.operator_status)
        filters.addWidget(self.call_status)
        layout.addLayout(filters)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.setChildrenCollapsible(False)
        left = QWidget(split)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        self.operators_label = QLabel()
        self.operators_label.setObjectName("boardCount")
        left_layout.addWidget(self.operators_label)
        self.operator_table = TeamTable(self.operator_filter, OPERATOR_WIDEST, left)
        self.operator_table.setObjectName("operators")
        self.operator_table.setMinimumWidth(220)
        left_layout.addWidget(self.operator_table, 1)
        right = QWidget(split)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        calls_heading = QHBoxLayout()
        self.calls_label = QLabel()
        self.calls_label.setObjectName("boardCount")
        self.all_calls = QPushButton("All calls (Esc)")
        self.all_calls.setObjectName("allCalls")
        self.all_calls.setToolTip("Show every operator's calls again")
        self.all_calls.clicked.connect(self.show_all_calls)
        self.all_calls.setVisible(False)
        calls_heading.addWidget(self.calls_label, 1)
        calls_heading.addWidget(self.all_calls)
        right_layout.addLayout(calls_heading)
        self.call_table = TeamTable(self.call_filter, CALL_WIDEST, right)
        self.call_table.setObjectName("teamCalls")
        self.call_table.setMinimumWidth(300)
        right_layout.addWidget(self.call_table, 1)
        split.setStretchFactor(0, 9)  # operators' five columns, the calls' seven
        split.setStretchFactor(1, 11)
        split.setSizes([450, 550])
        layout.addWidget(split, 1)
        self.operator_table.selectionModel().selectionChanged.connect(self._on_operator_selected)
        self.call_table.selectionModel().selectionChanged.connect(
            lambda *_: self._on_call_selected(self.call_table.selected_key())
        )
        QShortcut(QKeySequence("Ctrl+L"), self, activated=self.focus_filter)
        QShortcut(
            QKeySequence(Qt.Key.Key_Escape),
            self,
            activated=self.show_all_calls,
            context=Qt.ShortcutContext.WidgetWithChildrenShortcut,
        )
        self.tab_chain: tuple[QWidget, ...] = (
            self.filter_text,
            self.operator_status,
            self.call_status,
            self.operator_table,
            self.call_table,
        )
        for first, second in zip(self.tab_chain, self.tab_chain[1:], strict=False):
            QWidget.setTabOrder(first, second)
        self._counted: tuple[int, int, int, int] | None = None
        # Counts change with every call that comes or goes. A label of fixed size
        # changes no layout: otherwise each new count re-laid out the window's tabs,
        # and a tab widget repaints all of itself then (~20 ms with 1,000 calls).
        for label, widest in (
            (self.operators_label, "Operators (9,999 of 9,999)"),
            (self.calls_label, f"{'n' * NAME_SHOWN}…'s calls (9,999 of 9,999)"),
        ):
            label.setFixedSize(
                label.fontMetrics().horizontalAdvance(widest) + 8, label.sizeHint().height()
            )

    # ------------------------------------------------------------ supervisor

    def _on_filter_changed(self, *_: object) -> None:
        text = self.filter_text.text()
        self.operator_filter.set_filter(text, self.operator_status.currentData())
        self._filter_calls()

    def _filter_calls(self) -> None:
        self.call_filter.set_filter(
            self.filter_text.text(), self.call_status.currentData() or (), self.operator
        )
        self.all_calls.setVisible(bool(self.operator))
        self._show_counts()

    @property
    def operator(self) -> str:
        """The operator whose calls alone are shown ("" for all)."""
        return self.operator_table.selected_key() or ""

    def _on_operator_selected(self, *_: object) -> None:
        self._filter_calls()

    def show_all_calls(self) -> None:
        self.operator_table.clearSelection()
        self._filter_calls()

    def focus_filter(self) -> None:
        self.filter_text.setFocus()
        self.filter_text.selectAll()

    def focus_calls(self) -> None:
        """Ctrl+B: the team's calls, the first one selected if none is."""
        self.call_table.setFocus()
        self.call_table.select_first()

    def select_call(self, sid: str) -> bool:
        return self.call_table.select_key(sid)

    # ------------------------------------------------------------ state

    def set_state(self, state: State) -> None:
        self.operators.set_state(state)
        self.calls.set_state(state)
        self.strip.show_team(state.team)
        self._show_counts()

    def tick(self) -> None:
        """Once a second: times in status and call timers move (and an operator's
        current call may have reached the board): those columns are repainted."""
        self.operator_table.repaint_columns(*TICKING_OPERATOR_COLUMNS)
        self.call_table.repaint_columns(TICKING_CALL_COLUMN)

    def _show_counts(self) -> None:
        counts = (
            self.operator_filter.rowCount(),
            self.operators.rowCount(),
            self.call_filter.rowCount(),
            self.calls.rowCount(),
        )
        if counts == self._counted and not self.operator:
            return
        self._counted = counts
        shown_ops, all_ops, shown_calls, all_calls = counts
        self.operators_label.setText(f"Operators ({_count(shown_ops, all_ops)})")
        name = self.operator
        name = name if len(name) <= NAME_SHOWN else name[: NAME_SHOWN - 1] + "…"
        # Not "live calls": ended ones stay on the board a few seconds, as on a
        # single desk's live board, and the strip's "Live calls" is the gateway's.
        whose = f"{name}'s calls" if name else "Team's calls"
        self.calls_label.setText(f"{whose} ({_count(shown_calls, all_calls)})")


def _count(shown: int, total: int) -> str:
    return f"{shown:,} of {total:,}" if shown != total else f"{total:,}"
