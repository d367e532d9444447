"""The sandbox's keypad: the operator plays the person on the phone."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QGridLayout, QGroupBox, QPushButton


class CalleePad(QGroupBox):
    def __init__(self, press: Callable[[str], None], hang_up: Callable[[], None]) -> None:
        super().__init__("Callee (sandbox): act as the person on the phone")
        self.setObjectName("callee")
        grid = QGridLayout(self)
        self.keypad: dict[str, QPushButton] = {}
        for index, key in enumerate("123456789*0#"):
            button = QPushButton(key)
            button.setObjectName(f"key{key}")
            button.clicked.connect(lambda _=False, k=key: press(k))
            grid.addWidget(button, index // 3, index % 3)
            self.keypad[key] = button
        self.hangup_button = QPushButton("Hang up as callee")
        self.hangup_button.clicked.connect(hang_up)
        grid.addWidget(self.hangup_button, 4, 0, 1, 3)

    def set_enabled_for_call(self, enabled: bool) -> None:
        for widget in (*self.keypad.values(), self.hangup_button):
            widget.setEnabled(enabled)
