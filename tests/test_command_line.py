"""``kaphila-console`` / ``python -m console`` on the command line: the options a
user tries first, and a clear message instead of a Qt abort without a display."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest


def console(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    return subprocess.run(
        [sys.executable, "-m", "console", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_version_comes_from_the_package_metadata() -> None:
    done = console("--version")
    assert done.returncode == 0
    assert done.stdout == f"kaphila-console {importlib.metadata.version('kaphila-console')}\n"


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_names_every_option(flag: str) -> None:
    done = console(flag)
    assert done.returncode == 0
    for option in ("--self-check", "--version", "--help"):
        assert option in done.stdout


def test_without_a_display_it_says_what_to_do_instead_of_aborting() -> None:
    done = console()
    assert done.returncode == 2
    assert "no display found" in done.stderr
    assert "QT_QPA_PLATFORM=offscreen" in done.stderr


def test_qt_options_are_passed_on_to_qt(tmp_path: Path) -> None:
    done = console(
        "-platform",
        "offscreen",
        KAPHILA_STARTUP_PROBE="1",
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "READY"
