"""Profiles and settings. The API key is typed once and never shown again: the
field stays empty and says where the stored key lives; typing a new one
replaces it. Nothing here writes a key anywhere but the secret store.

The theme (Light / Dark / System) is for every profile; it applies when saved."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from console.config import Profile, Settings, plain_http
from console.core.notices import PlainHttp
from console.core.phone import check_number
from console.qt import wording
from console.qt.theme import apply_theme
from console.services.secrets import sendable

THEME_CHOICES = (("light", "Light"), ("dark", "Dark"), ("system", "System (follow the desktop)"))


class SettingsDialog(QDialog):
    """Edit one profile. ``saved`` carries (profile, new key or None, make it active)."""

    saved = Signal(object, object, bool)

    def __init__(
        self,
        settings: Settings,
        key_location: str,
        has_key: dict[str, bool],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Kaphila Console — Settings")
        self.setMinimumWidth(560)
        self._settings = settings
        self._has_key = has_key
        self._key_location = key_location
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.profile_picker = QComboBox()
        self.profile_picker.addItems([p.name for p in settings.profiles] + ["New live profile…"])
        self.profile_picker.currentIndexChanged.connect(self._on_profile_picked)
        form.addRow("Profile", self.profile_picker)
        self.name = QLineEdit()
        self.base_url = QLineEdit()
        self.base_url.setPlaceholderText("https://kaphila.com")
        self.base_url.textChanged.connect(self._on_base_url)
        self.url_warning = QLabel()
        self.url_warning.setObjectName("warning")
        self.url_warning.setWordWrap(True)
        self.account_sid = QLineEdit()
        self.api_key = QLineEdit()
        self.api_key.setObjectName("apiKey")
        self.api_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_note = QLabel()
        self.key_note.setWordWrap(True)
        self.caller_ids = QPlainTextEdit()
        self.caller_ids.setPlaceholderText("One verified caller ID per line, e.g. +19876543210")
        self.caller_ids.setFixedHeight(72)
        self.region = QLineEdit()
        self.region.setMaxLength(2)
        self.webhook_base = QLineEdit()
        self.webhook_base.setPlaceholderText(
            "optional: https://your-tunnel.example (in front of the listener)"
        )
        self.listener_port = QSpinBox()
        self.listener_port.setRange(0, 65535)
        self.listener_port.setSpecialValueText("any free port")
        self.make_active = QCheckBox("Use this profile now (the console restarts with it)")
        self.theme = QComboBox()
        self.theme.setObjectName("theme")
        for value, label in THEME_CHOICES:
            self.theme.addItem(label, value)
        self.theme.setCurrentIndex(max(0, self.theme.findData(settings.theme)))
        self.problems = QLabel()
        self.problems.setObjectName("warning")
        self.problems.setWordWrap(True)
        form.addRow("Name", self.name)
        form.addRow("Base URL", self.base_url)
        form.addRow("", self.url_warning)
        form.addRow("Account SID", self.account_sid)
        form.addRow("API key", self.api_key)
        form.addRow("", self.key_note)
        form.addRow("Caller IDs", self.caller_ids)
        form.addRow("Default region", self.region)
        form.addRow("Public webhook base", self.webhook_base)
        form.addRow("Listener port", self.listener_port)
        form.addRow("", self.make_active)
        form.addRow("Theme (all profiles)", self.theme)
        layout.addLayout(form)
        layout.addWidget(self.problems)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._on_save)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        index = next((i for i, p in enumerate(settings.profiles) if p.name == settings.active), 0)
        self.profile_picker.setCurrentIndex(index)
        self._on_profile_picked(index)

    def theme_setting(self) -> str:
        """The theme chosen: "light", "dark" or "system"."""
        return str(self.theme.currentData())

    def _current(self) -> Profile | None:
        index = self.profile_picker.currentIndex()
        return self._settings.profiles[index] if index < len(self._settings.profiles) else None

    def _on_profile_picked(self, index: int) -> None:
        profile = self._current() or Profile("", base_url="https://kaphila.com")
        self.name.setText(profile.name)
        self.name.setReadOnly(profile.sandbox)
        self.base_url.setText("(embedded sandbox)" if profile.sandbox else profile.base_url)
        self.base_url.setReadOnly(profile.sandbox)
        self.account_sid.setText(profile.account_sid)
        self.api_key.clear()
        stored = self._has_key.get(profile.name, False)
        self.api_key.setPlaceholderText("•••••••• stored" if stored else "paste the API key")
        self.key_note.setText(
            f"Kept in {self._key_location}; never shown again and never written to a file."
            + (" Type a new key to replace it." if stored else "")
        )
        self.caller_ids.setPlainText("\n".join(profile.caller_ids))
        self.region.setText(profile.default_region)
        self.webhook_base.setText(profile.public_webhook_base)
        self.listener_port.setValue(profile.listener_port)
        self.make_active.setChecked(profile.name == self._settings.active)
        self.problems.clear()

    def _on_base_url(self, text: str) -> None:
        url = text.strip()
        warning = wording.notice(PlainHttp(url)) if plain_http(url) else None
        self.url_warning.setText(f"⚠ {warning}" if warning else "")
        self.url_warning.setVisible(bool(warning))

    def profile(self) -> tuple[Profile | None, list[str]]:
        """The profile as entered, and what is wrong with it."""
        problems = []
        base = self._current() or Profile("")
        name = self.name.text().strip()
        if not name:
            problems.append("Give the profile a name.")
        elif self._current() is None and self._settings.profile(name) is not None:
            problems.append(f"A profile named {name!r} exists already.")
        caller_ids = []
        for line in self.caller_ids.toPlainText().splitlines():
            if not line.strip():
                continue
            check = check_number(line, self.region.text() or "US")
            digits = line.strip().lstrip("+")
            if check.ok:
                caller_ids.append(check.e164)
            elif base.sandbox and digits.isdigit() and 10 <= len(digits) <= 15:
                caller_ids.append("+" + digits)  # the sandbox verifies whatever it is given
            else:
                problems.append(f"Caller ID {line.strip()!r}: {wording.number_problem(check)}.")
        url = base.base_url if base.sandbox else self.base_url.text().strip().rstrip("/")
        if not base.sandbox and not url.startswith(("https://", "http://")):
            problems.append("The base URL must start with https://")
        if not base.sandbox and not self.api_key.text() and not self._has_key.get(name):
            problems.append("Paste the profile's API key.")
        if (key := self.api_key.text().strip()) and not sendable(key):
            problems.append(wording.KEY_UNSENDABLE)
        profile = replace(
            base,
            name=name,
            base_url=url,
            account_sid=self.account_sid.text().strip() or base.account_sid,
            caller_ids=tuple(caller_ids),
            default_region=(self.region.text().strip() or "US").upper(),
            public_webhook_base=self.webhook_base.text().strip(),
            listener_port=self.listener_port.value(),
        )
        return (None if problems else profile), problems

    def _on_save(self) -> None:
        profile, problems = self.profile()
        if profile is None:
            self.problems.setText("\n".join(problems))
            return
        key = self.api_key.text().strip() or None
        self.api_key.clear()  # the key leaves the widget at once
        if self.theme_setting() != self._settings.theme:
            apply_theme(self.theme_setting())  # at once; the console saves it with the profile
        self.saved.emit(profile, key, self.make_active.isChecked())
        self.accept()
