"""The operator's window: it composes the widgets in ``console.qt.widgets`` and
wires them; it keeps no domain state.

Views re-read the reducer's ``State`` when the session says it changed, at
most every 16 ms (bursts of webhooks do not repaint per event). Operator
actions become events dispatched to the session. Selection follows a call,
not a row; a call this window dialled is selected when Kaphila accepts it.

In a Team profile (``State.team``) the header shows the desk's operator, the
stream's link and the desk's own status; a supervisor's desk opens on the
supervisor board (its own tab, first), whose selected call the actions panel
acts on, as it does for the live board's. Ctrl+B focuses the board in front.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QGroupBox,
    QLabel,
    QMainWindow,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from console.config import Profile
from console.core.calls import Call
from console.core.events import ActionRequested, DialRequested, Event
from console.core.notices import Notice, StorageProblem
from console.core.reducer import DIAL, RequestState, State
from console.qt import screen, wording
from console.qt.models import CallBoardModel, session_order, session_rows
from console.qt.widgets.call_actions import CallActions
from console.qt.widgets.call_table import CallTable
from console.qt.widgets.callee_pad import CalleePad
from console.qt.widgets.dialer import Dialer
from console.qt.widgets.event_log import LOG_ROWS, EventLog
from console.qt.widgets.header import Header
from console.qt.widgets.supervisor_board import SupervisorBoard
from console.qt.widgets.timeline import Timeline, recolour
from console.services.webhooks import masked_url

REPAINT_MS = 16
__all__ = ["LOG_ROWS", "MainWindow", "WindowServices"]


@dataclass
class WindowServices:
    """What the window may ask of the rest of the console."""

    dispatch: Callable[[Event], object]
    callee_press: Callable[[str, str], None] | None = None  # sandbox only
    callee_hangup: Callable[[str], None] | None = None  # sandbox only
    on_close: Callable[[], None] | None = None
    open_settings: Callable[[], None] | None = None
    open_history: Callable[[], None] | None = None


class MainWindow(QMainWindow):
    def __init__(self, profile: Profile, services: WindowServices, listener_url: str) -> None:
        super().__init__()
        self.profile = profile
        self.services = services
        self.listener_url = listener_url
        self.state = State()
        self.selected: str | None = None
        self._my_dials: set[str] = set()  # dial requests from this window, not yet placed
        self._pending_state: State | None = None
        self._repaint = QTimer(self, singleShot=True)
        self._repaint.timeout.connect(self._on_repaint_timeout)
        self._last_repaint = 0.0
        self.setWindowTitle(f"Kaphila Console — {profile.name}")
        self.setMinimumSize(800, 560)
        screen.fit(self, 1280, 800)
        self.board = CallBoardModel(self)
        self.session_model = CallBoardModel(self, rows=session_rows, order=session_order)
        self._build()
        self._apply_profile()
        # The first thing an operator does. The window is the timer's context, so a
        # window closed before the timer fires takes the call with it (no crash).
        QTimer.singleShot(0, self, self._focus_number)

    # ------------------------------------------------------------------ layout

    def _build(self) -> None:
        root = QWidget(self)
        outer = QVBoxLayout(root)
        outer.setContentsMargins(10, 8, 10, 6)
        self.header = Header(
            self, self.services.open_history, self.services.open_settings, self.services.dispatch
        )
        outer.addWidget(self.header)
        split = QSplitter(Qt.Orientation.Horizontal, root)
        # The controls scroll on a small screen instead of pushing the window off it.
        left_scroll = QScrollArea(split)
        left_scroll.setWidgetResizable(True)
        left_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        left_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 4, 0)
        self.dialer = Dialer(self._on_dial)
        self.actions = CallActions(self._on_action, self)
        self.callee = CalleePad(self._on_keypad, self._on_callee_hangup)
        left_layout.addWidget(self.dialer)
        left_layout.addWidget(self.actions)
        left_layout.addWidget(self.callee)
        left_layout.addStretch(1)
        left_scroll.setWidget(left)
        left_scroll.setMinimumWidth(300)
        middle = self.middle = QSplitter(Qt.Orientation.Vertical, split)
        board_box = QWidget(middle)
        board_layout = QVBoxLayout(board_box)
        board_layout.setContentsMargins(0, 0, 0, 0)
        self.empty_hint = QLabel(board_box)
        self.empty_hint.setObjectName("emptyHint")
        self.empty_hint.setWordWrap(True)
        board_layout.addWidget(self.empty_hint)
        self.tabs = QTabWidget(board_box)
        self.table = CallTable(self.board)
        self.table.setObjectName("board")
        self.session_table = CallTable(self.session_model)
        self.session_table.setObjectName("session")
        for table in (self.table, self.session_table):
            table.selectionModel().selectionChanged.connect(
                lambda *_, t=table: self._on_table_selection(t)
            )
        # A supervisor's desk only: made once the stream says who this desk is (every
        # widget costs each theme change and each window a little).
        self.team_board: SupervisorBoard | None = None
        self.tabs.addTab(self.table, "&Live board")
        self.tabs.addTab(self.session_table, "S&ession (recent calls)")
        board_layout.addWidget(self.tabs, 1)
        lower = QSplitter(Qt.Orientation.Horizontal, middle)
        timeline_box = QGroupBox("Timeline of the selected call", lower)
        self.timeline = Timeline(timeline_box)
        QVBoxLayout(timeline_box).addWidget(self.timeline)
        log_box = QGroupBox("Event log", lower)
        self.log = EventLog(log_box)
        QVBoxLayout(log_box).addWidget(self.log)
        middle.setStretchFactor(0, 3)
        middle.setStretchFactor(1, 2)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([360, 920])
        outer.addWidget(split, 1)
        self.setCentralWidget(root)
        self.listener_status = QLabel()
        self.api_status = QLabel("API: not used yet")
        self.credits_status = QLabel("Credits: —")
        for label in (self.listener_status, self.api_status, self.credits_status):
            self.statusBar().addPermanentWidget(label)
        self._expose_widgets()
        self._set_tab_order()
        QShortcut(QKeySequence("Ctrl+D"), self, activated=self.number.setFocus)
        QShortcut(QKeySequence("Ctrl+B"), self, activated=self.focus_board)

    def _expose_widgets(self) -> None:
        """The names tests, screenshots and benchmarks reach the controls by."""
        d, a = self.dialer, self.actions
        self.number, self.number_hint, self.caller_id = d.number, d.number_hint, d.caller_id
        self.amd, self.voice, self.ring_timeout = d.amd, d.voice, d.ring_timeout
        self.dial_button, self.dial_status = d.dial_button, d.status
        self.selected_label, self.action_status = a.selected_label, a.status
        self.speak_text, self.speak_button = a.speak_text, a.speak_button
        self.gather_prompt, self.gather_digits = a.gather_prompt, a.gather_digits
        self.gather_timeout, self.gather_button = a.gather_timeout, a.gather_button
        self.forward_number, self.forward_button = a.forward_number, a.forward_button
        self.hangup_button = a.hangup_button
        self.keypad, self.callee_hangup_button = self.callee.keypad, self.callee.hangup_button
        self.insecure_warning = self.header.warning
        self.dial, self.speak, self.gather = d.dial, a.speak, a.gather
        self.forward, self.hang_up = a.forward, a.hang_up

    def _set_tab_order(self) -> None:
        """Tab follows the form: dial fields, the selected call's actions, the board."""
        board = self.team_board.tab_chain if self.team_board is not None else ()
        chain = [*self.dialer.fields, *self.actions.tab_chain, self.tabs, *board, self.table]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    def _apply_profile(self) -> None:
        profile = self.profile
        self.header.set_profile(profile)
        self.callee.setVisible(profile.sandbox and self.services.callee_press is not None)
        self.dialer.apply_profile(profile)
        self.actions.region = profile.default_region
        self.actions.voice = profile.voice
        self.listener_status.setText(f"Listener: {masked_url(self.listener_url)}")
        self.listener_status.setToolTip("The full URL (with its secret token) is kept private")
        self.empty_hint.setText(
            "No calls yet. Type a number and press Enter."
            + (
                " In the sandbox the last four digits choose what happens: 0001 answering "
                "machine, 0002 AMD not sure, 0003 busy, 0004 no answer, 0005 unreachable, "
                "0006 callee hangs up, 0007 answers gathers, any other a person answers."
                if profile.sandbox
                else ""
            )
        )

    def _focus_number(self) -> None:
        self.number.setFocus()

    def show_warnings(self, notices: list[Notice]) -> None:
        self.header.show_warnings(notices)

    def show_history_problem(self, problem: StorageProblem | None) -> None:
        self.header.show_history_problem(problem)

    def focus_board(self) -> None:
        """Ctrl+B: the board in front (a supervisor's team board, else the live board)."""
        table = self.tabs.currentWidget()
        if isinstance(table, SupervisorBoard):
            table.focus_calls()
            return
        table.setFocus()
        if (
            isinstance(table, CallTable)
            and table.selected_sid() is None
            and table.calls.rowCount() > 0
        ):
            table.selectRow(0)

    # ------------------------------------------------------------------ operator

    def _on_dial(self, event: DialRequested) -> None:
        self._my_dials.add(event.request_id)
        self.actions.voice = event.voice or self.profile.voice
        self.services.dispatch(event)
        self.profile = self.dialer.profile

    def _on_action(self, event: ActionRequested) -> None:
        self.services.dispatch(event)

    def _on_keypad(self, key: str) -> None:
        if self.selected and self.services.callee_press:
            self.services.callee_press(self.selected, key)

    def _on_callee_hangup(self) -> None:
        if self.selected and self.services.callee_hangup:
            self.services.callee_hangup(self.selected)

    def _on_board_selection(self, sid: str | None) -> None:
        if sid is not None:
            self.selected = sid
        elif isinstance(self.tabs.currentWidget(), SupervisorBoard):
            self.selected = None
        self._show_selected()

    def _on_table_selection(self, table: CallTable) -> None:
        sid = table.selected_sid()
        if sid is not None:
            self.selected = sid
        elif table is self.tabs.currentWidget():
            self.selected = None
        self._show_selected()

    def select(self, sid: str) -> None:
        """Select a call (and keep it selected wherever its row goes)."""
        self.selected = sid
        self.table.select_sid(sid)
        if self.team_board is not None:
            self.team_board.select_call(sid)
        self._show_selected()

    @property
    def supervising(self) -> bool:
        """Is this a supervisor's desk (so the team board is shown)?"""
        return self.state.team is not None and self.state.team.supervisor

    # ------------------------------------------------------------------ state

    def on_state(self, state: State) -> None:
        """Called by the session for every event. Repaints at most every 16 ms: at
        once when the last repaint is older than that (a lone webhook shows without
        waiting), else at the end of the current frame (a burst repaints once)."""
        self._pending_state = state
        if not self._repaint.isActive():
            since = (time.monotonic() - self._last_repaint) * 1000
            self._repaint.start(max(0, int(REPAINT_MS - since)))

    def _on_repaint_timeout(self) -> None:
        state, self._pending_state = self._pending_state, None
        if state is not None:
            self._last_repaint = time.monotonic()
            self.apply_state(state)

    def apply_state(self, state: State) -> None:
        previous = self.state
        self.state = state
        self.board.set_state(state)
        self.session_model.set_state(state)
        self.empty_hint.setVisible(len(state.calls) == 0)
        if state.team is not previous.team:
            self.header.show_team(state.team)
            if previous.team is None and state.team is not None:
                self.table.fit_team()
                self.session_table.fit_team()
        if self.supervising:
            self._show_team_board(state)
        self._select_my_new_call(state)
        if self.selected is not None:
            self.table.select_sid(self.selected)
            if self.team_board is not None:
                self.team_board.select_call(self.selected)
        self._show_selected()
        self._show_dial_outcome(state)
        if state.log is not previous.log:
            self.log.show_state(state)
        self._show_status(state)

    def _show_team_board(self, state: State) -> None:
        board = self.team_board
        if board is None:  # the stream just said this desk supervises
            board = self.team_board = SupervisorBoard(self._on_board_selection, self.tabs)
            self.tabs.insertTab(0, board, "&Team board")
            self.tabs.setCurrentWidget(board)
            self._set_tab_order()
            height = sum(self.middle.sizes())  # the board gets the room; the timeline less
            self.middle.setSizes([height * 7 // 10, height - height * 7 // 10])
        board.set_state(state)

    def _select_my_new_call(self, state: State) -> None:
        for request_id in list(self._my_dials):
            request = state.requests.get(request_id)
            if request is None or request.state != RequestState.PENDING:
                self._my_dials.discard(request_id)
            if request is not None and request.call_sid is not None:
                self.selected = request.call_sid  # the call just dialled is the one to act on

    def _selected_call(self) -> Call | None:
        if self.selected is None:
            return None
        call = self.state.calls.get(self.selected) or self.table.calls.call_at(
            self.table.calls.row_of(self.selected)
        )
        if call is None and self.team_board is not None:  # held on the board after it left
            calls = self.team_board.calls
            call = calls.call_at(calls.row_of(self.selected))
        return call

    def _show_selected(self) -> None:
        call = self._selected_call()
        self.actions.show_call(call, self.state)
        self.callee.set_enabled_for_call(call is not None and call.live)
        self.timeline.show_call(call)

    def _show_dial_outcome(self, state: State) -> None:
        dials = [r for r in state.requests.values() if r.kind == DIAL]
        if dials:
            self.dial_status.setText(wording.request(max(dials, key=lambda r: r.at)))

    def _show_status(self, state: State) -> None:
        if state.last_webhook_at is None:
            health = "no webhook yet"
        else:
            age = max(0, int(time.time() - state.last_webhook_at))
            health = f"last webhook {wording.plural(age, 'second')} ago"
        if state.team is not None:  # no listener: the events come from the team's stream
            self.listener_status.setText(
                f"Gateway: {self.profile.base_url} · stream {wording.link_state(state.team.link)}"
                f" · {health}"
            )
            self.listener_status.setToolTip(wording.LINK_DETAIL[state.team.link])
        else:
            self.listener_status.setText(f"Listener: {masked_url(self.listener_url)} · {health}")
        latest = max(state.requests.values(), key=lambda r: r.at, default=None)
        unreachable = latest is not None and latest.unreachable
        self.api_status.setText("API: unreachable" if unreachable else "API: reachable")
        self.credits_status.setText(
            "Credits: —" if state.credits is None else f"Credits: {state.credits:,}"
        )

    def tick(self) -> None:
        """Once a second: timers move, ages grow."""
        self.board.refresh()
        self.session_model.refresh()
        if self.team_board is not None:
            self.team_board.tick()
        self._show_status(self.state)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:  # the theme changed (console.qt.theme)
            recolour(self.log)
            recolour(self.timeline)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.services.on_close is not None:
            self.services.on_close()
        event.accept()
