"""Team mode's settings: the account key comes from the environment, a file or
systemd's credential, never from a flag value; it never shows in the config's
repr; a bad time zone or key is one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from console.gateway.__main__ import build_parser, config_from_args, upstream_key
from console.gateway.config import ConfigError, GatewayConfig
from console.sandbox import SandboxThread
from tests.gateway.processes import GatewayProcess
from tests.helpers import TEST_KEY

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


def test_operators_added_while_the_gateway_runs_on_its_own_store_work_at_once(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    """``operators add --data DIR`` while the gateway on DIR runs: the CLI uses
    that gateway's nats-server (the store is locked by it), and the new token
    works at once."""
    env = {**os.environ, "KAPHILA_UPSTREAM_KEY": TEST_KEY}
    gateway = GatewayProcess(
        upstream=sandbox.url, nats_url="", secret="", log_path=tmp_path / "gw.log"
    )
    gateway.argv = [
        sys.executable,
        "-m",
        "console.gateway",
        "--upstream",
        sandbox.url,
        "--data",
        str(tmp_path / "data"),
        "--port",
        "0",
        "--allow-loopback",
    ]
    gateway.env = env
    gateway.start()
    try:
        gateway.wait_ready()
        added = subprocess.run(
            [
                sys.executable,
                "-m",
                "console.gateway",
                "operators",
                "add",
                "nia",
                "--data",
                str(tmp_path / "data"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert added.returncode == 0, added.stderr
        token = added.stdout.strip().splitlines()[-1]
        deadline = time.monotonic() + 5
        while True:
            answer = requests.get(
                gateway.url + "/team/me", headers={"Authorization": f"Bearer {token}"}, timeout=5
            )
            if answer.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert answer.status_code == 200, answer.text
        assert answer.json()["operator"] == "nia"
    finally:
        gateway.stop()
