"""The selected call's timeline; a double click shows a webhook as it came."""

from __future__ import annotations

import json
from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QMessageBox, QWidget

from console.core.calls import Call
from console.qt import wording
from console.qt.palette import qcolor

# A line's palette role ("danger", "warning"), kept on the item so a theme
# change can recolour the lines already shown.
ToneRole = Qt.ItemDataRole.UserRole + 1


def clock(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%H:%M:%S.%f")[:-3]


def set_tone(item: QListWidgetItem, tone: str) -> None:
    item.setData(ToneRole, tone)
    item.setForeground(qcolor(tone))


def recolour(view: QListWidget) -> None:
    for row in range(view.count()):
        item = view.item(row)
        if tone := item.data(ToneRole):
            set_tone(item, tone)


class Timeline(QListWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("timeline")
        self.itemDoubleClicked.connect(self._on_item_double_clicked)
        self._shown: tuple[object, ...] | None = None

    def show_call(self, call: Call | None) -> None:
        key = (call.sid, call.timeline, call.duplicates) if call is not None else None
        if key == self._shown:
            return  # unchanged: keep the scroll position and the selection
        self._shown = key
        self.clear()
        if call is None:
            return
        for entry in call.timeline:
            item = QListWidgetItem(
                f"{clock(entry.at)}  {wording.timeline(entry)}" + (" [late]" if entry.late else "")
            )
            item.setData(Qt.ItemDataRole.UserRole, entry.raw)
            if entry.late:
                set_tone(item, "warning")
            self.addItem(item)
        if call.duplicates:
            self.addItem(
                f"({call.duplicates:,} repeated "
                f"{'delivery' if call.duplicates == 1 else 'deliveries'} ignored)"
            )

    def _on_item_double_clicked(self, item: QListWidgetItem) -> None:
        raw = item.data(Qt.ItemDataRole.UserRole)
        if raw:
            box = QMessageBox(self)
            box.setWindowTitle("Webhook as received")
            box.setText(json.dumps(raw, indent=2, sort_keys=True))
            box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            box.exec()
