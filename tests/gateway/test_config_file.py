"""``kaphila-gateway --config FILE``: a TOML file of the serve flags' settings,
flags winning over it, every mistake one line naming the key; the account's key
refused there. The shipped example and systemd unit (packaging/) are read by
the real loader and parser here, so they cannot drift from the code."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest

from console.gateway.__main__ import (
    FILE_TYPES,
    SERVE_DEFAULTS,
    UPSTREAM_KEY_CREDENTIAL,
    build_parser,
    config_file,
    config_from_args,
    main,
)
from console.gateway.config import DEFAULT_DRAIN_TIMEOUT, GatewayConfig

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "packaging" / "gateway.toml.example"
UNIT = ROOT / "packaging" / "systemd" / "kaphila-gateway.service"


def load(*argv: str, environ: dict[str, str] | None = None) -> GatewayConfig:
    return config_from_args(build_parser().parse_args(list(argv)), environ or {})


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    return path


def test_settings_come_from_the_file_and_flags_win(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'upstream = "https://k.example/"\nport = 9000\nlog-format = "json"\n'
        'log_level = "debug"\ndrain-timeout = 5\nallow-loopback = true\n'
        'secret-file = "secret"\ntimezone = "Europe/Paris"\n',
    )
    config = load("--config", str(path))
    assert (config.upstream, config.port, config.log_format) == ("https://k.example", 9000, "json")
    assert (config.log_level, config.drain_timeout, config.allow_loopback) == ("DEBUG", 5.0, True)
    assert config.secret_file == tmp_path / "secret"  # relative to the file's folder
    assert config.timezone == "Europe/Paris"
    flags = load("--port", "0", "serve", "--config", str(path), "--log-format", "text")
    assert (flags.port, flags.log_format, flags.drain_timeout) == (0, "text", 5.0)
    assert load("--upstream", "http://127.0.0.1:1").drain_timeout == DEFAULT_DRAIN_TIMEOUT


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("prot = 8788", "unknown key 'prot' (known: upstream, nats, data, host, port,"),
        ('port = "8788"', "port must be an integer, not '8788'"),
        ("port = true", "port must be an integer, not True"),
        ("ack-wait = 'soon'", "ack-wait must be a number, not 'soon'"),
        ("allow-loopback = 1", "allow-loopback must be true or false, not 1"),
        ("data = 5", "data must be a path (a string), not 5"),
        ('log-format = "xml"', "log-format must be text or json, not 'xml'"),
        ('log-level = "loud"', "log-level must be one of DEBUG, INFO, WARNING, ERROR"),
        ("[server]\nport = 1", "unknown key 'server'"),
        ("port = 1\nport = 2", "is not valid TOML"),
        ("log-level = 'INFO'\nlog_level = 'DEBUG'", "log_level is given twice"),
    ],
)
def test_a_mistake_is_one_line_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, words: str
) -> None:
    path = write(tmp_path, 'upstream = "https://k.example"\n' + text + "\n")
    assert main(["--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("kaphila-gateway: ")
    assert str(path) in err
    assert words in err


@pytest.mark.parametrize("key", ["upstream-key", "upstream_key"])
def test_the_account_key_is_refused_in_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str
) -> None:
    path = write(tmp_path, f'upstream = "https://k.example"\n{key} = "ak_live_secret_123"\n')
    assert main(["--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"{key}: the account's key is not accepted in a config file" in err
    assert "upstream-key-file" in err
    assert UPSTREAM_KEY_CREDENTIAL in err
    assert "ak_live_secret_123" not in err


def test_a_missing_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.toml"
    assert main(["--config", str(missing)]) == 2
    assert capsys.readouterr().err == (
        f"kaphila-gateway: cannot read the config file {missing}: No such file or directory\n"
    )


def test_every_serve_setting_may_come_from_a_file() -> None:
    assert set(FILE_TYPES) == set(SERVE_DEFAULTS)


def test_the_example_is_read_by_the_real_loader_and_documents_every_key(tmp_path: Path) -> None:
    config = load("--config", str(EXAMPLE))
    assert (config.upstream, config.public_url) == (
        "https://kaphila.com",
        "https://voice.example.com",
    )
    assert (config.host, config.port, config.log_format) == ("0.0.0.0", 8788, "json")  # noqa: S104
    assert config.drain_timeout == DEFAULT_DRAIN_TIMEOUT
    assert config.upstream_key is None
    # Each commented-out setting, once uncommented, is accepted too; together
    # with the set ones they are every key there is.
    text = EXAMPLE.read_text()
    uncommented = re.sub(r"(?m)^# ([a-z_-]+ = )", r"\1", text)
    assert uncommented != text
    keys = {k.replace("-", "_") for k in tomllib.loads(uncommented)}
    assert keys == set(FILE_TYPES)
    assert set(config_file(write(tmp_path, uncommented))) == set(FILE_TYPES)
    explained = False  # every setting is in a block that a comment opens
    for line in text.splitlines():
        if re.match(r"(# )?[a-z_-]+ = ", line):
            assert explained, line
        elif line.startswith("#"):
            explained = True
        elif not line.strip():
            explained = False


def unit() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def test_the_unit_loads_the_key_as_a_credential_and_holds_none() -> None:
    settings = unit()
    assert settings["LoadCredential"] == [
        f"{UPSTREAM_KEY_CREDENTIAL}:/etc/kaphila-gateway/upstream-key"
    ]
    text = UNIT.read_text()
    assert "KAPHILA_UPSTREAM_KEY" not in text
    assert "--upstream-key " not in text
    assert "upstream-key=" not in text
    assert "Environment" not in settings
    assert "EnvironmentFile" not in settings
    assert "ak_" not in text


def test_the_units_command_line_runs_with_the_example_config() -> None:
    settings = unit()
    (exec_start,) = settings["ExecStart"]
    argv = shlex.split(exec_start.replace("${STATE_DIRECTORY}", "/var/lib/kaphila-gateway"))
    assert argv[0] == "/opt/kaphila-console/.venv/bin/kaphila-gateway"  # [project.scripts]
    assert (
        'kaphila-gateway = "console.gateway.__main__:main"' in (ROOT / "pyproject.toml").read_text()
    )
    assert argv[1:3] == ["--config", "/etc/kaphila-gateway/gateway.toml"]
    config = load("--config", str(EXAMPLE), *argv[3:])
    assert config.data == Path("/var/lib/kaphila-gateway")
    assert (settings["KillSignal"], settings["KillMode"]) == (["SIGTERM"], ["mixed"])
    assert float(settings["TimeoutStopSec"][0]) > config.drain_timeout + 10
    assert settings["Restart"] == ["on-failure"]
    for hardening in ("NoNewPrivileges", "ProtectSystem", "DynamicUser", "StateDirectory"):
        assert hardening in settings
    assert settings["ProtectSystem"] == ["strict"]
