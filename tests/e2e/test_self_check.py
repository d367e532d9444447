"""``python -m console --self-check``: the check a frozen build runs, run here
on the source tree (the packaging test runs it on the build)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKS = ("keyring", "fonts", "icu", "sqlite", "qt", "call")


def run_self_check(command: list[str], home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        **env,
    }
    environment.pop("DISPLAY", None)
    return subprocess.run(
        [*command, "--self-check"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.e2e
def test_the_self_check_passes_and_prints_one_line_per_check(tmp_path: Path) -> None:
    done = run_self_check(
        [sys.executable, "-m", "console"],
        tmp_path,
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout + done.stderr
    assert [line.split()[1].rstrip(":") for line in lines] == list(CHECKS)
    assert all(line.startswith("ok ") for line in lines)
    assert "keys kept for the session only" in lines[0]  # the no-keyring path says so
    assert not (tmp_path / "data").exists()  # the user's own history is not touched
