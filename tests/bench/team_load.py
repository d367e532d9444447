"""Pieces for ``bench_team``: processes that run many headless desks each, and
their control.

``python -m tests.bench.team_load desks`` is one desk process: it reads its
setup as one JSON line on stdin (``{"gateway": url, "desks": [[name, token],
...], "seed": 1, "pace": {...}}``), opens every desk (``open_team_desk``) on
one loop with one shared aiohttp session (no connection limit: each desk's
stream is a connection of its own) and one SDK thread pool, waits until every
desk's stream is connected and says ``{"event": "ready"}``. Then it obeys one
JSON command a line:

``{"cmd": "phase", "name", "start", "seconds", "rate", "offset"}``
    OPEN-LOOP calls: call k is due at ``start + offset + k / rate`` (epoch
    seconds) whatever happened to the ones before it; each goes to a free desk
    (one with no call and not in wrap-up or away; a busy one if none is free,
    counted as ``double_booked``), which dials it and steers it as the demo's
    operators do (``console.demo_team.simulated.steer``), wraps up, sometimes
    goes away for a coffee, and is free again. Answers ``{"event": "phase"}``
    once every call of the phase has its dial's outcome.
``{"cmd": "collect", "from", "to"}``
    What its desks measured for webhooks the gateway received in [from, to):
    the gateway's ``receivedAt`` to the moment the desk's session had applied
    the stream event, per desk (milliseconds); the dials due then (due time to
    the gateway's answer); the loop's lateness (a 10 ms sleep's overshoot).
``{"cmd": "stop"}``
    Close every desk (streams, heartbeats, requests in flight), answer
    ``{"event": "stopped"}`` and exit.

A supervisors' process is the same program given supervisors' tokens: its
desks never place calls, they receive every event of the team.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import queue
import random
import subprocess
import sys
import threading
import time
from array import array
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp
import requests

from console.core.events import DialAccepted, Event, WebhookReceived
from console.core.team import Link, Presence
from console.demo_team.processes import die_with_parent
from console.demo_team.simulated import (
    Pace,
    campaign_number,
    draw,
    live,
    request_done,
    steer,
    until,
)
from console.demo_team.window import prepare
from console.services.team_desk import TeamDesk, open_team_desk
from tests.bench.common import rss_mb

ROOT = Path(__file__).resolve().parents[2]
CALLER_ID = "+19876543210"
OPEN_AT_ONCE = 25  # desks opened together (each: a snapshot, presence, its stream)
READY_WITHIN = 120.0
SDK_THREADS = 16
LAG_TICK = 0.010
LAG_KEPT = 0.002  # overshoots above this are kept with their time

# How a benchmark desk works a call, in real seconds (the sandbox runs 2x: a
# person answers after ~1 s, "no answer" rings 10 s): a greeting, a pitch, a
# few seconds of talk, goodbye; about 20 s a call, then a short wrap-up.
BENCH_PACE = Pace(
    think=(0.0, 0.0),
    pause=(1.0, 2.0),
    talk=(4.0, 12.0),
    machine=(1.0, 2.0),
    wrap_up=(2.0, 5.0),
    away=(10.0, 20.0),
    away_chance=0.03,
    forward_chance=0.1,
    ring_wait=20.0,
    request_wait=15.0,
    ring_timeout=20,
)


# ====================================================================== the desk process


@dataclass
class Measured:
    """What one desk saw: each webhook's receivedAt and latency (seconds), in
    flat arrays (16 bytes a webhook), so the bench's own bookkeeping barely
    shows in the desk process's memory."""

    name: str
    received: array[float] = field(default_factory=lambda: array("d"))
    latency: array[float] = field(default_factory=lambda: array("d"))

    def add(self, received_at: float, latency: float) -> None:
        self.received.append(received_at)
        self.latency.append(latency)

    def between(self, low: float, high: float) -> list[float]:
        return [
            round(lat * 1000, 2)
            for at, lat in zip(self.received, self.latency, strict=True)
            if low <= at < high
        ]


@dataclass
class Dial:
    due: float
    request_id: str = ""
    accepted: float | None = None
    failed: bool = False


class DeskProcess:
    def __init__(self, setup: dict[str, Any]) -> None:
        self.gateway = str(setup["gateway"])
        self.names_tokens = [(str(n), str(t)) for n, t in setup["desks"]]
        self.rng = random.Random(setup.get("seed"))
        self.pace = BENCH_PACE
        self.desks: list[TeamDesk] = []
        self.measured: list[Measured] = []
        self.free: deque[TeamDesk] = deque()
        self.dials: list[Dial] = []
        self.by_request: dict[str, Dial] = {}
        self.lag: list[tuple[float, float]] = []
        self.lag_ticks = 0
        self.gc_pauses: list[tuple[float, float]] = []
        self.double_booked = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self.http: aiohttp.ClientSession | None = None
        self.executor = ThreadPoolExecutor(SDK_THREADS, thread_name_prefix="bench-sdk")

    # ------------------------------------------------------------ opening

    async def open(self) -> dict[str, Any]:
        began = time.monotonic()
        empty = rss_mb(os.getpid())  # the process before its desks
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        for at in range(0, len(self.names_tokens), OPEN_AT_ONCE):
            batch = self.names_tokens[at : at + OPEN_AT_ONCE]
            opened = await asyncio.gather(
                *(
                    open_team_desk(self.gateway, token, http=self.http, executor=self.executor)
                    for _, token in batch
                )
            )
            for (name, _), desk in zip(batch, opened, strict=True):
                self.measured.append(self._watch(desk, name))
                self.desks.append(desk)
                self.free.append(desk)

        def connected() -> bool:
            return all(d.team.link is Link.CONNECTED and d.team.me.known for d in self.desks)

        ok = await until(connected, READY_WITHIN, every=0.2)
        self._spawn(self._lag_monitor())
        # As a console settles after its start (console.qt.desk.settle_after_start):
        # what start-up made is out of the collector's sight, full passes are rare.
        gc.collect()
        gc.freeze()
        gc.set_threshold(10_000, 20, 100)
        self._time_gc()
        return {
            "event": "ready" if ok else "not-ready",
            "desks": len(self.desks),
            "connected": sum(d.team.link is Link.CONNECTED for d in self.desks),
            "seconds": time.monotonic() - began,
            "rss_empty_mb": empty,
        }

    def _watch(self, desk: TeamDesk, name: str) -> Measured:
        """Time each stream webhook as the desk's session applies it, and note
        when each dial is accepted: the session's dispatch, wrapped (the bench's
        hook; the desk's code is not changed)."""
        measured = Measured(name)
        original = desk.session.dispatch

        def dispatch(event: Event) -> asyncio.Future[bool] | None:
            result = original(event)
            if isinstance(event, WebhookReceived) and event.seq:
                measured.add(event.received_at, time.time() - event.received_at)
            elif isinstance(event, DialAccepted):
                dial = self.by_request.pop(event.request_id, None)
                if dial is not None:
                    dial.accepted = time.time()
            return result

        desk.session.dispatch = dispatch  # type: ignore[method-assign]
        return measured

    async def _lag_monitor(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(LAG_TICK)
            over = loop.time() - before - LAG_TICK
            self.lag_ticks += 1
            if over > LAG_KEPT:
                self.lag.append((time.time(), over))

    def _time_gc(self) -> None:
        """Note the cyclic collector's pauses (the loop stands still meanwhile)."""
        began = [0.0]

        def timed(phase: str, info: dict[str, Any]) -> None:
            if phase == "start":
                began[0] = time.perf_counter()
            elif (took := time.perf_counter() - began[0]) > LAG_KEPT:
                self.gc_pauses.append((time.time(), took))

        gc.callbacks.append(timed)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # ------------------------------------------------------------ calls

    async def phase(self, cmd: dict[str, Any]) -> dict[str, Any]:
        rate, seconds = float(cmd["rate"]), float(cmd["seconds"])
        start = float(cmd["start"]) + float(cmd.get("offset", 0.0))
        total = int(rate * seconds)
        dials: list[Dial] = []
        lateness: list[float] = []
        for k in range(total):
            due = start + k / rate
            delay = due - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            lateness.append(time.time() - due)
            dial = Dial(due)
            dials.append(dial)
            self._spawn(self._call(self._pick(), dial))
        self.dials.extend(dials)
        await until(lambda: all(d.accepted or d.failed for d in dials), 30.0, every=0.2)
        return {
            "event": "phase",
            "name": cmd.get("name", ""),
            "scheduled": total,
            "accepted": sum(d.accepted is not None for d in dials),
            "failed": sum(d.failed for d in dials),
            "lateness_max_ms": max(lateness, default=0.0) * 1000,
            "double_booked": self.double_booked,
        }

    def _pick(self) -> TeamDesk:
        if self.free:
            return self.free.popleft()
        self.double_booked += 1
        return self.rng.choice(self.desks)

    async def _call(self, desk: TeamDesk, dial: Dial) -> None:
        try:
            request_id = desk.dial(campaign_number(self.rng), CALLER_ID, ring_timeout=20)
            dial.request_id = request_id
            if dial.accepted is None:
                self.by_request[request_id] = dial
            if not await request_done(desk, request_id, self.pace.request_wait):
                dial.failed = True
                self.by_request.pop(request_id, None)
                return
            request = desk.state.requests.get(request_id)
            sid = request.call_sid if request is not None else None
            if not sid:
                return
            await steer(desk, sid, self.rng, self.pace, "Bench")
            await until(lambda: not live(desk, sid), self.pace.ring_wait, every=0.5)
            await asyncio.sleep(draw(self.rng, self.pace.wrap_up))
            if self.rng.random() < self.pace.away_chance:
                desk.set_status(Presence.AWAY, "coffee")
                await asyncio.sleep(draw(self.rng, self.pace.away))
            desk.set_status(Presence.AVAILABLE)
        finally:
            if desk not in self.free:
                self.free.append(desk)

    # ------------------------------------------------------------ answers

    def collect(self, cmd: dict[str, Any]) -> dict[str, Any]:
        low, high = float(cmd["from"]), float(cmd["to"])
        per_desk = {m.name: m.between(low, high) for m in self.measured}
        dials = [d for d in self.dials if low <= d.due < high]
        lag = [over for at, over in self.lag if low <= at < high]
        pauses = [took for at, took in self.gc_pauses if low <= at < high]
        return {
            "event": "collected",
            "webhooks_ms": {name: v for name, v in per_desk.items() if v},
            "dial_ms": [
                round((d.accepted - d.due) * 1000, 2) for d in dials if d.accepted is not None
            ],
            "dials": len(dials),
            "dial_failures": sum(d.failed for d in dials),
            "lag_max_ms": max(lag, default=0.0) * 1000,
            "lag_over_20ms": sum(1 for v in lag if v > 0.020),
            "gc_max_ms": max(pauses, default=0.0) * 1000,
        }

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(20):
                await asyncio.gather(*(d.close() for d in self.desks), return_exceptions=True)
        if self.http is not None:
            await self.http.close()
        self.executor.shutdown(wait=False, cancel_futures=True)


def _say(answer: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()


async def _serve_desks() -> None:
    loop = asyncio.get_running_loop()
    setup = json.loads(await loop.run_in_executor(None, sys.stdin.readline))
    process = DeskProcess(setup)
    _say(await process.open())
    running: asyncio.Task[None] | None = None  # a phase: "stop" must not wait for its end

    async def phase(cmd: dict[str, Any]) -> None:
        _say(await process.phase(cmd))

    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        cmd = json.loads(line) if line.strip() else {"cmd": "stop"}
        if cmd["cmd"] == "phase":
            running = loop.create_task(phase(cmd))
        elif cmd["cmd"] == "collect":
            if running is not None:
                await running
            _say(process.collect(cmd))
        else:
            if running is not None:
                running.cancel()
                await asyncio.gather(running, return_exceptions=True)
            await process.close()
            _say({"event": "stopped"})
            return


# ====================================================================== control


class WorkerError(RuntimeError):
    pass


class Worker:
    """A desk process: ``send`` a command, ``expect`` its answer (blocking)."""

    def __init__(self, name: str, setup: dict[str, Any], log_path: Path) -> None:
        self.name = name
        self._log: IO[str] = log_path.open("w", encoding="utf-8")
        self.log_path = log_path
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.bench.team_load", "desks"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            process_group=0,
            preexec_fn=die_with_parent,
        )
        self._answers: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._stopping = False
        self.desks = len(setup.get("desks", ()))
        self.rss_empty = float("nan")  # before it opened its desks (its "ready" says)
        threading.Thread(target=self._read, name=f"{name}-out", daemon=True).start()
        self.send(setup)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with contextlib.suppress(ValueError, OSError):
            for line in self.proc.stdout:
                with contextlib.suppress(ValueError):
                    self._answers.put(json.loads(line))
        self._answers.put(None)

    def send(self, cmd: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def expect(self, event: str, timeout: float) -> dict[str, Any]:
        try:
            answer = self._answers.get(timeout=timeout)
        except queue.Empty:
            raise WorkerError(f"{self.name}: no {event!r} within {timeout:g} s") from None
        if answer is None or answer.get("event") != event:
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise WorkerError(f"{self.name}: expected {event!r}, got {answer!r}\n{tail}")
        return answer

    def send_stop(self) -> None:
        """Ask it to close its desks (``stop`` waits for that)."""
        if not self._stopping and self.proc.poll() is None:
            self._stopping = True
            with contextlib.suppress(OSError, ValueError):
                self.send({"cmd": "stop"})

    def stop(self, timeout: float = 40.0) -> None:
        if self.proc.poll() is None:
            self.send_stop()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError, ValueError):
                    stream.close()
        self._log.close()


class Xvfb:
    """An X server of our own (the real window's display), on a free display number."""

    def __init__(self) -> None:
        read, write = os.pipe()
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
            pass_fds=(write,),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            process_group=0,
            preexec_fn=die_with_parent,
        )
        os.close(write)
        with os.fdopen(read) as ready:
            number = ready.readline().strip()  # written once it takes clients
        if not number.isdigit():
            self.stop()
            raise WorkerError("Xvfb did not start")
        self.display = f":{number}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def supervisor_status(gateway: str, who: tuple[str, str]) -> str:
    """``who``'s status as the gateway has it (``GET /team/presence``)."""
    name, token = who
    answer = requests.get(
        gateway + "/team/presence", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    answer.raise_for_status()
    return next(
        (str(o["status"]) for o in answer.json()["operators"] if o["operator"] == name),
        "unknown",
    )


class WindowProcess:
    """The console window (``team_window``) on a Team profile, on ``xvfb``."""

    def __init__(self, gateway: str, token: str, home: Path, xvfb: Xvfb) -> None:
        self.xvfb = xvfb
        home.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **prepare(home, gateway, token, (CALLER_ID,))}
        env.pop("QT_QPA_PLATFORM", None)
        env.update(DISPLAY=xvfb.display, PYTHONUNBUFFERED="1")
        self._log: IO[str] = (home / "window.log").open("w", encoding="utf-8")
        self.log_path = home / "window.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.bench.team_window"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            cwd=ROOT,
            env=env,
            process_group=0,
            preexec_fn=die_with_parent,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_connected(self, status: Callable[[], str], within: float = 90.0) -> None:
        """Until the window's desk is on the team (its heartbeat says available)."""
        deadline = time.monotonic() + within
        while status() != "available":
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = self.log_path.read_text(errors="replace")[-2000:]
                self.stop()
                raise WorkerError(f"the console window did not connect:\n{tail}")
            time.sleep(0.2)

    def stop(self) -> dict[str, Any] | None:
        """SIGTERM (the console closes as usual); its measurements."""
        out = ""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            out, _ = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
        self._log.close()
        self.xvfb.stop()
        lines = [line for line in (out or "").splitlines() if line.startswith("{")]
        return dict(json.loads(lines[-1])) if lines else None


def main(argv: list[str]) -> int:
    if argv[:1] == ["desks"]:
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
        asyncio.run(_serve_desks())
        return 0
    print("usage: python -m tests.bench.team_load desks < setup.json")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
