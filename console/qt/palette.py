"""Every colour the console paints with: a light and a dark palette, and what is made of them.

A ``Palette`` is plain data: named roles, one colour each. From it come the
style sheet (``resources/style.qss`` is a template that names roles, never
colours), Qt's own ``QPalette`` (for what the style sheet does not cover: line
edits, combo boxes, scroll bars, tabs, tooltips, Qt's dialogs) and the call
status colours of the board. ``PAIRS`` lists every text colour on every
background it is drawn on; the tests hold each pair to WCAG AA (4.5:1) in both
palettes, and fail on a colour literal anywhere else in the code.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import NamedTuple

from PySide6.QtGui import QColor, QPalette

from console.core.calls import CallStatus
from console.core.team import Link, Presence

TEMPLATE = Path(__file__).resolve().parents[2] / "resources" / "style.qss"


@dataclass(frozen=True)
class Palette:
    """One theme's colours, by role. Text roles say which backgrounds they sit on in PAIRS."""

    name: str
    window: str  # the window, dialogs, the status bar, group box titles
    surface: str  # cards: header, group boxes, lists, tables, line edits
    surface_alt: str  # every other table row
    callee: str  # the sandbox callee's group box (a tint: "this is pretend")
    text: str
    muted_text: str  # group titles, dial and action outcomes
    placeholder_text: str
    disabled_text: str
    border: str  # cards
    control_border: str  # buttons, line edits
    gridline: str
    header: str  # table header sections
    button: str
    button_hover: str
    button_pressed: str
    button_disabled: str
    selection_bg: str
    selection_fg: str
    accent: str  # focus, links, the live badge's border
    danger: str  # warnings, failed dial hints, error log lines
    danger_border: str
    success: str  # a valid number's hint
    warning: str  # late or repeated webhooks, warning log lines
    on_action: str  # text on the Dial and Hang-up buttons
    dial: str
    dial_border: str
    dial_disabled: str
    dial_disabled_text: str
    hangup: str
    hangup_border: str
    hangup_disabled: str
    hangup_disabled_text: str
    sandbox_badge: str
    sandbox_badge_text: str
    sandbox_badge_border: str
    live_badge: str
    live_badge_text: str
    live_badge_border: str
    hint: str  # the empty board's explanation
    hint_text: str
    hint_border: str
    tooltip: str
    tooltip_text: str
    shadow: str  # Fusion's bevels
    status: Mapping[CallStatus, str]

    def roles(self) -> dict[str, str]:
        """Every role by name (``status.<value>`` for call statuses)."""
        named = {
            f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("name", "status")
        }
        return named | {f"status.{s.value}": c for s, c in self.status.items()}

    def colour(self, role: str) -> str:
        return self.roles()[role]


LIGHT = Palette(
    name="light",
    window="#f6f7f9",
    surface="#ffffff",
    surface_alt="#f6f7f9",
    callee="#fffbeb",
    text="#111827",
    muted_text="#374151",
    placeholder_text="#636b78",
    disabled_text="#636b78",
    border="#e5e7eb",
    control_border="#d1d5db",
    gridline="#eef0f3",
    header="#f3f4f6",
    button="#ffffff",
    button_hover="#f3f4f6",
    button_pressed="#e5e7eb",
    button_disabled="#f9fafb",
    selection_bg="#dbeafe",
    selection_fg="#111827",
    accent="#2563eb",
    danger="#b91c1c",
    danger_border="#fca5a5",
    success="#15803d",
    warning="#b45309",
    on_action="#ffffff",
    dial="#15803d",
    dial_border="#166534",
    dial_disabled="#dcfce7",
    dial_disabled_text="#166534",
    hangup="#b91c1c",
    hangup_border="#991b1b",
    hangup_disabled="#fee2e2",
    hangup_disabled_text="#991b1b",
    sandbox_badge="#fef3c7",
    sandbox_badge_text="#92400e",
    sandbox_badge_border="#f59e0b",
    live_badge="#dbeafe",
    live_badge_text="#1e3a8a",
    live_badge_border="#3b82f6",
    hint="#eef2ff",
    hint_text="#374151",
    hint_border="#c7d2fe",
    tooltip="#1f2937",
    tooltip_text="#f9fafb",
    shadow="#9ca3af",
    status={
        CallStatus.QUEUED: "#4b5563",
        CallStatus.INITIATED: "#4b5563",
        CallStatus.RINGING: "#b45309",
        CallStatus.IN_PROGRESS: "#15803d",
        CallStatus.COMPLETED: "#374151",
        CallStatus.BUSY: "#b91c1c",
        CallStatus.FAILED: "#b91c1c",
        CallStatus.NO_ANSWER: "#b91c1c",
        CallStatus.CANCELED: "#4b5563",
    },
)

DARK = Palette(
    name="dark",
    window="#111827",
    surface="#1f2937",
    surface_alt="#273241",
    callee="#2b2412",
    text="#f3f4f6",
    muted_text="#d1d5db",
    placeholder_text="#9ca3af",
    disabled_text="#9ca3af",
    border="#374151",
    control_border="#4b5563",
    gridline="#2f3a4a",
    header="#2b3544",
    button="#374151",
    button_hover="#4b5563",
    button_pressed="#2b3544",
    button_disabled="#1f2937",
    selection_bg="#1e3a8a",
    selection_fg="#f9fafb",
    accent="#60a5fa",
    danger="#fca5a5",
    danger_border="#b91c1c",
    success="#4ade80",
    warning="#fbbf24",
    on_action="#ffffff",
    dial="#15803d",
    dial_border="#22c55e",
    dial_disabled="#14532d",
    dial_disabled_text="#bbf7d0",
    hangup="#b91c1c",
    hangup_border="#ef4444",
    hangup_disabled="#450a0a",
    hangup_disabled_text="#fecaca",
    sandbox_badge="#451a03",
    sandbox_badge_text="#fcd34d",
    sandbox_badge_border="#b45309",
    live_badge="#172554",
    live_badge_text="#bfdbfe",
    live_badge_border="#3b82f6",
    hint="#1e1b4b",
    hint_text="#e0e7ff",
    hint_border="#4338ca",
    tooltip="#f3f4f6",
    tooltip_text="#111827",
    shadow="#030712",
    status={
        CallStatus.QUEUED: "#b6bcc6",
        CallStatus.INITIATED: "#b6bcc6",
        CallStatus.RINGING: "#fbbf24",
        CallStatus.IN_PROGRESS: "#4ade80",
        CallStatus.COMPLETED: "#e5e7eb",
        CallStatus.BUSY: "#fca5a5",
        CallStatus.FAILED: "#fca5a5",
        CallStatus.NO_ANSWER: "#fca5a5",
        CallStatus.CANCELED: "#b6bcc6",
    },
)

PALETTES: dict[str, Palette] = {p.name: p for p in (LIGHT, DARK)}


class Pair(NamedTuple):
    """A text colour on a background it is drawn on, and where."""

    fg: str
    bg: str
    where: str


# A selected row is drawn in selection_fg, never in its status colour.
_STATUS_BACKGROUNDS = (("surface", "board row"), ("surface_alt", "board alternate row"))

PAIRS: tuple[Pair, ...] = (
    Pair("text", "window", "labels, tabs and the status bar"),
    Pair("text", "surface", "labels in cards, lists, tables, line edits"),
    Pair("text", "surface_alt", "alternate table rows"),
    Pair("text", "callee", "the callee box"),
    Pair("text", "header", "table headers"),
    Pair("text", "button", "buttons"),
    Pair("text", "button_hover", "a button under the mouse"),
    Pair("text", "button_pressed", "a pressed button"),
    Pair("muted_text", "window", "group box titles (drawn over the window)"),
    Pair("muted_text", "surface", "dial and action outcomes"),
    Pair("muted_text", "callee", "the callee box's title"),
    Pair("placeholder_text", "surface", "placeholders in line edits"),
    Pair("disabled_text", "button_disabled", "disabled buttons"),
    Pair("disabled_text", "window", "disabled labels and check boxes"),
    Pair("disabled_text", "surface", "disabled line edits and date edits"),
    Pair("disabled_text", "surface_alt", "a disabled table's alternate rows"),
    Pair("selection_fg", "selection_bg", "selected rows and selected text"),
    Pair("accent", "surface", "links"),
    Pair("accent", "window", "links in dialogs"),
    Pair("danger", "surface", "warnings in the header, invalid numbers, error log lines"),
    Pair("danger", "window", "warnings in dialogs and the history window"),
    Pair("danger", "button", "the Delete history button"),
    Pair("success", "surface", "a valid number's hint"),
    Pair("warning", "surface", "late webhooks, warning log lines"),
    Pair("on_action", "dial", "the Dial button"),
    Pair("on_action", "hangup", "the Hang up button"),
    Pair("dial_disabled_text", "dial_disabled", "the Dial button, disabled"),
    Pair("hangup_disabled_text", "hangup_disabled", "the Hang up button, disabled"),
    Pair("sandbox_badge_text", "sandbox_badge", "the SANDBOX badge"),
    Pair("live_badge_text", "live_badge", "the LIVE badge"),
    Pair("hint_text", "hint", "the empty board's hint"),
    Pair("tooltip_text", "tooltip", "tooltips"),
    # The supervisor board's operator statuses and the header's link state, on
    # both row colours of a table (the strip and header are surface).
    Pair("success", "surface_alt", "available operators on alternate rows"),
    Pair("accent", "surface_alt", "operators on a call on alternate rows"),
    Pair("warning", "surface_alt", "operators in wrap-up on alternate rows"),
    Pair("muted_text", "surface_alt", "away operators on alternate rows"),
    *(
        Pair(f"status.{s.value}", bg, f"{s.value} on the {where}")
        for s in CallStatus
        for bg, where in _STATUS_BACKGROUNDS
    ),
)


def qss(palette: Palette, template: str | None = None) -> str:
    """The style sheet: ``resources/style.qss`` with each ``$role`` replaced by its colour."""
    text = TEMPLATE.read_text(encoding="utf-8") if template is None else template
    return string.Template(text).substitute(palette.roles())


# Qt's palette roles: (QPalette role, our role, our role when disabled).
_Role = QPalette.ColorRole
QT_ROLES: tuple[tuple[QPalette.ColorRole, str, str], ...] = (
    (_Role.Window, "window", "window"),
    (_Role.WindowText, "text", "disabled_text"),
    (_Role.Base, "surface", "window"),
    (_Role.AlternateBase, "surface_alt", "surface_alt"),
    (_Role.Text, "text", "disabled_text"),
    (_Role.PlaceholderText, "placeholder_text", "disabled_text"),
    (_Role.Button, "button", "button_disabled"),
    (_Role.ButtonText, "text", "disabled_text"),
    (_Role.BrightText, "on_action", "on_action"),
    (_Role.Highlight, "selection_bg", "selection_bg"),
    (_Role.HighlightedText, "selection_fg", "selection_fg"),
    (_Role.Accent, "accent", "accent"),
    (_Role.Link, "accent", "accent"),
    (_Role.LinkVisited, "accent", "accent"),
    (_Role.ToolTipBase, "tooltip", "tooltip"),
    (_Role.ToolTipText, "tooltip_text", "tooltip_text"),
    (_Role.Light, "surface", "surface"),
    (_Role.Midlight, "button_hover", "button_hover"),
    (_Role.Mid, "control_border", "control_border"),
    (_Role.Dark, "control_border", "control_border"),
    (_Role.Shadow, "shadow", "shadow"),
)


def qpalette(palette: Palette) -> QPalette:
    """Qt's palette for the Fusion style (which honours it on every platform)."""
    result = QPalette()
    for qt_role, role, disabled in QT_ROLES:
        for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
            result.setColor(group, qt_role, QColor(palette.colour(role)))
        result.setColor(QPalette.ColorGroup.Disabled, qt_role, QColor(palette.colour(disabled)))
    return result


# The palette in use, and its colours as QColor (views ask on every repaint).
_active: Palette = LIGHT
_qcolors: dict[str, QColor] = {}


def activate(palette: Palette) -> None:
    """Make ``palette`` the one views read their colours from (console.qt.theme calls it)."""
    global _active
    _active = palette
    _qcolors.clear()


def active() -> Palette:
    return _active


def qcolor(role: str) -> QColor:
    """A role of the active palette, e.g. ``qcolor("danger")``."""
    colour = _qcolors.get(role)
    if colour is None:
        colour = _qcolors[role] = QColor(_active.colour(role))
    return colour


def status_colour(status: CallStatus) -> QColor:
    return qcolor(f"status.{status.value}")


# An operator's status and the team link, by palette role (a colour that means
# the same thing everywhere: green ready, blue busy, amber wrap-up, grey away).
PRESENCE_ROLES = {
    Presence.AVAILABLE: "success",
    Presence.ON_CALL: "accent",
    Presence.WRAP_UP: "warning",
    Presence.AWAY: "muted_text",
    Presence.OFFLINE: "disabled_text",
}
LINK_ROLES = {
    Link.CONNECTING: "muted_text",
    Link.CONNECTED: "success",
    Link.RECONNECTING: "warning",
    Link.REBUILDING: "warning",
    Link.REVOKED: "danger",
}


def presence_colour(status: Presence) -> QColor:
    return qcolor(PRESENCE_ROLES[status])
