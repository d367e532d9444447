"""Console settings: profiles round-trip, never hold a key, and bad files are kept aside."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from console.config import (
    SANDBOX_PROFILE,
    Profile,
    Settings,
    SettingsError,
    load,
    plain_http,
    save,
)
from console.core.notices import PlainHttp
from console.qt import wording


def test_settings_round_trip_through_the_file(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    live = Profile(
        "Acme live",
        base_url="https://kaphila.com",
        caller_ids=("+19876543210",),
        default_region="GB",
        last_caller_id="+19876543210",
    )
    settings = Settings(
        profiles=(Profile(SANDBOX_PROFILE, sandbox=True), live), active="Acme live", history_days=30
    )
    save(settings, path)
    assert load(path) == settings
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_a_profile_has_no_place_for_an_api_key() -> None:
    names = {f.lower() for f in Profile.__dataclass_fields__}
    assert not any(
        word in name for name in names for word in ("key", "token_secret", "password", "auth")
    )


def test_recent_numbers_are_most_recent_first_without_repeats() -> None:
    profile = Profile("p")
    for number in ("+1", "+2", "+1", "+3"):
        profile = profile.remember_number(number)
    assert profile.recent_numbers == ("+3", "+1", "+2")


def test_a_missing_file_gives_defaults(tmp_path: Path) -> None:
    assert load(tmp_path / "none.json") == Settings()


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("{not json", "Expecting property name"),
        ('{"version": 99}', "newer version of the console (v99)"),
        ('{"profiles": [{"nom": "x"}]}', "name"),
    ],
)
def test_an_unreadable_file_is_kept_aside_and_reported(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "settings.json"
    path.write_text(text)
    with pytest.raises(SettingsError) as raised:
        load(path)
    assert why in str(raised.value)
    assert not path.exists()
    assert (tmp_path / "settings.json.unreadable").read_text() == text


def test_unknown_fields_from_a_later_minor_version_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"version": 1, "profiles": [{"name": "p", "colour": "red"}]}))
    assert load(path).profile("p") == Profile("p")


@pytest.mark.parametrize(
    ("url", "warns"),
    [
        ("https://kaphila.com", False),
        ("http://127.0.0.1:8787", False),
        ("http://localhost:8787", False),
        ("http://10.0.0.5:3000", True),
        ("http://kaphila.example", True),
    ],
)
def test_plain_http_to_another_machine_gets_a_warning(url: str, warns: bool) -> None:
    assert plain_http(url) is warns
    if warns:
        assert "unencrypted" in wording.notice(PlainHttp(url))


def test_a_team_profile_round_trips_with_its_gateway_and_no_token(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    team = Profile("Night shift", base_url="https://gateway.example", team=True)
    save(Settings(profiles=(team,), active="Night shift"), path)
    text = path.read_text()
    assert load(path).profile() == team
    assert load(path).profile().kind == "team"  # type: ignore[union-attr]
    assert "kgo_" not in text


def test_settings_from_before_team_profiles_still_load(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    old = {"version": 1, "active": "Live", "profiles": [{"name": "Live", "base_url": "https://k"}]}
    path.write_text(json.dumps(old))
    profile = load(path).profile()
    assert profile is not None
    assert (profile.kind, profile.team, profile.base_url) == ("live", False, "https://k")
