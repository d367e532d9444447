"""``kaphila-gateway`` / ``python -m console.gateway``: the ready line, a clean stop
on SIGTERM, and one clear line for each way it cannot start."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from console.gateway.__main__ import build_parser, config_from_args, main
from console.sandbox import SandboxThread

READY = re.compile(r"Kaphila gateway listening on (http://127\.0\.0\.1:\d+)\n")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_it_prints_the_ready_line_serves_and_stops_on_sigterm(
    sandbox: SandboxThread, tmp_path: Path
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "console.gateway", "--upstream", sandbox.url, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "KAPHILA_GATEWAY_SECRET": "A" * 43},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        ready = READY.fullmatch(line)
        assert ready, line
        url = ready[1]
        assert requests.get(url + "/readyz", timeout=5).json() == {"success": True, "ready": True}
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    pid = re.search(r"started nats-server \(pid (\d+)\)", err)
    assert pid, err
    with pytest.raises(ProcessLookupError):  # our nats-server went with us
        os.kill(int(pid[1]), 0)
    assert "Traceback" not in err


def test_flags_may_come_before_or_after_serve() -> None:
    parser = build_parser()
    for argv in (
        ["--port", "0", "serve", "--upstream", "http://127.0.0.1:1"],
        ["serve", "--upstream", "http://127.0.0.1:1", "--port", "0"],
        ["--upstream", "http://127.0.0.1:1", "--port", "0"],
    ):
        config = config_from_args(parser.parse_args(argv))
        assert (config.upstream, config.port, config.host) == ("http://127.0.0.1:1", 0, "127.0.0.1")
    config = config_from_args(
        parser.parse_args(["--upstream", "https://k.example/", "--allow-loopback"])
    )
    assert (config.upstream, config.allow_loopback, config.speech_rate) == (
        "https://k.example",
        True,
        15.0,
    )


def _fails(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err  # one line
    assert err.startswith("kaphila-gateway: ")
    return code, err


def test_upstream_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _fails(capsys, "--port", "0")
    assert code == 2
    assert "--upstream URL is required" in err


@pytest.mark.parametrize("url", ["ftp://kaphila.com", "kaphila.com", "http://"])
def test_an_upstream_that_is_not_http_is_refused(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    code, err = _fails(capsys, "--upstream", url)
    assert code == 2
    assert "--upstream must be an http(s) URL" in err


def test_a_taken_port_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, err = _fails(capsys, "--upstream", "http://127.0.0.1:1", "--port", str(port))
    assert code == 1
    assert f"port {port} on 127.0.0.1 is already in use; choose another with --port" in err


def test_an_unreachable_nats_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    nats_url = f"nats://127.0.0.1:{_free_port()}"
    code, err = _fails(
        capsys, "--upstream", "http://127.0.0.1:1", "--port", "0", "--nats", nats_url
    )
    assert code == 1
    assert f"cannot reach NATS at {nats_url}" in err


def test_a_missing_nats_server_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    code, err = _fails(capsys, "--upstream", "http://127.0.0.1:1", "--port", "0")
    assert code == 1
    assert "no nats-server found" in err


def test_a_bad_secret_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAPHILA_GATEWAY_SECRET", "c2hvcnQ")
    code, err = _fails(capsys, "--upstream", "http://127.0.0.1:1", "--port", "0")
    assert code == 1
    assert "KAPHILA_GATEWAY_SECRET holds 5 bytes" in err
    assert "c2hvcnQ" not in err


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text()
        found.update(int(p) for p in text.split())
    return found


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's")
def test_a_gateway_killed_with_9_takes_its_own_nats_server_with_it(
    sandbox: SandboxThread, tmp_path: Path
) -> None:
    """Left running, an orphaned nats-server keeps the store's lock and the next
    start on the same --data fails."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "console.gateway", "--upstream", sandbox.url, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "KAPHILA_GATEWAY_SECRET": "A" * 43},
    )
    try:
        assert proc.stdout is not None
        assert READY.fullmatch(proc.stdout.readline())
        (server,) = _children(proc.pid)
        assert "nats-server" in Path(f"/proc/{server}/cmdline").read_text()
        proc.kill()
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{server}").exists() and _state(server) != "Z":
            assert time.monotonic() < deadline, "nats-server outlived its gateway"
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return "X"
