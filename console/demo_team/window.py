"""The supervisor's console window, pointed at the demo's gateway.

The window is a plain ``python -m console`` in another process (the demo never
imports Qt), with settings and history of its own under the demo's temporary
folder, so the user's profiles and history are never touched. Its settings
hold one Team profile (the gateway's URL); its operator token is handed over
in memory (``handed_keyring``), so the user's OS keyring never holds a
throwaway token either.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from console import config
from console.config import Profile, Settings
from console.demo_team.handed_keyring import hand_over
from console.demo_team.processes import Child

PROFILE = "Team demo"
NO_DISPLAY = "no display: run it on a desktop, or under xvfb-run"


@dataclass(frozen=True)
class Launched:
    child: Child | None
    reason: str = ""  # why no window, when ``child`` is None


def has_display() -> bool:
    return bool(
        os.environ.get("DISPLAY")
        or os.environ.get("WAYLAND_DISPLAY")
        or os.environ.get("QT_QPA_PLATFORM")
    )


def prepare(
    home: Path, gateway_url: str, token: str, caller_ids: tuple[str, ...]
) -> dict[str, str]:
    """A console home with one Team profile for ``gateway_url``, the token handed
    over; the environment a console started on it needs."""
    (home / "config" / config.APP_NAME).mkdir(parents=True, exist_ok=True)
    (home / "data").mkdir(parents=True, exist_ok=True)
    profile = Profile(PROFILE, base_url=gateway_url, team=True, caller_ids=caller_ids)
    config.save(
        Settings(profiles=(profile,), active=PROFILE),
        home / "config" / config.APP_NAME / "settings.json",
    )
    return {
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        **hand_over(home / "token.json", {PROFILE: token}),
    }


def launch(gateway_url: str, token: str, home: Path, caller_ids: tuple[str, ...]) -> Launched:
    """Start a console window on a Team profile for ``gateway_url`` with the
    supervisor's ``token``; or say why not."""
    if not has_display():
        return Launched(None, NO_DISPLAY)
    env = prepare(home, gateway_url, token, caller_ids)
    return Launched(Child([sys.executable, "-m", "console"], home / "console.log", env))
