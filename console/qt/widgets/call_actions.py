"""The selected call and what can be done to it: speak, gather, forward, hang up;
on a supervisor's desk also take it over.

The panel names the call it will act on (and, in a team, whose it is). A call
taken over from this operator can only be watched: its actions are disabled and
say by whom. A message the operator should read
(a refusal, a failure) stays until they act again; typed text stays until
Kaphila has taken it, so nothing typed is lost to a failure.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QWidget,
)

from console.core.calls import Call
from console.core.events import ActionKind, ActionRequested
from console.core.phone import check_number
from console.core.reducer import Request, RequestState, State
from console.core.team import read_only
from console.qt import wording

MAX_SPEECH = 4096  # characters Kaphila speaks at once (the wire table's assumption)


class CallActions(QGroupBox):
    def __init__(self, dispatch: Callable[[ActionRequested], None], window: QWidget) -> None:
        super().__init__("Selected call")
        self._dispatch = dispatch
        self.region = "US"
        self.voice = ""
        self.call: Call | None = None
        self.state = State()
        self.message: str | None = None  # stays until the operator acts again
        self._clear_when_done: dict[str, QLineEdit] = {}
        grid = QGridLayout(self)
        self.selected_label = QLabel(wording.acting_on(None))
        self.selected_label.setObjectName("selectedCall")
        self.selected_label.setWordWrap(True)
        grid.addWidget(self.selected_label, 0, 0, 1, 3)
        self.speak_text = QLineEdit()
        self.speak_text.setObjectName("speakText")
        self.speak_text.setPlaceholderText("Text to speak")
        self.speak_text.setMaxLength(MAX_SPEECH)
        self.speak_text.returnPressed.connect(self.speak)
        self.speak_text.textChanged.connect(self._on_speak_text_changed)
        self.speak_count = QLabel()
        self.speak_count.setObjectName("hint")
        self.speak_count.setVisible(False)
        self.speak_button = QPushButton("Speak (Ctrl+S)")
        self.speak_button.clicked.connect(self.speak)
        grid.addWidget(self.speak_text, 1, 0, 1, 2)
        grid.addWidget(self.speak_button, 1, 2)
        grid.addWidget(self.speak_count, 2, 0, 1, 3)
        self.gather_prompt = QLineEdit()
        self.gather_prompt.setObjectName("gatherPrompt")
        self.gather_prompt.setPlaceholderText("Prompt, e.g. Enter your PIN")
        self.gather_prompt.setMaxLength(MAX_SPEECH)
        self.gather_prompt.returnPressed.connect(self.gather)
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
        grid.addWidget(self.gather_prompt, 3, 0, 1, 2)
        grid.addWidget(self.gather_button, 3, 2)
        options = QHBoxLayout()
        options.addWidget(self.gather_digits)
        options.addWidget(self.gather_timeout)
        options.addWidget(QLabel("finish"))
        options.addWidget(self.gather_finish)
        options.addWidget(self.gather_valid)
        grid.addLayout(options, 4, 0, 1, 3)
        self.forward_number = QLineEdit()
        self.forward_number.setObjectName("forwardNumber")
        self.forward_number.setPlaceholderText("Forward to number")
        self.forward_number.returnPressed.connect(self.forward)
        self.forward_button = QPushButton("Forward… (Ctrl+F)")
        self.forward_button.clicked.connect(self.forward)
        grid.addWidget(self.forward_number, 5, 0, 1, 2)
        grid.addWidget(self.forward_button, 5, 2)
        self.hangup_button = QPushButton("Hang up (Ctrl+H)")
        self.hangup_button.setObjectName("hangup")
        self.hangup_button.clicked.connect(self.hang_up)
        grid.addWidget(self.hangup_button, 6, 0, 1, 3)
        self.take_over_button = QPushButton("Take over… (Ctrl+T)")
        self.take_over_button.setObjectName("takeOver")
        self.take_over_button.setToolTip(
            "Make this call yours: its operator keeps seeing it, read-only"
        )
        self.take_over_button.clicked.connect(self.take_over)
        self.take_over_button.setVisible(False)  # a supervisor's desk only
        grid.addWidget(self.take_over_button, 7, 0, 1, 3)
        self.status = QLabel(" ")
        self.status.setObjectName("actionStatus")
        self.status.setWordWrap(True)
        grid.addWidget(self.status, 8, 0, 1, 3)
        for keys, slot in (
            ("Ctrl+S", self.speak),
            ("Ctrl+G", self.gather),
            ("Ctrl+F", self.forward),
            ("Ctrl+H", self.hang_up),
            ("Ctrl+T", self.take_over),
        ):
            QShortcut(QKeySequence(keys), window, activated=slot)
        self.buttons = (
            self.speak_button,
            self.gather_button,
            self.forward_button,
            self.hangup_button,
        )
        self._tips = {button: button.toolTip() for button in (*self.buttons, self.take_over_button)}
        # Tab walks the panel in this order (the window chains it after the dial form).
        self.tab_chain: tuple[QWidget, ...] = (
            self.speak_text,
            self.speak_button,
            self.gather_prompt,
            self.gather_digits,
            self.gather_timeout,
            self.gather_finish,
            self.gather_valid,
            self.gather_button,
            self.forward_number,
            self.forward_button,
            self.hangup_button,
            self.take_over_button,
        )

    # ------------------------------------------------------------ operator

    def speak(self) -> None:
        text = self.speak_text.text().strip()
        if not text:
            self._say("Type what to say first, then press Speak.")
            self.speak_text.setFocus()
            return
        self._act(ActionKind.SPEAK, self.speak_text, text=text, voice=self.voice)

    def gather(self) -> None:
        digits = self.gather_digits.value()
        self._act(
            ActionKind.GATHER,
            self.gather_prompt,
            text=self.gather_prompt.text().strip(),
            voice=self.voice,
            num_digits=digits or None,
            timeout=self.gather_timeout.value(),
            finish_on_key=self.gather_finish.text(),
            valid_digits=self.gather_valid.text().strip(),
        )

    def forward(self) -> None:
        check = check_number(self.forward_number.text(), self.region)
        if not check.ok:
            self._say(f"Cannot forward: {wording.number_problem(check)}.")
            self.forward_number.setFocus()
            return
        call = self.call
        if call is None or not call.live:
            self._act(ActionKind.FORWARD, None, text=check.e164)  # says why not
            return
        answer = QMessageBox.question(
            self,
            "Forward the call",
            f"Forward {wording.call_name(call)} to {check.display}?\n"
            "This call leg ends; a new one starts.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self._act(ActionKind.FORWARD, self.forward_number, text=check.e164)

    def hang_up(self) -> None:
        self._act(ActionKind.HANG_UP, None)

    def take_over(self) -> None:
        """A supervisor makes the call theirs (asked first: the operator loses it)."""
        call, team = self.call, self.state.team
        if team is None or not team.supervisor:
            return  # the shortcut on a desk that cannot take calls over
        if call is None or not call.live:
            self._act(ActionKind.TAKE_OVER, None)  # says why not
            return
        if call.owner == team.me.operator:
            self._say(f"{wording.call_name(call)} is already yours.")
            return
        answer = QMessageBox.question(
            self,
            "Take over the call",
            f"Take over {call.owner}'s call to {wording.call_name(call)}?\n"
            f"It becomes yours; {call.owner} keeps seeing it, read-only.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self._act(ActionKind.TAKE_OVER, None)

    def _act(self, kind: ActionKind, field: QLineEdit | None, **fields: object) -> None:
        self.message = None  # the operator acts again: an old message has been read
        call = self.call
        if call is None:
            self._say("Select a call on the board first (Ctrl+B).")
            return
        if not call.live:
            self._say(f"{wording.call_name(call)} has ended; nothing more can be done.")
            return
        if read_only(self.state.team, call):
            self._say(wording.taken_over(call) + ".")
            return
        request_id = uuid.uuid4().hex
        if field is not None:
            self._clear_when_done[request_id] = field
        self._dispatch(ActionRequested(request_id, call.sid, kind, time.time(), **fields))  # type: ignore[arg-type]

    def _say(self, text: str) -> None:
        self.message = text
        self.status.setText(text)

    def _on_speak_text_changed(self, text: str) -> None:
        near = len(text) > MAX_SPEECH * 0.8
        self.speak_count.setVisible(near)
        self.speak_count.setText(
            wording.characters_left(text, MAX_SPEECH)
            + (" — the limit" if len(text) >= MAX_SPEECH else "")
        )

    # ------------------------------------------------------------ state

    def show_call(self, call: Call | None, state: State) -> None:
        if (call.sid if call else None) != (self.call.sid if self.call else None):
            self.message = None  # another call chosen: that is acting again
        self.call, self.state = call, state
        team = state.team
        self.selected_label.setText(wording.acting_on(call, team))
        watching = call is not None and read_only(team, call)
        enabled = call is not None and call.live and not watching
        for button in self.buttons:
            button.setEnabled(enabled)
            button.setToolTip(wording.taken_over(call) if watching else self._tips[button])
        supervisor = team is not None and team.supervisor
        self.take_over_button.setVisible(supervisor)
        self.take_over_button.setEnabled(
            supervisor and enabled and call is not None and call.owner != team.me.operator
        )
        for request_id, field in list(self._clear_when_done.items()):
            request = state.requests.get(request_id)
            if request is None or request.state == RequestState.PENDING:
                continue
            if request.state == RequestState.DONE:
                field.clear()  # taken by Kaphila; on failure the text stays to retry
            del self._clear_when_done[request_id]
        if self.message is not None:
            self.status.setText(self.message)
        elif call is None:
            self.status.setText(" ")
        else:
            newest = self._newest_request(call.sid)
            self.status.setText(wording.request(newest) if newest else " ")

    def _newest_request(self, sid: str) -> Request | None:
        mine = [r for r in self.state.requests.values() if r.call_sid == sid]
        return max(mine, key=lambda r: r.at) if mine else None
