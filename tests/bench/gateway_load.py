"""Pieces for ``bench_gateway``: the gateway and a TwiML app in their own
processes, CPU accounting from /proc, and an open-loop webhook load generator.

Run as a program it is one of two helpers, each in its own process so it has
the scheduler to itself rather than the benchmark's loop:

``python -m tests.bench.gateway_load load`` reads a JSON plan on stdin
    (``{"targets": [[url, callId], ...], "rate": 1000, "seconds": 10,
    "connections": 256, "run": "r1"}``), posts Kaphila-like webhooks
    (``dtmf.received``, a unique ``X-Kaphila-Event-Id`` each) OPEN-LOOP: request
    n is due at ``start + n / rate`` whatever happened to the ones before it,
    and its latency is counted from that due time, so a stall in the gateway
    shows up as latency (and a queue of requests waiting for a connection), never
    as a slower offered rate. Prints one JSON line of results.

``python -m tests.bench.gateway_load app trivial|ivr`` serves a Twilio-style app
    on a free loopback port and prints ``listening on http://...``:
    ``trivial``: ``/voice`` is ``<Say>Hi</Say>``; ``ivr``: ``/voice`` says a
    welcome and gathers four digits with ``action="/gather"``, which says them
    back.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[2]
# A fixed gateway secret (32 bytes, urlsafe base64): the benchmark signs intake
# paths with the MAC key derived from it, as the gateway does.
BENCH_SECRET = base64.urlsafe_b64encode(bytes(range(32))).decode().rstrip("=")

# ---------------------------------------------------------------------- the machine

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies over every CPU, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # steal included, guest counted in user already
    return total - idle, total


def _cpu_or_zero(pid: int) -> float:
    try:
        return cpu_seconds(pid)
    except (OSError, IndexError, ValueError):
        return 0.0


@dataclass
class Window:
    """The whole machine over a span: how busy, how much of that was our
    processes (``pids``) and how much others', the load average, the CPUs."""

    pids: dict[str, int]
    busy0: int = 0
    total0: int = 0
    cpu0: dict[str, float] = field(default_factory=dict)
    busy: float = float("nan")  # fraction of all CPUs' time not idle
    others: float = float("nan")  # CPUs' worth used by processes not in ``pids``
    load1: float = float("nan")
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds of each of ours

    @classmethod
    def start(cls, pids: dict[str, int]) -> Window:
        busy0, total0 = _machine_ticks()
        return cls(pids, busy0, total0, {n: _cpu_or_zero(p) for n, p in pids.items()})

    def stop(self) -> Window:
        self.cpu = {n: _cpu_or_zero(p) - self.cpu0[n] for n, p in self.pids.items()}
        busy, total = _machine_ticks()
        cpus = os.cpu_count() or 1
        span = max(1, total - self.total0) / _TICK  # CPU-seconds the machine had
        self.busy = (busy - self.busy0) / _TICK / span
        self.others = max(0.0, cpus * ((busy - self.busy0) / _TICK - sum(self.cpu.values())) / span)
        self.load1 = os.getloadavg()[0]
        return self

    def to_json(self) -> dict[str, Any]:
        return {"busy": self.busy, "others": self.others, "load1": self.load1, "cpu": self.cpu}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Window:
        return cls(
            {},
            busy=data["busy"],
            others=data["others"],
            load1=data["load1"],
            cpu=data["cpu"],
        )

    @property
    def saturated(self) -> bool:
        return self.busy >= 0.9

    def note(self) -> str:
        cpus = os.cpu_count() or 0
        flag = ", SATURATED" if self.saturated else ""
        return (
            f"[machine {self.busy:.0%} busy{flag}, other processes {self.others:.2f} CPU, "
            f"load {self.load1:.2f}, {cpus} CPUs]"
        )


# ---------------------------------------------------------------------- processes


class _Child:
    """A child process that prints ``... http://HOST:PORT`` on its first stdout line."""

    PATTERN = re.compile(r"(http://\S+)")

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self._stderr = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        match = self.PATTERN.search(line)
        if not match:
            self.stop()
            raise RuntimeError(f"{argv[2:4]} did not start: {line!r} {self.errors()[-2000:]!r}")
        self.url = match.group(1).rstrip("/")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def errors(self) -> str:
        if self._stderr.closed:
            return ""
        self._stderr.seek(0)
        return self._stderr.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
        if not self._stderr.closed:
            self._stderr.close()


class GatewayProcess(_Child):
    """``python -m console.gateway`` on a free port, with the benchmark's secret."""

    def __init__(self, upstream: str, nats_url: str, *extra: str) -> None:
        super().__init__(
            [
                sys.executable,
                "-m",
                "console.gateway",
                "--upstream",
                upstream,
                "--nats",
                nats_url,
                "--port",
                "0",
                "--allow-loopback",
                *extra,
            ],
            env={"KAPHILA_GATEWAY_SECRET": BENCH_SECRET},
        )

    def problems(self) -> list[str]:
        """Its WARNING and ERROR log lines (the log is kept in a temporary file)."""
        return [
            line for line in self.errors().splitlines() if " WARNING " in line or " ERROR " in line
        ]


class AppProcess(_Child):
    """This module's ``app`` command: a Twilio-style app in its own process."""

    def __init__(self, kind: str) -> None:
        super().__init__([sys.executable, "-m", "tests.bench.gateway_load", "app", kind])


def mac_key() -> bytes:
    from console.gateway.secrets import GatewaySecret, decode_secret

    return GatewaySecret(decode_secret(BENCH_SECRET, "bench"), "bench").mac_key()


def start_load(plan: dict[str, Any]) -> subprocess.Popen[str]:
    """The load generator in its own process; ``finish_load`` reads its answer."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.bench.gateway_load", "load"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(plan))
    proc.stdin.close()
    return proc


def finish_load(proc: subprocess.Popen[str]) -> dict[str, Any]:
    assert proc.stdout is not None
    out = proc.stdout.read()
    if proc.wait() != 0:
        raise RuntimeError(f"the load generator failed (exit {proc.returncode})")
    return dict(json.loads(out))


# ---------------------------------------------------------------------- the load generator


def _pct(ordered: list[float], pct: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))]


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


async def _load(plan: dict[str, Any]) -> dict[str, Any]:
    targets: list[list[str]] = plan["targets"]
    rate, seconds = float(plan["rate"]), float(plan["seconds"])
    run = str(plan.get("run", "r"))
    total = int(rate * seconds)
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    lateness: list[float] = []
    errors: dict[str, int] = {}
    last_done = 0.0
    connector = aiohttp.TCPConnector(limit=int(plan.get("connections", 256)))
    timeout = aiohttp.ClientTimeout(total=float(plan.get("timeout", 30)))
    opened = 0

    async def on_connection(*_: Any) -> None:
        nonlocal opened
        opened += 1

    tracing = aiohttp.TraceConfig()
    tracing.on_connection_create_end.append(on_connection)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, trace_configs=[tracing]
    ) as session:

        async def post(n: int, due: float, stamp: str) -> None:
            nonlocal last_done
            lateness.append(loop.time() - due)
            url, call_id = targets[n % len(targets)]
            body = (
                f'{{"callId":"{call_id}","event":"dtmf.received","status":"answered",'
                f'"timestamp":"{stamp}","digits":"{n % 10}"}}'
            ).encode()
            headers = {"Content-Type": "application/json", "X-Kaphila-Event-Id": f"{run}-{n}"}
            try:
                async with session.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                return
            done = loop.time()
            last_done = max(last_done, done)
            if 200 <= status < 300:
                latencies.append(done - due)
            else:
                errors[f"HTTP {status}"] = errors.get(f"HTTP {status}", 0) + 1

        tasks: set[asyncio.Task[None]] = set()
        start = loop.time() + 0.05
        watched = {str(k): int(v) for k, v in plan.get("watch", {}).items()}
        machine = Window.start({**watched, "load generator": os.getpid()})
        sent = 0
        while sent < total:
            now = loop.time()
            due_count = min(total, int((now - start) * rate) + 1) if now >= start else 0
            stamp = _iso(time.time())
            while sent < due_count:
                task = asyncio.create_task(post(sent, start + sent / rate, stamp))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                sent += 1
            await asyncio.sleep(max(0.0, start + sent / rate - loop.time()))
        sent_span = loop.time() - start
        if tasks:
            await asyncio.gather(*tasks)
        machine.stop()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    latencies.sort()
    lateness.sort()
    window = max(last_done - start, 1e-9)
    return {
        "scheduled": total,
        "ok": len(latencies),
        "errors": errors,
        "sent_seconds": sent_span,
        "window_seconds": window,
        "achieved_per_s": len(latencies) / window,
        "latency_ms": {
            "p50": _pct(latencies, 50) * 1000,
            "p90": _pct(latencies, 90) * 1000,
            "p99": _pct(latencies, 99) * 1000,
            "max": (latencies[-1] if latencies else float("nan")) * 1000,
        },
        "connections": opened,
        "lateness_ms": {"p99": _pct(lateness, 99) * 1000, "max": lateness[-1] * 1000},
        "machine": machine.to_json(),
        "cpu_seconds": (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime),
    }


# ---------------------------------------------------------------------- the apps

IVR_WELCOME = "Welcome to the bench IVR."
IVR_PROMPT = "Enter your four digit code."
IVR_NONE = "We did not get your code."


def ivr_goodbye(digits: str) -> str:
    return f"You pressed {digits}. Goodbye."


def _twiml(body: str) -> web.Response:
    return web.Response(
        text=f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>',
        content_type="text/xml",
    )


def build_app(kind: str) -> web.Application:
    app = web.Application()

    async def trivial(request: web.Request) -> web.Response:
        return _twiml("<Say>Hi</Say>")

    async def menu(request: web.Request) -> web.Response:
        return _twiml(
            f"<Say>{IVR_WELCOME}</Say>"
            f'<Gather action="/gather" numDigits="4"><Say>{IVR_PROMPT}</Say></Gather>'
            f"<Say>{IVR_NONE}</Say>"
        )

    async def gathered(request: web.Request) -> web.Response:
        form = await request.post() if request.method == "POST" else request.query
        return _twiml(f"<Say>{ivr_goodbye(str(form.get('Digits', '')))}</Say>")

    if kind == "trivial":
        app.router.add_route("*", "/voice", trivial)
    elif kind == "ivr":
        app.router.add_route("*", "/voice", menu)
        app.router.add_route("*", "/gather", gathered)
    else:
        raise SystemExit(f"no app {kind!r}: trivial or ivr")
    return app


async def _serve(kind: str) -> None:
    runner = web.AppRunner(build_app(kind), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    host, port = runner.addresses[0][:2]
    print(f"listening on http://{host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    with contextlib.suppress(Exception):
        await runner.cleanup()


def main(argv: list[str]) -> int:
    if argv[:1] == ["load"]:
        print(json.dumps(asyncio.run(_load(json.loads(sys.stdin.read())))))
        return 0
    if argv[:1] == ["app"] and len(argv) == 2:
        asyncio.run(_serve(argv[1]))
        return 0
    print("usage: python -m tests.bench.gateway_load load < plan.json | app trivial|ivr")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
