"""Real processes for the resilience tests: gateways as subprocesses (so one can
be killed with SIGKILL, as a crash or an OOM kill would), and a loopback
round-robin load balancer in front of them (the one public URL Kaphila posts
to, as in a deployment), plus a look at what the sandbox and the stream hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import nats
import requests

from console.gateway import wire

READY = re.compile(r"Kaphila gateway listening on (http://127\.0\.0\.1:(\d+))")
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


class GatewayProcess:
    """``python -m console.gateway`` in its own process; ``url`` once started.

    Its log goes to ``log_path`` (read it when a test fails)."""

    def __init__(
        self,
        *,
        upstream: str,
        nats_url: str,
        secret: str,
        log_path: Path,
        ack_wait: float = 2.0,
        port: int = 0,
        public_url: str | None = None,
        log_level: str = "INFO",
        extra_args: list[str] | None = None,
    ) -> None:
        self.argv = [
            sys.executable,
            "-m",
            "console.gateway",
            "--upstream",
            upstream,
            "--nats",
            nats_url,
            "--port",
            str(port),
            "--allow-loopback",
            "--ack-wait",
            f"{ack_wait:g}",
            "--log-level",
            log_level,
        ]
        if public_url:
            self.argv += ["--public-url", public_url]
        self.argv += extra_args or []
        self.env = {**os.environ, "KAPHILA_GATEWAY_SECRET": secret}
        self.log_path = log_path
        self.proc: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None
        self.url = ""
        self.port = 0

    def start(self) -> None:
        """Spawn it; ``wait_ready`` reads its ready line (start several, then wait)."""
        self._log = self.log_path.open("a")
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env=self.env,
        )

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        assert self.proc is not None
        stdout = self.proc.stdout
        assert stdout is not None
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        ready = READY.search(lines[0]) if lines else None
        if ready is None:
            self.stop()
            raise AssertionError(
                f"the gateway did not start within {timeout:g} s:\n{self.log()[-3000:]}"
            )
        self.url, self.port = ready[1], int(ready[2])

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no drain, no goodbye, messages in hand left un-acknowledged."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(STOP_TIMEOUT)

    def stop(self, drain: bool = False) -> None:
        """SIGTERM, then SIGKILL if it will not go; always reaped. Without ``drain``
        a second SIGTERM follows at once: the gateway hands back what its workers
        hold instead of waiting for them (a drain waits up to ~2 s for its idle
        pull requests to run out; a test's end need not)."""
        proc = self.proc
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                if not drain:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(0.05)
                    if proc.poll() is None:
                        proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(STOP_TIMEOUT)
            if proc.stdout is not None:
                proc.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None


def owner_of_connection(local_port: int, gateways: list[GatewayProcess]) -> GatewayProcess:
    """The gateway whose TCP socket is bound to ``local_port`` on loopback (the
    client end of a request an app is serving: ``REMOTE_PORT``). Linux: read from
    /proc, the socket's inode in the connection table, then each process's fds."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == local_port and fields[9] != "0":
                    inodes.add(f"socket:[{fields[9]}]")
    for gateway in gateways:
        assert gateway.proc is not None
        for fd in Path(f"/proc/{gateway.proc.pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd) in inodes:
                    return gateway
    raise AssertionError(f"no gateway holds a connection from port {local_port}")


def start_gateways(gateways: list[GatewayProcess]) -> None:
    """Start them all at once (each takes a second or so to import and connect)."""
    for gateway in gateways:
        gateway.start()
    for gateway in gateways:
        gateway.wait_ready()


# ------------------------------------------------------------------ a load balancer


class Balancer:
    """A loopback TCP load balancer: each connection goes to the next backend in
    turn, skipping one that refuses the connection (a dead gateway), as a real
    load balancer's health checks would. ``url`` is the gateways' public URL."""

    def __init__(self, backends: list[int]) -> None:
        self.backends = list(backends)  # loopback ports
        self._turn = itertools.count()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self.url = ""
        self.connections = 0
        self.skipped = 0  # connections a dead backend refused, sent to the next

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0, backlog=1024)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._pipes.add(task := asyncio.current_task())  # type: ignore[arg-type]
        try:
            backend = None
            for _ in self.backends:
                port = self.backends[next(self._turn) % len(self.backends)]
                try:
                    backend = await asyncio.open_connection("127.0.0.1", port)
                    break
                except OSError:
                    self.skipped += 1
            if backend is None:
                return
            self.connections += 1
            up_reader, up_writer = backend
            try:
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
            finally:
                up_writer.close()
        except asyncio.CancelledError:
            pass  # the balancer is stopping: a connection task ends quietly
        finally:
            writer.close()
            self._pipes.discard(task)  # type: ignore[arg-type]

    def stop(self) -> None:
        if not self._thread.is_alive():
            return

        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            for task in list(self._pipes):
                task.cancel()
            await asyncio.gather(*self._pipes, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()


class Tap(Balancer):
    """A loopback forwarder in front of one HTTP server (the sandbox, as the
    gateways' ``--upstream``) that can keep back the answer to one request. Armed
    with a request line (``b"POST /gather "``), it forwards the next such request,
    so the server acts on it, but holds its answer: ``held`` is set and
    ``client_port`` names the caller's end, and the answer never arrives (the
    connection is dropped at ``release``). So a test can kill the gateway after
    Kaphila acted and before the gateway heard that it had."""

    def __init__(self, port: int) -> None:
        super().__init__([port])
        self.request_line = b""
        self.held = threading.Event()
        self.release = threading.Event()
        self.client_port = 0
        self.requests: Counter[str] = Counter()  # "POST /gather": how many went by

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._pipes.add(task := asyncio.current_task())  # type: ignore[arg-type]
        try:
            await self._forward(reader, writer)
        finally:
            self._pipes.discard(task)  # type: ignore[arg-type]

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.backends[0])
        except OSError:
            writer.close()
            return
        caught = asyncio.Event()

        async def requests() -> None:
            try:
                while data := await reader.read(65536):
                    if data[:1].isupper():  # a request line, most likely: count it
                        line = b" ".join(data.split(b" ", 2)[:2])
                        self.requests[line.decode(errors="replace")] += 1
                    if self.request_line and data.startswith(self.request_line):
                        self.request_line = b""  # this one only
                        self.client_port = writer.get_extra_info("peername")[1]
                        caught.set()
                    up_writer.write(data)
                    await up_writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                up_writer.close()

        async def answers() -> None:
            try:
                while data := await up_reader.read(65536):
                    if caught.is_set():  # keep it back, then drop the connection
                        self.held.set()
                        await asyncio.to_thread(self.release.wait, 15)
                        return
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                writer.close()

        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(requests(), answers())


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until EOF or a reset; then half-close (or close) the other side."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()


# ------------------------------------------------------------------ what happened


class Look:
    """The sandbox's own record of calls (its ``/sandbox/`` control API)."""

    def __init__(self, sandbox_url: str) -> None:
        self.url = sandbox_url
        self.session = requests.Session()

    def close(self) -> None:
        self.session.close()

    def call(self, sid: str) -> dict[str, Any]:
        response = self.session.get(f"{self.url}/sandbox/calls/{sid}", timeout=10)
        assert response.status_code == 200, response.text
        return dict(response.json()["call"])

    def calls(self) -> list[dict[str, Any]]:
        response = self.session.get(f"{self.url}/sandbox/calls", timeout=10)
        assert response.status_code == 200, response.text
        return list(response.json()["calls"])

    def press(self, sid: str, digits: str) -> None:
        """The callee presses keys."""
        response = self.session.post(
            f"{self.url}/sandbox/calls/{sid}/press", json={"digits": digits}, timeout=10
        )
        assert response.status_code == 200, response.text

    def pending_webhooks(self) -> int:
        return int(
            self.session.get(f"{self.url}/sandbox/health", timeout=10).json()["pendingWebhooks"]
        )

    def wait(self, predicate: Callable[[], bool], what: str, within: float) -> float:
        """Seconds it took; AssertionError naming ``what`` after ``within``."""
        start = time.monotonic()
        while not predicate():
            if time.monotonic() - start > within:
                raise AssertionError(f"timed out after {within:g} s waiting for {what}")
            time.sleep(0.05)
        return time.monotonic() - start


def heard(call: dict[str, Any]) -> list[str]:
    return [s["text"] for s in call["spoken"] if not s["interrupted"]]


def collapsed(texts: list[str]) -> tuple[list[str], int]:
    """Adjacent repeats collapsed, and how many there were."""
    out: list[str] = []
    repeats = 0
    for text in texts:
        if out and out[-1] == text:
            repeats += 1
        else:
            out.append(text)
    return out, repeats


def sent_event_ids(call: dict[str, Any]) -> list[str]:
    """The id of every webhook the sandbox made for this call."""
    return [e["eventId"] for e in call["timeline"] if e["type"] == "event"]


def delivered(call: dict[str, Any]) -> set[str]:
    """Event ids some attempt delivered (a 2xx)."""
    return {
        e["eventId"]
        for e in call["timeline"]
        if e["type"] == "delivery" and isinstance(e["result"], int) and 200 <= e["result"] < 300
    }


def attempts(call: dict[str, Any]) -> list[tuple[str, int | str]]:
    """(eventId, result) of every delivery attempt, in order."""
    return [(e["eventId"], e["result"]) for e in call["timeline"] if e["type"] == "delivery"]


@dataclass
class Stored:
    """One message of the events stream: its de-duplication id and body."""

    seq: int
    msg_id: str
    body: dict[str, Any]


async def _stored(nats_url: str) -> list[Stored]:
    nc = await nats.connect(nats_url, allow_reconnect=False)
    try:
        js = nc.jetstream()
        info = await js.stream_info(wire.EVENTS_STREAM)
        out: list[Stored] = []
        if info.state.messages:
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                msg = await js.get_msg(wire.EVENTS_STREAM, seq)
                headers = msg.headers or {}
                out.append(
                    Stored(seq, headers.get("Nats-Msg-Id", ""), json.loads(msg.data or b"{}"))
                )
        return out
    finally:
        await nc.close()


def stored_messages(nats_url: str) -> list[Stored]:
    """Every message in the events stream, oldest first (from a blocking test)."""
    return asyncio.run(_stored(nats_url))
