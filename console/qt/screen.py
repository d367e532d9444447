"""Windows and dialogs that fit the screen they open on (a 1024x700 laptop too)."""

from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget


def available(widget: QWidget) -> QRect:
    """The usable part of the screen the widget (or its parent) is on."""
    anchor = widget.parentWidget() or widget
    screen = anchor.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry()


def fit(widget: QWidget, width: int, height: int) -> None:
    """Resize to ``width`` x ``height`` or to 95% of the screen, whichever is
    smaller, and centre it on its parent (else the screen), fully on screen."""
    area = available(widget)
    w = min(width, int(area.width() * 0.95))
    h = min(height, int(area.height() * 0.95))
    widget.resize(max(w, widget.minimumWidth()), max(h, widget.minimumHeight()))
    centre = (
        widget.parentWidget().frameGeometry() if widget.parentWidget() is not None else area
    ).center()
    frame = widget.frameGeometry()
    frame.moveCenter(centre)
    x = min(max(frame.left(), area.left()), area.right() - frame.width() + 1)
    y = min(max(frame.top(), area.top()), area.bottom() - frame.height() + 1)
    widget.move(max(x, area.left()), max(y, area.top()))
