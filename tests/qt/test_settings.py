"""The settings dialog: the key is entered once, stored only in the secret store, never shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from console.config import SANDBOX_PROFILE, Profile, Settings
from console.qt.settings_dialog import SettingsDialog
from tests.qt.conftest import Running

SETTINGS = Settings(
    profiles=(Profile(SANDBOX_PROFILE, sandbox=True, caller_ids=("+19876543210",)),),
    active=SANDBOX_PROFILE,
)


def new_live_profile(dialog: SettingsDialog) -> None:
    dialog.profile_picker.setCurrentIndex(dialog.profile_picker.count() - 1)
    dialog.name.setText("Acme live")
    dialog.base_url.setText("https://kaphila.com")
    dialog.api_key.setText("ak_typed_once_0123456789")
    dialog.caller_ids.setPlainText("+1 415 555 0134\n")


def test_a_new_live_profile_is_emitted_with_its_key(qtbot: Any) -> None:
    dialog = SettingsDialog(SETTINGS, "the OS keyring", {SANDBOX_PROFILE: True})
    qtbot.addWidget(dialog)
    new_live_profile(dialog)
    with qtbot.waitSignal(dialog.saved) as saved:
        dialog._on_save()
    profile, key, activate = saved.args
    assert profile.name == "Acme live"
    assert profile.caller_ids == ("+14155550134",)
    assert key == "ak_typed_once_0123456789"
    assert activate is False
    assert dialog.api_key.text() == ""  # the key leaves the widget at once


def test_the_key_field_is_masked_and_a_stored_key_is_never_shown(qtbot: Any) -> None:
    settings = Settings(profiles=(Profile("Live", base_url="https://kaphila.com"),), active="Live")
    dialog = SettingsDialog(settings, "the OS keyring (SecretService)", {"Live": True})
    qtbot.addWidget(dialog)
    assert dialog.api_key.echoMode() == dialog.api_key.EchoMode.Password
    assert dialog.api_key.text() == ""
    assert dialog.api_key.placeholderText() == "•••••••• stored"
    assert "never written to a file" in dialog.key_note.text()


def test_plain_http_to_another_machine_shows_a_warning(qtbot: Any) -> None:
    dialog = SettingsDialog(SETTINGS, "the OS keyring", {})
    qtbot.addWidget(dialog)
    new_live_profile(dialog)
    dialog.base_url.setText("http://203.0.113.9:3000")
    assert "unencrypted" in dialog.url_warning.text()
    dialog.base_url.setText("https://kaphila.com")
    assert dialog.url_warning.text() == ""


def test_problems_are_listed_and_nothing_is_saved(qtbot: Any) -> None:
    dialog = SettingsDialog(SETTINGS, "the OS keyring", {})
    qtbot.addWidget(dialog)
    dialog.profile_picker.setCurrentIndex(dialog.profile_picker.count() - 1)
    dialog.name.setText(SANDBOX_PROFILE)
    dialog.base_url.setText("kaphila.com")
    dialog.caller_ids.setPlainText("12")
    emitted: list[object] = []
    dialog.saved.connect(lambda *args: emitted.append(args))
    dialog._on_save()
    assert emitted == []
    text = dialog.problems.text()
    assert "exists already" in text
    assert "must start with https://" in text
    assert "Caller ID '12'" in text
    assert "Paste the profile's API key" in text


async def test_saving_stores_the_key_in_the_store_and_never_in_the_config_file(
    running: Running, tmp_path: Path
) -> None:
    console = running.console
    message = await console.save_profile(
        Profile("Acme live", base_url="https://kaphila.com", caller_ids=("+14155550134",)),
        "ak_typed_once_0123456789",
        activate=True,
    )
    assert message == "Switching to 'Acme live'…"
    assert console.store.get("Acme live") == "ak_typed_once_0123456789"
    assert console.settings_path is not None
    text = console.settings_path.read_text()
    assert "Acme live" in text
    assert "ak_typed_once" not in text
    assert console.store.get(SANDBOX_PROFILE) not in text


def test_a_key_with_a_line_break_is_refused_where_it_is_typed(qtbot: Any) -> None:
    dialog = SettingsDialog(SETTINGS, "the OS keyring", {SANDBOX_PROFILE: True})
    qtbot.addWidget(dialog)
    new_live_profile(dialog)
    dialog.api_key.setText("ak_live_secret\r\nX-Injected: 1")
    emitted: list[object] = []
    dialog.saved.connect(lambda *args: emitted.append(args))
    dialog._on_save()
    assert emitted == []
    assert "line break" in dialog.problems.text()
    assert "ak_live_secret" not in dialog.problems.text()


def test_the_sandbox_profile_accepts_its_own_demo_caller_ids(qtbot: Any) -> None:
    from console.sandbox.config import DEMO_CALLER_IDS

    dialog = SettingsDialog(SETTINGS, "the OS keyring", {SANDBOX_PROFILE: True})
    qtbot.addWidget(dialog)
    dialog.caller_ids.setPlainText("\n".join("+" + c for c in DEMO_CALLER_IDS))
    profile, problems = dialog.profile()
    assert problems == []
    assert profile is not None
    assert profile.caller_ids == tuple("+" + c for c in DEMO_CALLER_IDS)
