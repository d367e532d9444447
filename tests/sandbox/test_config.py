"""Configuration from TOML and flags, the demo account, and the command line."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from console.sandbox.__main__ import build_parser, config_from_args
from console.sandbox.config import (
    DEMO_CALLER_IDS,
    Account,
    ConfigError,
    SandboxConfig,
    load_toml,
    parse_account_flag,
)

GOOD_TOML = """
[sandbox]
port = 9100
time_scale = 10
rate_limit = 5

[[accounts]]
name = "acme"
key = "ak_acme_0001"
caller_ids = ["19876543210", "15550001000"]
credits = 42

[faults]
drop = 0.25
error = { rate = 1.0, count = 2 }
delay_ms = 100
"""


def test_a_toml_file_sets_accounts_settings_and_faults(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.toml"
    path.write_text(GOOD_TOML)
    config = load_toml(path)
    assert (config.port, config.time_scale, config.rate_limit) == (9100, 10.0, 5.0)
    assert config.accounts == [Account("ak_acme_0001", ("19876543210", "15550001000"), 42, "acme")]
    assert config.faults.drop.rate == 0.25
    assert (config.faults.error.rate, config.faults.error.count) == (1.0, 2)
    assert config.faults.delay_ms == 100


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[sandbox\n", "is not valid TOML"),
        ("[sandbox]\nwarp = 9\n", "unknown setting [sandbox].warp"),
        ("[sandbox]\nport = 'high'\n", "[sandbox].port must be of type int"),
        ("[sandbox]\ntime_scale = 0\n", "time_scale must be greater than 0"),
        ("[[accounts]]\nkey = 'a'\ncaller_ids = ['+1555']\n", "is not 10-15 digits"),
        ("[[accounts]]\nkey = 'a'\n[[accounts]]\nkey = 'a'\n", "two accounts share one API key"),
        ("[[accounts]]\ncaller_ids = []\n", "key must be a string"),
        ("[faults]\ndrop = 3\n", "[faults]: drop: rate must be between 0 and 1"),
    ],
)
def test_a_bad_toml_file_says_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "sandbox.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_toml(path)


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_toml(tmp_path / "nope.toml")


def test_account_flags() -> None:
    assert parse_account_flag("ak_x:19876543210,15550001000:7") == Account(
        "ak_x", ("19876543210", "15550001000"), 7, "ak_x"
    )
    assert parse_account_flag("ak_y:19876543210").credits == 1000
    for bad in ("ak_x", "ak_x:19876543210:lots", ":19876543210"):
        with pytest.raises(ConfigError):
            parse_account_flag(bad)


def test_flags_override_the_file(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.toml"
    path.write_text(GOOD_TOML)
    args = build_parser().parse_args(
        [
            "--config",
            str(path),
            "--port",
            "0",
            "--account",
            "ak_b:15550002000:3",
            "--fault",
            "duplicate=0.5:4",
            "--stall-ms",
            "10",
        ]
    )
    config = config_from_args(args)
    assert config.port == 0
    assert [a.key for a in config.accounts] == ["ak_acme_0001", "ak_b"]
    assert (config.faults.duplicate.rate, config.faults.duplicate.count) == (0.5, 4)
    assert config.faults.drop.rate == 0.25
    assert config.faults.stall_ms == 10
    with pytest.raises(ConfigError, match="--fault"):
        config_from_args(build_parser().parse_args(["--fault", "melt=1"]))


def test_extra_host_names_from_the_file_and_flags(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.toml"
    path.write_text('[sandbox]\nallowed_hosts = ["box.lan"]\n')
    assert load_toml(path).allowed_hosts == ("box.lan",)
    args = build_parser().parse_args(["--config", str(path), "--allow-host", "other.lan"])
    assert config_from_args(args).allowed_hosts == ("box.lan", "other.lan")
    for text, message in [
        ("allowed_hosts = 'box.lan'", "must be of type tuple"),
        ("allowed_hosts = ['a b']", "is not a host name"),
    ]:
        path.write_text(f"[sandbox]\n{text}\n")
        with pytest.raises(ConfigError, match=re.escape(message)):
            load_toml(path)


def test_request_timeout_from_the_file_and_flags(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.toml"
    path.write_text("[sandbox]\nrequest_timeout = 3\n")
    assert load_toml(path).request_timeout == 3.0
    args = build_parser().parse_args(["--config", str(path), "--request-timeout", "2.5"])
    assert config_from_args(args).request_timeout == 2.5
    path.write_text("[sandbox]\nrequest_timeout = 0\n")
    with pytest.raises(ConfigError, match="request_timeout must be more than 0"):
        load_toml(path)


def test_with_no_account_a_demo_account_is_created() -> None:
    first = SandboxConfig().with_demo_account().accounts
    second = SandboxConfig().with_demo_account().accounts
    assert len(first) == 1
    assert first[0].key.startswith("ak_sandbox_")
    assert first[0].key != second[0].key, "demo keys are random per run"
    assert first[0].caller_ids == DEMO_CALLER_IDS


# ------------------------------------------------------------------ the real command


def start_cli(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "console.sandbox", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_the_command_prints_url_key_and_caller_ids_serves_and_stops_on_ctrl_c() -> None:
    proc = start_cli("--port", "0", "--time-scale", "50")
    try:
        assert proc.stdout is not None
        banner = [proc.stdout.readline() for _ in range(4)]
        url = re.search(r"listening on (http://\S+)", banner[0])
        key = re.search(r"API key (ak_sandbox_\w+)", banner[1])
        assert url, banner
        assert key, banner
        assert "19876543210" in banner[2]
        response = requests.post(
            url.group(1) + "/makecall",
            timeout=5,
            headers={"Authorization": f"Bearer {key.group(1)}"},
            json={"number": "15551230000", "callerId": "19876543210"},
        )
        assert response.status_code == 200
        assert response.json()["credits"] == 999
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "stopping the sandbox" in out
    assert "Traceback" not in err


def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = start_cli("--port", str(port))
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use; choose another with --port" in err


def test_a_bad_config_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[sandbox]\nwarp = 9\n")
    proc = start_cli("--config", str(path))
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert err.strip() == f"kaphila-sandbox: {path}: unknown setting [sandbox].warp"
