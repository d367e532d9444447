"""Dial: number (formatted as typed, recent numbers offered), caller ID, AMD,
voice and ring time. Enter dials from any of these fields."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QStringListModel, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from console.config import Profile
from console.core.events import DialRequested
from console.core.phone import check_number, format_as_typed, still_typing
from console.qt import wording

VOICES = ("en-US-Neural2-A", "en-US-Neural2-C", "en-GB-Neural2-B", "es-ES-Neural2-A")
ENTER_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


class Dialer(QGroupBox):
    def __init__(self, dial: Callable[[DialRequested], None]) -> None:
        super().__init__("Dial")
        self._dial = dial
        self.profile = Profile("")
        form = QFormLayout(self)
        self.number = QLineEdit()
        self.number.setObjectName("number")
        self.number.setPlaceholderText("e.g. +1 555 123 0001")
        self.number.textEdited.connect(self._on_number_edited)
        self.recent = QStringListModel(self)
        self.completer = QCompleter(self.recent, self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.number.setCompleter(self.completer)
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
        self.status = QLabel(" ")
        self.status.setObjectName("dialStatus")
        self.status.setWordWrap(True)
        form.addRow("&Number", self.number)
        form.addRow("", self.number_hint)
        form.addRow("Caller &ID", self.caller_id)
        form.addRow("", self.amd)
        form.addRow("&Voice", self.voice)
        form.addRow("&Ring for", self.ring_timeout)
        form.addRow(self.dial_button)
        form.addRow(self.status)
        self.fields: tuple[QWidget, ...] = (
            self.number,
            self.caller_id,
            self.amd,
            self.voice,
            self.ring_timeout,
            self.dial_button,
        )
        for field in self.fields:
            field.installEventFilter(self)
        self.voice.lineEdit().installEventFilter(self)
        self.ring_timeout.findChild(QLineEdit).installEventFilter(self)

    def apply_profile(self, profile: Profile) -> None:
        self.profile = profile
        self.caller_id.clear()
        self.caller_id.addItems(list(profile.caller_ids))
        if profile.last_caller_id in profile.caller_ids:
            self.caller_id.setCurrentText(profile.last_caller_id)
        self.amd.setChecked(profile.amd)
        self.voice.setCurrentText(profile.voice)
        self.ring_timeout.setValue(profile.ring_timeout)
        self._show_recent()

    def _show_recent(self) -> None:
        region = self.profile.default_region
        self.recent.setStringList([format_as_typed(n, region) for n in self.profile.recent_numbers])

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            if event.key() in ENTER_KEYS and not self.completer.popup().isVisible():
                self.dial()
                return True
            if (
                watched is self.number
                and event.key() == Qt.Key.Key_Down
                and not self.completer.popup().isVisible()
                and self.recent.rowCount()
            ):
                self.completer.setCompletionPrefix(self.number.text())
                self.completer.complete()  # the recent numbers, on request
                return True
        return super().eventFilter(watched, event)

    def dial(self) -> None:
        region = self.profile.default_region
        check = check_number(self.number.text(), region)
        if not check.ok:
            self._hint(f"Cannot dial: {wording.number_problem(check)}", bad=True)
            return
        caller_id = self.caller_id.currentText()
        if not caller_id:
            self.status.setText("Add a verified caller ID to this profile first (Settings)")
            return
        self._dial(
            DialRequested(
                request_id=uuid.uuid4().hex,
                to=check.e164,
                caller_id=caller_id,
                at=time.time(),
                amd=self.amd.isChecked(),
                voice=self.voice.currentText() or None,
                ring_timeout=self.ring_timeout.value(),
            )
        )
        self.profile = self.profile.remember_number(check.e164)
        self._show_recent()

    def _on_number_edited(self, text: str) -> None:
        region = self.profile.default_region
        formatted = format_as_typed(text, region)
        if formatted != text and not text.endswith(" "):
            self.number.setText(formatted)
        check = check_number(text, region)
        typing = not check.ok and bool(text.strip()) and still_typing(text, region)
        if check.ok:
            self._hint(check.display, bad=False)
        elif not text.strip():
            self._hint(" ", bad=False)
        elif typing:  # no red while a plausible number is typed
            self._hint("keep typing…", bad=False)
        else:
            self._hint(wording.number_problem(check), bad=True)
        self.dial_button.setEnabled(check.ok or not text.strip() or typing)

    def _hint(self, text: str, bad: bool) -> None:
        self.number_hint.setText(text)
        self.number_hint.setProperty("bad", bad)
        self.number_hint.style().unpolish(self.number_hint)
        self.number_hint.style().polish(self.number_hint)
