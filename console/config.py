"""Profiles and settings, in ``settings.json`` in the user's config directory.

A profile is where the console places calls: the embedded **Sandbox** (the
default, so a new user can dial at once), a live Kaphila account, or a
**Team**: a call center's gateway (``base_url``) with this desk's operator
token (docs/TEAM.md). Nothing here ever holds an API key or a token: they
live in the OS keyring (``services.secrets``), under the profile's name.
Files are written atomically (temp file + rename), and a file that cannot be
read is kept aside, never overwritten.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import platformdirs

from console.core.notices import SettingsUnreadable

log = logging.getLogger("kaphila.console.config")

APP_NAME = "kaphila-console"
SCHEMA_VERSION = 1
SANDBOX_PROFILE = "Sandbox"
RECENT_LIMIT = 20
THEMES = ("light", "dark", "system")  # "system" follows the desktop (console.qt.theme)


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


ProfileKind = Literal["sandbox", "live", "team"]


@dataclass(frozen=True)
class Profile:
    name: str
    sandbox: bool = False
    base_url: str = ""  # Kaphila's API, or a Team profile's gateway
    team: bool = False  # a team's gateway: the keyring holds the operator token
    account_sid: str = "AC" + "0" * 32
    caller_ids: tuple[str, ...] = ()
    default_region: str = "US"
    public_webhook_base: str = ""  # e.g. a tunnel in front of the listener
    listener_port: int = 0  # 0: any free port
    webhook_token: str = ""  # capability token in the listener URL (not an API key)
    last_caller_id: str = ""
    amd: bool = True
    voice: str = "en-US-Neural2-A"
    ring_timeout: int = 30
    recent_numbers: tuple[str, ...] = ()

    @property
    def kind(self) -> ProfileKind:
        return "sandbox" if self.sandbox else "team" if self.team else "live"

    def remember_number(self, number: str) -> Profile:
        recent = (number, *(n for n in self.recent_numbers if n != number))
        return replace(self, recent_numbers=recent[:RECENT_LIMIT])


@dataclass(frozen=True)
class Settings:
    profiles: tuple[Profile, ...] = ()
    active: str = SANDBOX_PROFILE
    history_days: int = 0  # 0: keep forever
    theme: str = "system"  # one of THEMES
    version: int = SCHEMA_VERSION

    def profile(self, name: str | None = None) -> Profile | None:
        wanted = name or self.active
        return next((p for p in self.profiles if p.name == wanted), None)

    def with_profile(self, profile: Profile) -> Settings:
        others = tuple(p for p in self.profiles if p.name != profile.name)
        return replace(self, profiles=(*others, profile))


class SettingsError(Exception):
    """Settings that cannot be used; ``notice`` says what happened (the file is
    kept aside, never overwritten)."""

    def __init__(self, notice: SettingsUnreadable) -> None:
        super().__init__(f"{notice.path}: {notice.detail}; kept as {notice.kept_as}")
        self.notice = notice


def plain_http(url: str) -> bool:
    """True when an API key would travel in clear text to another machine."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        return False
    host = (parts.hostname or "").lower()
    if host in ("localhost", ""):
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def webhook_hosts(profile: Profile) -> tuple[str, ...]:
    """Host names the profile's webhooks may be addressed to besides this machine's
    own (the public webhook host, e.g. a tunnel in front of the listener)."""
    host = urlsplit(profile.public_webhook_base).hostname if profile.public_webhook_base else None
    return (host.lower(),) if host else ()


def load(path: Path | None = None) -> Settings:
    """Read the settings; a missing file gives the defaults. A file that cannot
    be read is moved aside (``settings.json.unreadable``) and reported."""
    path = path or config_dir() / "settings.json"
    if not path.exists():
        return Settings()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return _from_json(data)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        aside = path.with_name(path.name + ".unreadable")
        with contextlib.suppress(OSError):
            os.replace(path, aside)
        raise SettingsError(SettingsUnreadable(str(path), aside.name, str(exc))) from exc


def save(settings: Settings, path: Path | None = None) -> None:
    path = path or config_dir() / "settings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_to_json(settings), indent=2, sort_keys=True)
    fd, tmp = tempfile.mkstemp(prefix=".settings-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _to_json(settings: Settings) -> dict[str, Any]:
    data = asdict(settings)
    data["profiles"] = [asdict(p) for p in settings.profiles]
    return data


_PROFILE_FIELDS = {f.name for f in fields(Profile)}


def _from_json(data: Any) -> Settings:
    if not isinstance(data, dict):
        raise ValueError("the file is not a JSON object")
    version = data.get("version", SCHEMA_VERSION)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise ValueError(f"it was written by a newer version of the console (v{version})")
    profiles = []
    for raw in data.get("profiles", []):
        known = {k: v for k, v in raw.items() if k in _PROFILE_FIELDS}
        for name in ("caller_ids", "recent_numbers"):
            if name in known:
                known[name] = tuple(str(x) for x in known[name])
        profiles.append(Profile(**known))
    theme = data.get("theme", "system")
    return Settings(
        profiles=tuple(profiles),
        active=str(data.get("active", SANDBOX_PROFILE)),
        history_days=int(data.get("history_days", 0)),
        theme=theme if theme in THEMES else "system",
    )
