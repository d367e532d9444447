"""The Light / Dark / System setting, applied to the running application.

"system" follows the desktop's colour scheme (``QStyleHints.colorScheme()``;
Unknown, as offscreen or on a desktop that does not say, counts as light) and
follows it again whenever it changes. Whatever the setting, the console paints
with its own palettes on the Fusion style, which honours a QPalette on every
platform: a dark desktop palette never meets our light style sheet again
(issue 11: white text on white).
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import QObject, Qt, Signal, SignalInstance
from PySide6.QtWidgets import QApplication

from console.config import THEMES
from console.qt.palette import DARK, LIGHT, PALETTES, Palette, activate, qpalette, qss

# What the setting asks the platform for (native title bars and dialogs follow it);
# Unknown hands the choice back to the desktop.
_REQUESTED = {
    "light": Qt.ColorScheme.Light,
    "dark": Qt.ColorScheme.Dark,
    "system": Qt.ColorScheme.Unknown,
}


class ColourSchemeSource(Protocol):
    """What the theme needs of ``QStyleHints`` (a test hands in its own)."""

    colorSchemeChanged: SignalInstance

    def colorScheme(self) -> Qt.ColorScheme: ...

    def setColorScheme(self, scheme: Qt.ColorScheme) -> None: ...


class Theme(QObject):
    """The application's theme: a setting, and the palette it stands for now."""

    changed = Signal(object)  # the Palette now in use

    def __init__(self, app: QApplication, hints: ColourSchemeSource | None = None) -> None:
        super().__init__(app)
        self.setObjectName("theme")
        self._app = app
        self._hints = hints if hints is not None else app.styleHints()
        self.setting = "system"
        self.palette: Palette = LIGHT
        self._on_fusion = False
        self._hints.colorSchemeChanged.connect(self._on_hints_color_scheme_changed)

    def apply(self, setting: str) -> Palette:
        """Use ``setting`` ("light", "dark" or "system"; anything else means "system")."""
        self.setting = setting if setting in THEMES else "system"
        self._hints.setColorScheme(_REQUESTED[self.setting])
        return self._paint()

    def wanted(self) -> Palette:
        if self.setting in PALETTES:
            return PALETTES[self.setting]
        return DARK if self._hints.colorScheme() == Qt.ColorScheme.Dark else LIGHT

    def _paint(self) -> Palette:
        palette = self.palette = self.wanted()
        activate(palette)  # first: views repaint when the style sheet changes below
        if not self._on_fusion:  # once: with a style sheet, style() is the sheet's wrapper
            self._app.setStyle("Fusion")
            self._on_fusion = True
        self._app.setPalette(qpalette(palette))
        self._app.setStyleSheet(qss(palette))
        self.changed.emit(palette)
        return palette

    def _on_hints_color_scheme_changed(self, scheme: Qt.ColorScheme) -> None:
        if self.setting == "system":
            self._paint()


def theme(app: QApplication | None = None) -> Theme:
    """The application's Theme, made on first use."""
    app = app or QApplication.instance()
    assert isinstance(app, QApplication)
    found = app.findChild(Theme, "theme")
    return found if found is not None else Theme(app)


def apply_theme(setting: str, app: QApplication | None = None) -> Palette:
    """Apply a theme setting to the application; returns the palette now in use."""
    return theme(app).apply(setting)
