"""Shared pieces for benchmarks: result rows, the table, percentiles, a
sandbox in its own process (so it has a core to itself) and a counting
webhook receiver."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from tests.helpers import LoopbackHookServer


@dataclass(frozen=True)
class Row:
    name: str
    value: str
    target: str = ""


def print_table(rows: list[Row]) -> None:
    headers = ("benchmark", "result", "target")
    table = [headers, *((r.name, r.value, r.target) for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(3)]

    def fmt(line: tuple[str, str, str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |"

    print(fmt(headers))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for line in table[1:]:
        print(fmt(line))


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert match, "no VmRSS in /proc status"
    return int(match.group(1)) / 1024


class SandboxProcess:
    """``python -m console.sandbox`` on a free loopback port, in its own process."""

    KEY = "ak_bench_0123456789"
    CALLER_ID = "19876543210"

    def __init__(self, *extra: str) -> None:
        # stderr goes to a file: a pipe nobody reads could fill and stall the sandbox.
        self._stderr = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "console.sandbox",
                "--port",
                "0",
                "--rate-limit",
                "0",
                "--account",
                f"{self.KEY}:{self.CALLER_ID}:10000000",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        match = re.search(r"listening on (http://\S+)", line)
        if not match:
            self.stop()
            raise RuntimeError(f"the sandbox did not start: {line!r} {self.errors()!r}")
        self.url = match.group(1)

    def errors(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
        self._stderr.close()


@dataclass
class CountingReceiver(LoopbackHookServer):
    """Counts webhooks by event name and remembers when each arrived."""

    counts: Counter[str] = field(default_factory=Counter)
    arrivals: list[float] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def _handle(self, request: web.Request) -> web.Response:
        payload = await request.json()
        self.counts[payload["event"]] += 1
        self.arrivals.append(time.perf_counter())
        self._changed.set()
        return web.Response(status=204)

    async def wait_count(self, event: str, count: int, within: float) -> None:
        async with asyncio.timeout(within):
            while self.counts[event] < count:
                self._changed.clear()
                await self._changed.wait()


# Posts webhooks for call ids 0..calls-1 at a fixed rate for a while, from its own
# process; prints JSON: how many were sent, over how long, each answer's time (ms)
# and the count of each HTTP status.
WEBHOOK_LOADER = r"""
import asyncio, json, sys, time, aiohttp
url, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
calls, event, in_flight = int(sys.argv[4]), sys.argv[5], int(sys.argv[6])
async def main():
    answers, statuses = [], {}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=in_flight)) as s:
        async def post(i, n):
            ts = time.time()
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))
            body = {"callId": f"bench.{i}", "event": event, "status": "answered",
                    "timestamp": stamp + f".{int(ts * 1000) % 1000:03d}Z",
                    "number": f"1555{i:07d}", "callerId": "19876543210", "digits": str(n % 10),
                    "amd": {"status": "HUMAN", "confidence": 0.9}}
            t0 = time.perf_counter()
            async with s.post(url, json=body) as r:
                await r.read()
                statuses[r.status] = statuses.get(r.status, 0) + 1
            answers.append((time.perf_counter() - t0) * 1000)
        start, tasks = time.perf_counter(), set()
        total = int(rate * seconds)
        for n in range(total):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            t = asyncio.ensure_future(post(n % calls, n))
            tasks.add(t)
            t.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    print(json.dumps({"sent": total, "seconds": elapsed, "answers": answers,
                      "statuses": statuses}))
asyncio.run(main())
"""


def start_webhook_load(
    url: str, rate: float, seconds: float, calls: int, event: str, in_flight: int
) -> subprocess.Popen[str]:
    """``WEBHOOK_LOADER`` in its own process; read its JSON from ``communicate()``."""
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            WEBHOOK_LOADER,
            url,
            str(rate),
            str(seconds),
            str(calls),
            event,
            str(in_flight),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
