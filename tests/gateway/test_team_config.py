"""Team mode's settings: the account key comes from the environment, a file or
systemd's credential, never from a flag value; it never shows in the config's
repr; a bad time zone or key is one clear line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from console.gateway.__main__ import build_parser, config_from_args, upstream_key
from console.gateway.config import ConfigError, GatewayConfig

KEY = "ak_live_team_0123456789"


def config(argv: list[str], environ: dict[str, str]) -> GatewayConfig:
    return config_from_args(build_parser().parse_args(argv), environ)


def test_the_key_comes_from_the_environment_a_file_or_the_credential(tmp_path: Path) -> None:
    base = ["--upstream", "https://kaphila.example"]
    assert config(base, {}).upstream_key is None
    assert not config(base, {}).team
    assert config(base, {"KAPHILA_UPSTREAM_KEY": KEY}).upstream_key == KEY
    secret = tmp_path / "upstream-key"
    secret.write_text(KEY + "\n")
    assert config([*base, "--upstream-key-file", str(secret)], {}).upstream_key == KEY
    credentials = tmp_path / "creds"
    credentials.mkdir()
    (credentials / "kaphila-upstream-key").write_text(KEY)
    found = config(base, {"CREDENTIALS_DIRECTORY": str(credentials)})
    assert found.upstream_key == KEY
    assert found.team
    assert KEY not in repr(found)


def test_an_unreadable_or_empty_key_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the --upstream-key-file"):
        upstream_key(tmp_path / "missing", {})
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        config(["--upstream", "https://k.example", "--upstream-key-file", str(empty)], {})


def test_a_time_zone_is_checked() -> None:
    base = ["--upstream", "https://kaphila.example"]
    assert config([*base, "--timezone", "Europe/Paris"], {}).timezone == "Europe/Paris"
    with pytest.raises(ConfigError, match="is not a time zone name"):
        config([*base, "--timezone", "Mars/Olympus"], {})


def test_there_is_no_flag_that_takes_the_key_itself() -> None:
    """Another user of the host reads a process's command line: no --upstream-key."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "console.gateway",
            "--upstream",
            "https://k.example",
            "--upstream-key",
            KEY,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert "never taken on the command line" in done.stderr
    assert KEY not in done.stderr
