"""Child processes of the demo (and of the team benchmark): the gateway, the
supervisor's console window.

Each child runs in a process group of its own, so a Ctrl+C in the terminal
reaches the demo alone, and the demo stops its children in order (the window,
the desks, then the gateway, which drains and stops its own nats-server). On
Linux each child also gets SIGTERM from the kernel if the demo dies without
stopping it (``kill -9``): nothing is left behind holding a port or a store.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0  # a gateway drains (--drain-timeout) within this, else it is killed
PR_SET_PDEATHSIG = 1
READY = re.compile(r"Kaphila gateway listening on (http://\S+)")


def die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the thread that started it dies
    (Linux; start children from the main thread)."""
    if sys.platform != "linux":
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc; empty elsewhere)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def wait_gone(pids: list[int], timeout: float) -> bool:
    """Wait until none of ``pids`` runs (a zombie counts as gone); True if so."""
    deadline = time.monotonic() + timeout
    while True:
        running = [p for p in pids if _running(p)]
        if not running:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


class StartFailed(RuntimeError):
    """A child did not come up; the message ends with the tail of its log."""


class Child:
    """``argv`` in its own process group, stdout read for its first line, stderr
    to ``log_path``."""

    def __init__(
        self, argv: list[str], log_path: Path, env: Mapping[str, str] | None = None
    ) -> None:
        self.argv = argv
        self.log_path = log_path
        self._log: IO[str] = log_path.open("a", encoding="utf-8")
        self.killed = False  # stop() had to use SIGKILL
        self.proc = subprocess.Popen(  # noqa: S603 - our own Python, fixed arguments
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            process_group=0,
            preexec_fn=die_with_parent,  # one prctl call, no locks taken
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def first_line(self, timeout: float = START_TIMEOUT) -> str:
        """Its first stdout line (``""`` if it printed none in time); stdout is
        drained from then on so the child never blocks on a full pipe."""
        stdout = self.proc.stdout
        assert stdout is not None
        got: list[str] = []

        def read() -> None:
            got.append(stdout.readline())
            with contextlib.suppress(ValueError, OSError):
                for _ in stdout:
                    pass

        threading.Thread(target=read, name="child-stdout", daemon=True).start()
        waited = 0.0
        while not got and waited < timeout and self.alive:
            threading.Event().wait(0.02)
            waited += 0.02
        return got[0] if got else ""

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, then SIGKILL after ``timeout``; always reaped, and so are its
        own children (they get SIGTERM from the kernel when it dies: waited for
        here). The exit code."""
        grandchildren = children(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.killed = True
                self.proc.kill()
                self.proc.wait(timeout)
        wait_gone(grandchildren, timeout)
        if self.proc.stdout is not None:
            with contextlib.suppress(OSError):
                self.proc.stdout.close()
        self._log.close()
        return self.proc.returncode


class GatewayProcess(Child):
    """``python -m console.gateway`` in team mode: the account's key in its
    environment (never on its command line), its own nats-server under
    ``data`` unless ``nats_url`` is given, any free loopback port."""

    def __init__(
        self,
        *,
        upstream: str,
        upstream_key: str,
        secret: str,
        log_path: Path,
        data: Path | None = None,
        nats_url: str | None = None,
        drain_timeout: float = 5.0,
        extra: tuple[str, ...] = (),
    ) -> None:
        argv = [
            sys.executable,
            "-m",
            "console.gateway",
            "--upstream",
            upstream,
            "--port",
            "0",
            "--allow-loopback",
            "--drain-timeout",
            f"{drain_timeout:g}",
            *(("--nats", nats_url) if nats_url else ()),
            *(("--data", str(data)) if data is not None else ()),
            *extra,
        ]
        env = {"KAPHILA_UPSTREAM_KEY": upstream_key, "KAPHILA_GATEWAY_SECRET": secret}
        super().__init__(argv, log_path, env)
        self.url = ""

    def wait_ready(self, timeout: float = START_TIMEOUT) -> str:
        ready = READY.search(self.first_line(timeout))
        if ready is None:
            self.stop()
            raise StartFailed(f"the gateway did not start:\n{self.log_tail()}")
        self.url = ready[1].rstrip("/")
        return self.url
