"""The operator's window: dial, watch the live board, act on the selected call.

Views never keep domain state: they re-read the reducer's ``State`` when the
session says it changed, at most every 16 ms (bursts of webhooks do not
repaint per event). Operator actions become events dispatched to the session.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import QEvent, QStringListModel, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from console.config import Profile
from console.core.calls import Call
from console.core.events import ActionKind, ActionRequested, DialRequested, Event
from console.core.phone import check_number, format_as_typed
from console.core.reducer import LogEntry, Request, RequestState, State
from console.qt.models import CallBoardModel, session_rows
from console.qt.palette import qcolor
from console.services.webhooks import masked_url

VOICES = ("en-US-Neural2-A", "en-US-Neural2-C", "en-GB-Neural2-B", "es-ES-Neural2-A")
REPAINT_MS = 16
LOG_ROWS = 300
# A log or timeline line's palette role ("danger", "warning"), kept on the item so
# a theme change can recolour the lines already shown.
ToneRole = Qt.ItemDataRole.UserRole + 1
LOG_TONES = {"error": "danger", "warning": "warning"}


@dataclass
class WindowServices:
    """What the window may ask of the rest of the console."""

    dispatch: Callable[[Event], object]
    callee_press: Callable[[str, str], None] | None = None  # sandbox only
    callee_hangup: Callable[[str], None] | None = None  # sandbox only
    on_close: Callable[[], None] | None = None
    open_settings: Callable[[], None] | None = None
    open_history: Callable[[], None] | None = None


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%H:%M:%S.%f")[:-3]


class MainWindow(QMainWindow):
    def __init__(self, profile: Profile, services: WindowServices, listener_url: str) -> None:
        super().__init__()
        self.profile = profile
        self.services = services
        self.listener_url = listener_url
        self.state = State()
        self.selected: str | None = None
        self.last_webhook_age: float | None = None
        self._pending_state: State | None = None
        self._log_last: LogEntry | None = None  # the newest log entry on screen
        self._repaint = QTimer(self, singleShot=True)
        self._repaint.timeout.connect(self._on_repaint_timeout)
        self._last_repaint = 0.0
        self.setWindowTitle(f"Kaphila Console — {profile.name}")
        self.resize(1280, 800)
        self.board = CallBoardModel(self)
        self.session_model = CallBoardModel(self, rows=session_rows)
        self._build()
        self._apply_profile()

    # ------------------------------------------------------------------ layout

    def _build(self) -> None:
        root = QWidget(self)
        outer = QVBoxLayout(root)
        outer.setContentsMargins(10, 8, 10, 6)
        outer.addWidget(self._build_header())
        split = QSplitter(Qt.Orientation.Horizontal, root)
        left = QWidget(split)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self._build_dialer())
        left_layout.addWidget(self._build_actions())
        left_layout.addWidget(self._build_callee())
        left_layout.addStretch(1)
        middle = QSplitter(Qt.Orientation.Vertical, split)
        board_box = QWidget(middle)
        board_layout = QVBoxLayout(board_box)
        board_layout.setContentsMargins(0, 0, 0, 0)
        self.empty_hint = QLabel(board_box)
        self.empty_hint.setObjectName("emptyHint")
        self.empty_hint.setWordWrap(True)
        board_layout.addWidget(self.empty_hint)
        self.tabs = QTabWidget(board_box)
        self.table = self._call_table(self.board)
        self.table.setObjectName("board")
        self.session_table = self._call_table(self.session_model)
        self.session_table.setObjectName("session")
        self.tabs.addTab(self.table, "Live board")
        self.tabs.addTab(self.session_table, "Session (all calls)")
        board_layout.addWidget(self.tabs, 1)
        lower = QSplitter(Qt.Orientation.Horizontal, middle)
        timeline_box = QGroupBox("Timeline of the selected call", lower)
        self.timeline = QListWidget(timeline_box)
        self.timeline.setObjectName("timeline")
        self.timeline.itemDoubleClicked.connect(self._on_timeline_double_clicked)
        QVBoxLayout(timeline_box).addWidget(self.timeline)
        log_box = QGroupBox("Event log", lower)
        self.log = QListWidget(log_box)
        self.log.setObjectName("log")
        # One line per entry: with uniform rows, keeping the log scrolled to the
        # bottom no longer measures all 300 rows each time (15% of the GUI thread
        # under a 2,000/s webhook load).
        self.log.setUniformItemSizes(True)
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

    def _call_table(self, model: CallBoardModel) -> QTableView:
        table = QTableView()
        table.setModel(model)
        table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        table.verticalHeader().setVisible(False)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        table.setAlternatingRowColors(True)
        table.selectionModel().selectionChanged.connect(
            lambda *_: self._on_table_selection(table, model))
        return table

    def _build_header(self) -> QWidget:
        header = QFrame(self)
        header.setObjectName("header")
        row = QHBoxLayout(header)
        row.setContentsMargins(8, 4, 8, 4)
        title = QLabel("<b>Kaphila Console</b>")
        self.profile_badge = QLabel()
        self.profile_badge.setObjectName("profileBadge")
        self.insecure_warning = QLabel()
        self.insecure_warning.setObjectName("warning")
        self.insecure_warning.setVisible(False)
        row.addWidget(title)
        row.addSpacing(12)
        row.addWidget(self.profile_badge)
        row.addWidget(self.insecure_warning)
        row.addStretch(1)
        if self.services.open_history is not None:
            history = QPushButton("History…")
            history.setObjectName("openHistory")
            history.setToolTip("Every call, searchable and exportable (Ctrl+Y)")
            history.clicked.connect(self.services.open_history)
            QShortcut(QKeySequence("Ctrl+Y"), self, activated=self.services.open_history)
            row.addWidget(history)
        if self.services.open_settings is not None:
            settings = QPushButton("Settings…")
            settings.clicked.connect(self.services.open_settings)
            row.addWidget(settings)
        return header

    def _build_dialer(self) -> QGroupBox:
        box = QGroupBox("Dial")
        form = QFormLayout(box)
        self.number = QLineEdit()
        self.number.setObjectName("number")
        self.number.setPlaceholderText("e.g. +1 555 123 0001")
        self.number.textEdited.connect(self._on_number_edited)
        self.number.returnPressed.connect(self.dial)
        self._recent_model = QStringListModel(self)
        completer = QCompleter(self._recent_model, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.number.setCompleter(completer)
        self.number_hint = QLabel(" ")
        self.number_hint.setObjectName("hint")
        self.caller_id = QComboBox()
        self.caller_id.setObjectName("callerId")
        self.amd = QCheckBox("Answering-machine detection")
        self.voice = QComboBox()
        self.voice.setEditable(True)
        self.voice.addItems(VOICES)
        self.ring_timeout = QSpinBox()
        self.ring_timeout.setRange(5, 120)
        self.ring_timeout.setSuffix(" s")
        self.dial_button = QPushButton("Dial  (Enter)")
        self.dial_button.setObjectName("dial")
        self.dial_button.clicked.connect(self.dial)
        self.dial_status = QLabel(" ")
        self.dial_status.setObjectName("dialStatus")
        self.dial_status.setWordWrap(True)
        form.addRow("Number", self.number)
        form.addRow("", self.number_hint)
        form.addRow("Caller ID", self.caller_id)
        form.addRow("", self.amd)
        form.addRow("Voice", self.voice)
        form.addRow("Ring for", self.ring_timeout)
        form.addRow(self.dial_button)
        form.addRow(self.dial_status)
        QShortcut(QKeySequence("Ctrl+D"), self, activated=self.number.setFocus)
        return box

    def _build_actions(self) -> QGroupBox:
        box = QGroupBox("Selected call")
        grid = QGridLayout(box)
        self.selected_label = QLabel("No call selected")
        self.selected_label.setObjectName("selectedCall")
        grid.addWidget(self.selected_label, 0, 0, 1, 3)
        self.speak_text = QLineEdit()
        self.speak_text.setObjectName("speakText")
        self.speak_text.setPlaceholderText("Text to speak")
        self.speak_text.returnPressed.connect(self.speak)
        self.speak_button = QPushButton("Speak (Ctrl+S)")
        self.speak_button.clicked.connect(self.speak)
        grid.addWidget(self.speak_text, 1, 0, 1, 2)
        grid.addWidget(self.speak_button, 1, 2)
        self.gather_prompt = QLineEdit()
        self.gather_prompt.setObjectName("gatherPrompt")
        self.gather_prompt.setPlaceholderText("Prompt, e.g. Enter your PIN")
        self.gather_digits = QSpinBox()
        self.gather_digits.setRange(0, 20)
        self.gather_digits.setSpecialValueText("any")
        self.gather_digits.setPrefix("digits ")
        self.gather_timeout = QSpinBox()
        self.gather_timeout.setRange(1, 120)
        self.gather_timeout.setValue(10)
        self.gather_timeout.setSuffix(" s")
        self.gather_finish = QLineEdit("#")
        self.gather_finish.setMaxLength(1)
        self.gather_finish.setFixedWidth(32)
        self.gather_valid = QLineEdit()
        self.gather_valid.setPlaceholderText("valid digits")
        self.gather_button = QPushButton("Gather (Ctrl+G)")
        self.gather_button.clicked.connect(self.gather)
        grid.addWidget(self.gather_prompt, 2, 0, 1, 2)
        grid.addWidget(self.gather_button, 2, 2)
        options = QHBoxLayout()
        options.addWidget(self.gather_digits)
        options.addWidget(self.gather_timeout)
        options.addWidget(QLabel("finish"))
        options.addWidget(self.gather_finish)
        options.addWidget(self.gather_valid)
        grid.addLayout(options, 3, 0, 1, 3)
        self.forward_number = QLineEdit()
        self.forward_number.setObjectName("forwardNumber")
        self.forward_number.setPlaceholderText("Forward to number")
        self.forward_button = QPushButton("Forward… (Ctrl+F)")
        self.forward_button.clicked.connect(self.forward)
        grid.addWidget(self.forward_number, 4, 0, 1, 2)
        grid.addWidget(self.forward_button, 4, 2)
        self.hangup_button = QPushButton("Hang up (Ctrl+H)")
        self.hangup_button.setObjectName("hangup")
        self.hangup_button.clicked.connect(self.hang_up)
        grid.addWidget(self.hangup_button, 5, 0, 1, 3)
        self.action_status = QLabel(" ")
        self.action_status.setObjectName("actionStatus")
        self.action_status.setWordWrap(True)
        grid.addWidget(self.action_status, 6, 0, 1, 3)
        for keys, slot in (("Ctrl+S", self.speak), ("Ctrl+G", self.gather),
                           ("Ctrl+F", self.forward), ("Ctrl+H", self.hang_up)):
            QShortcut(QKeySequence(keys), self, activated=slot)
        return box

    def _build_callee(self) -> QGroupBox:
        box = QGroupBox("Callee (sandbox): act as the person on the phone")
        box.setObjectName("callee")
        grid = QGridLayout(box)
        self.keypad: dict[str, QPushButton] = {}
        for index, key in enumerate("123456789*0#"):
            button = QPushButton(key)
            button.setObjectName(f"key{key}")
            button.clicked.connect(lambda _=False, k=key: self._on_keypad(k))
            grid.addWidget(button, index // 3, index % 3)
            self.keypad[key] = button
        self.callee_hangup_button = QPushButton("Hang up as callee")
        self.callee_hangup_button.clicked.connect(self._on_callee_hangup)
        grid.addWidget(self.callee_hangup_button, 4, 0, 1, 3)
        self.callee_box = box
        return box

    def _apply_profile(self) -> None:
        profile = self.profile
        if profile.sandbox:
            self.profile_badge.setText("  SANDBOX · local, no real calls  ")
            self.profile_badge.setProperty("kind", "sandbox")
        else:
            self.profile_badge.setText(f"  LIVE · {profile.name}  ")
            self.profile_badge.setProperty("kind", "live")
        self.callee_box.setVisible(profile.sandbox and self.services.callee_press is not None)
        self.caller_id.clear()
        self.caller_id.addItems(list(profile.caller_ids))
        if profile.last_caller_id in profile.caller_ids:
            self.caller_id.setCurrentText(profile.last_caller_id)
        self.amd.setChecked(profile.amd)
        self.voice.setCurrentText(profile.voice)
        self.ring_timeout.setValue(profile.ring_timeout)
        self._recent_model.setStringList(list(profile.recent_numbers))
        self.listener_status.setText(f"Listener: {masked_url(self.listener_url)}")
        self.listener_status.setToolTip("The full URL (with its secret token) is in the log")
        self.empty_hint.setText(
            "No calls yet. Type a number and press Enter."
            + (" In the sandbox the last four digits choose what happens: 0001 answering "
               "machine, 0002 AMD not sure, 0003 busy, 0004 no answer, 0005 unreachable, "
               "0006 callee hangs up, 0007 answers gathers, any other a person answers."
               if profile.sandbox else ""))

    def show_warnings(self, texts: list[str]) -> None:
        """Warnings that matter stay in the header: first sentence shown, all on hover."""
        shown = [t.split(". ")[0].split(" (")[0] for t in texts]
        self.insecure_warning.setText("  ".join(f"⚠ {t}" for t in shown))
        self.insecure_warning.setToolTip("\n\n".join(texts))
        self.insecure_warning.setVisible(bool(texts))

    # ------------------------------------------------------------------ operator

    def dial(self) -> None:
        check = check_number(self.number.text(), self.profile.default_region)
        if not check.ok:
            self.number_hint.setText(f"Cannot dial: {check.reason}")
            self.number_hint.setProperty("bad", True)
            self._restyle(self.number_hint)
            return
        caller_id = self.caller_id.currentText()
        if not caller_id:
            self.dial_status.setText("Add a verified caller ID to this profile first")
            return
        self.services.dispatch(DialRequested(
            request_id=uuid.uuid4().hex, to=check.e164, caller_id=caller_id, at=time.time(),
            amd=self.amd.isChecked(), voice=self.voice.currentText() or None,
            ring_timeout=self.ring_timeout.value()))
        self.profile = self.profile.remember_number(check.e164)
        self._recent_model.setStringList(list(self.profile.recent_numbers))

    def speak(self) -> None:
        text = self.speak_text.text().strip()
        if text and self._act(ActionKind.SPEAK, text=text, voice=self.voice.currentText()):
            self.speak_text.clear()

    def gather(self) -> None:
        digits = self.gather_digits.value()
        self._act(ActionKind.GATHER, text=self.gather_prompt.text().strip(),
                  voice=self.voice.currentText(), num_digits=digits or None,
                  timeout=self.gather_timeout.value(),
                  finish_on_key=self.gather_finish.text(),
                  valid_digits=self.gather_valid.text().strip())

    def forward(self) -> None:
        check = check_number(self.forward_number.text(), self.profile.default_region)
        if not check.ok:
            self.action_status.setText(f"Cannot forward: {check.reason}")
            return
        call = self._selected_call()
        if call is None:
            return
        answer = QMessageBox.question(
            self, "Forward the call",
            f"Forward {call.to} to {check.display}?\nThis call leg ends; a new one starts.")
        if answer == QMessageBox.StandardButton.Yes:
            self._act(ActionKind.FORWARD, text=check.e164)

    def hang_up(self) -> None:
        self._act(ActionKind.HANG_UP)

    def _act(self, kind: ActionKind, **fields: object) -> bool:
        call = self._selected_call()
        if call is None:
            self.action_status.setText("Select a call on the board first")
            return False
        self.services.dispatch(ActionRequested(uuid.uuid4().hex, call.sid, kind,  # type: ignore[arg-type]
                                               time.time(), **fields))
        return True

    def _selected_call(self) -> Call | None:
        return self.state.calls.get(self.selected or "")

    def _on_keypad(self, key: str) -> None:
        if self.selected and self.services.callee_press:
            self.services.callee_press(self.selected, key)

    def _on_callee_hangup(self) -> None:
        if self.selected and self.services.callee_hangup:
            self.services.callee_hangup(self.selected)

    def _on_number_edited(self, text: str) -> None:
        formatted = format_as_typed(text, self.profile.default_region)
        if formatted != text and not text.endswith(" "):
            self.number.setText(formatted)
        check = check_number(text, self.profile.default_region)
        self.number_hint.setText(check.display if check.ok else
                                 (check.reason if text.strip() else " "))
        self.number_hint.setProperty("bad", not check.ok and bool(text.strip()))
        self._restyle(self.number_hint)
        self.dial_button.setEnabled(check.ok or not text.strip())

    def _on_table_selection(self, table: QTableView, model: CallBoardModel) -> None:
        rows = table.selectionModel().selectedRows()
        if rows:
            self.selected = model.sid_at(rows[0].row())
        elif table is self.tabs.currentWidget():
            self.selected = None
        self._show_selected()

    def _on_timeline_double_clicked(self, item: QListWidgetItem) -> None:
        raw = item.data(Qt.ItemDataRole.UserRole)
        if raw:
            box = QMessageBox(self)
            box.setWindowTitle("Webhook as received")
            box.setText(json.dumps(raw, indent=2, sort_keys=True))
            box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            box.exec()

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
        self.empty_hint.setVisible(not state.calls)
        if self.selected is not None:
            row = self.board.row_of(self.selected)
            if row >= 0 and not self.table.selectionModel().isRowSelected(row):
                self.table.selectRow(row)
        self._show_selected()
        self._show_dial_outcome(state)
        if state.log is not previous.log:
            self._show_log(state)
        self._show_status(state)

    def _show_selected(self) -> None:
        call = self._selected_call()
        enabled = call is not None and call.live
        for widget in (self.speak_button, self.gather_button, self.forward_button,
                       self.hangup_button, *self.keypad.values(), self.callee_hangup_button):
            widget.setEnabled(enabled)
        if call is None:
            self.selected_label.setText("No call selected")
            self.timeline.clear()
            self.action_status.setText(" ")
            return
        self.selected_label.setText(f"<b>{call.to}</b> · {call.status.label}"
                                    + (f" · AMD {call.amd.label}" if call.amd else ""))
        self.timeline.clear()
        for entry in call.timeline:
            marks = " [late]" if entry.late else ""
            item = QListWidgetItem(f"{_clock(entry.at)}  {entry.summary}{marks}")
            item.setData(Qt.ItemDataRole.UserRole, entry.raw)
            if entry.duplicate or entry.late:
                _set_tone(item, "warning")
            self.timeline.addItem(item)
        self.action_status.setText(self._last_action_text(call.sid))

    def _last_action_text(self, sid: str) -> str:
        mine = [r for r in self.state.requests.values() if r.call_sid == sid]
        if not mine:
            return " "
        latest = max(mine, key=lambda r: r.at)
        return _request_text(latest)

    def _show_dial_outcome(self, state: State) -> None:
        dials = [r for r in state.requests.values() if r.kind == "dial"]
        if dials:
            self.dial_status.setText(_request_text(max(dials, key=lambda r: r.at)))

    def _show_log(self, state: State) -> None:
        """Append what is new since the last repaint (a rebuild per frame cost 5 ms)."""
        new: list[LogEntry] = []
        for entry in reversed(state.log):
            if entry is self._log_last:
                break
            new.append(entry)
        else:
            self.log.clear()  # the last shown entry was trimmed away: start afresh
        if not new:
            return
        scrollbar = self.log.verticalScrollBar()
        at_bottom = scrollbar.value() >= scrollbar.maximum() - 2
        for entry in reversed(new[:LOG_ROWS]):
            item = QListWidgetItem(f"{_clock(entry.at)}  {entry.text}")
            if entry.level in LOG_TONES:
                _set_tone(item, LOG_TONES[entry.level])
            self.log.addItem(item)
        while self.log.count() > LOG_ROWS:
            self.log.takeItem(0)
        self._log_last = state.log[-1]
        if at_bottom:
            self.log.scrollToBottom()

    def _show_status(self, state: State) -> None:
        if state.last_webhook_at is None:
            health = "no webhook yet"
        else:
            health = f"last webhook {max(0, int(time.time() - state.last_webhook_at))} s ago"
        self.listener_status.setText(f"Listener: {masked_url(self.listener_url)} · {health}")
        failures = [r for r in state.requests.values() if r.state == RequestState.FAILED
                    and r.message.startswith("Cannot reach")]
        latest = max(state.requests.values(), key=lambda r: r.at, default=None)
        reachable = not (latest and latest in failures)
        self.api_status.setText("API: reachable" if reachable else "API: unreachable")
        self.credits_status.setText("Credits: —" if state.credits is None
                                    else f"Credits: {state.credits}")

    def tick(self) -> None:
        """Once a second: timers move, ages grow."""
        self.board.refresh()
        self.session_model.refresh()
        self._show_status(self.state)

    @staticmethod
    def _restyle(widget: QWidget) -> None:
        widget.style().unpolish(widget)
        widget.style().polish(widget)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:  # the theme changed (console.qt.theme)
            for view in (self.log, self.timeline):
                for row in range(view.count()):
                    item = view.item(row)
                    if tone := item.data(ToneRole):
                        _set_tone(item, tone)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.services.on_close is not None:
            self.services.on_close()
        event.accept()


def _set_tone(item: QListWidgetItem, tone: str) -> None:
    item.setData(ToneRole, tone)
    item.setForeground(qcolor(tone))


def _request_text(request: Request) -> str:
    what = "Dial" if request.kind == "dial" else request.kind.capitalize()
    if request.state == RequestState.PENDING:
        return f"{what}: sending…"
    if request.state == RequestState.FAILED:
        return f"{what} failed: {request.message}"
    return f"{what}: done"
