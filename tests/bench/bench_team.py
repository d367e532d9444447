"""The team (issue 13, "Done when"): 500 operator desks and 5 supervisors on one
gateway in team mode, under open-loop calls.

Every piece is real and separate: our nats-server (``NatsServer``), the sandbox
as Kaphila (``--rate-limit 0``, twice real time, calls that nobody ends stop
after 60 simulated seconds), ``python -m console.gateway`` in team mode (the
account key in its environment) as its own process, so its CPU is its own;
the operator desks in ``TEAM_BENCH_WORKERS`` processes (``team_load``: many
headless ``TeamDesk``s on one loop, one aiohttp session, one SDK pool), the
headless supervisors in one more, and one supervisor as the real console
window on an Xvfb (``team_window``) when Xvfb is installed (else every
supervisor is headless, and the row says so).

Calls are OPEN-LOOP: call k is due at ``start + k / rate`` across the desk
processes, whatever happened before; a free desk dials it (a mix of scenario
numbers: mostly people, some machines, some no answer) and steers it as the
demo's operators do (greeting, pitch, a gather and forwards, goodbye, hang-up),
then wraps up and, now and then, goes for a coffee. About 20 s a call.

Measured over the main phase: each webhook from the gateway's ``receivedAt``
(its intake) to the moment each supervisor desk's session has applied it
(p50/p99 across the supervisors; the same for the owners' desks); the dials
(due time to the gateway's answer); the memory (RSS) of each desk process at
start and end; the gateway's CPU per 1,000 events of its stream; the
machine's CPU (busy, and per process); the real window's longest stall (a
10 ms QTimer's overshoot). Then short steps up the rate until the supervisors'
p99 goes over 100 ms: the highest rate this machine sustains.

Environment: TEAM_BENCH_SECONDS (60; the issue's run is 600), TEAM_BENCH_RATE
(10 calls/s), TEAM_BENCH_DESKS (500), TEAM_BENCH_SUPERVISORS (5),
TEAM_BENCH_WORKERS (2 desk processes), TEAM_BENCH_STEPS (15,20,30,40 calls/s;
empty: no search), TEAM_BENCH_STEP_SECONDS (15), TEAM_BENCH_WINDOW (1: the real
window if Xvfb is there; 0: all headless), TEAM_BENCH_TIME_SCALE (2).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import requests

from console.demo_team.processes import GatewayProcess
from console.demo_team.rig import OPERATOR, SUPERVISOR, add_operators, roster
from console.gateway import wire
from console.gateway.natsserver import NatsServer
from tests.bench.bench_gateway import nats_pid
from tests.bench.common import Row, SandboxProcess, percentile, rss_mb
from tests.bench.gateway_load import BENCH_SECRET, Window, cpu_seconds
from tests.bench.team_load import WindowProcess, Worker, Xvfb, supervisor_status

P99_GOAL_MS = 100.0
STALL_GOAL_MS = 50.0
WARM_SECONDS = 5.0
IDLE_SECONDS = 5.0  # every desk connected, no calls: the heartbeats' and streams' cost
TAIL_SECONDS = 3.0  # after a phase, for the last calls' webhooks to reach the desks


def _env(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def _env_list(name: str, default: str) -> list[float]:
    return [float(v) for v in os.environ.get(name, default).split(",") if v.strip()]


def _ms(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:,.0f}"


@dataclass
class Knobs:
    seconds: float = field(default_factory=lambda: _env("TEAM_BENCH_SECONDS", 60))
    rate: float = field(default_factory=lambda: _env("TEAM_BENCH_RATE", 10))
    desks: int = field(default_factory=lambda: int(_env("TEAM_BENCH_DESKS", 500)))
    supervisors: int = field(default_factory=lambda: int(_env("TEAM_BENCH_SUPERVISORS", 5)))
    workers: int = field(default_factory=lambda: int(_env("TEAM_BENCH_WORKERS", 2)))
    steps: list[float] = field(default_factory=lambda: _env_list("TEAM_BENCH_STEPS", "15,20,30,40"))
    step_seconds: float = field(default_factory=lambda: _env("TEAM_BENCH_STEP_SECONDS", 15))
    window: bool = field(default_factory=lambda: os.environ.get("TEAM_BENCH_WINDOW", "1") != "0")
    time_scale: float = field(default_factory=lambda: _env("TEAM_BENCH_TIME_SCALE", 2))


@dataclass
class Run:
    """The processes of one run and what was measured of each."""

    knobs: Knobs
    gateway: GatewayProcess
    nats_pid: int
    sandbox: SandboxProcess
    operators: list[Worker]
    supervisors: Worker | None
    window: WindowProcess | None
    rss_start: dict[str, float] = field(default_factory=dict)

    def desk_pids(self) -> dict[str, int]:
        pids = {w.name: w.pid for w in self.operators}
        if self.supervisors is not None:
            pids[self.supervisors.name] = self.supervisors.pid
        if self.window is not None:
            pids["window"] = self.window.pid
        return pids

    def all_pids(self) -> dict[str, int]:
        extra = {"Xvfb": self.window.xvfb.proc.pid} if self.window is not None else {}
        return {
            "gateway": self.gateway.pid,
            "nats-server": self.nats_pid,
            "sandbox": self.sandbox.pid,
            **self.desk_pids(),
            **extra,
            "bench": os.getpid(),
        }


@dataclass
class Phase:
    rate: float
    seconds: float
    start: float = 0.0
    window: Window | None = None
    events: int = 0
    gateway_cpu: float = 0.0
    nats_cpu: float = 0.0
    answers: list[dict[str, Any]] = field(default_factory=list)
    supervisors: dict[str, list[float]] = field(default_factory=dict)  # desk -> ms
    owners: list[float] = field(default_factory=list)
    dial_ms: list[float] = field(default_factory=list)
    dials: int = 0
    dial_failures: int = 0
    lag_max_ms: dict[str, float] = field(default_factory=dict)
    fanout: str = ""  # the gateway's own part, from its /metrics
    gc_max_ms: dict[str, float] = field(default_factory=dict)
    held: bool | None = None  # judged as the run went (headless supervisors only)
    judged_p99: float = float("nan")  # the p99 it was judged on

    def judge(self) -> bool:
        self.judged_p99 = self.p99
        self.held = self.sustained
        return self.held

    @property
    def pooled(self) -> list[float]:
        return [v for values in self.supervisors.values() for v in values]

    @property
    def p99(self) -> float:
        return percentile(self.pooled, 99)

    @property
    def webhooks(self) -> int:
        return max((len(v) for v in self.supervisors.values()), default=0)

    @property
    def sustained(self) -> bool:
        accepted = sum(a["accepted"] for a in self.answers)
        scheduled = sum(a["scheduled"] for a in self.answers)
        return (
            bool(self.pooled)
            and self.p99 <= P99_GOAL_MS
            and self.dial_failures == 0
            and accepted >= 0.95 * scheduled
        )


FANOUT = re.compile(r'^kgw_fanout_seconds_bucket\{le="([^"]+)"\} ([0-9.e+]+)$', re.MULTILINE)


def _fanout_buckets(gateway: str) -> dict[float, float]:
    """The gateway's own fan-out histogram (webhook arrival -> written to a desk's
    stream; ``/metrics``), cumulative counts by upper bound; empty if it has none."""
    try:
        text = requests.get(gateway + "/metrics", timeout=10).text
    except requests.RequestException:
        return {}
    return {float(le): float(n) for le, n in FANOUT.findall(text)}


def _fanout_text(before: dict[float, float], after: dict[float, float]) -> str:
    """The gateway's part of the latency over a phase: the share of frames it wrote
    within 25 and 100 ms, and the bucket its p50 and p99 fall in."""
    if not after:
        return "no fan-out histogram at /metrics"
    delta = {le: n - before.get(le, 0.0) for le, n in sorted(after.items())}
    total = delta.get(float("inf"), 0.0)
    if total <= 0:
        return "no frames"

    def within(bound: float) -> float:
        return delta.get(bound, 0.0) / total

    def bucket(q: float) -> str:
        le = next(le for le, n in delta.items() if n >= q * total)
        return f"<= {le * 1000:g} ms" if le != float("inf") else "> the last bucket"

    return (
        f"{within(0.025):.1%} of {total:,.0f} frames written within 25 ms, "
        f"{within(0.1):.1%} within 100 ms; p50 {bucket(0.5)}, p99 {bucket(0.99)}"
    )


async def _stream_last(js: Any) -> int:
    info = await js.stream_info(wire.EVENTS_STREAM)
    return int(info.state.last_seq)


async def _idle(run: Run, seconds: float) -> float:
    """CPUs' worth the gateway uses with every desk connected and no call."""
    before = cpu_seconds(run.gateway.pid)
    await asyncio.sleep(seconds)
    return (cpu_seconds(run.gateway.pid) - before) / seconds


async def _phase(run: Run, js: Any, rate: float, seconds: float, name: str) -> Phase:
    """Calls at ``rate`` for ``seconds`` across the desk processes, then what the
    desks measured for the webhooks of that span."""
    phase = Phase(rate, seconds, start=time.time() + 0.5)
    workers = run.operators
    for i, worker in enumerate(workers):
        worker.send(
            {
                "cmd": "phase",
                "name": name,
                "start": phase.start,
                "seconds": seconds,
                "rate": rate / len(workers),
                "offset": i / rate,  # the processes' calls interleave evenly
            }
        )
    await asyncio.sleep(max(0.0, phase.start - time.time()))
    seq0 = await _stream_last(js)
    gw0, nats0 = cpu_seconds(run.gateway.pid), cpu_seconds(run.nats_pid)
    fanout0 = await asyncio.to_thread(_fanout_buckets, run.gateway.url)
    phase.window = Window.start(run.all_pids())
    await asyncio.sleep(max(0.0, phase.start + seconds - time.time()))
    phase.window.stop()
    phase.gateway_cpu = cpu_seconds(run.gateway.pid) - gw0
    phase.nats_cpu = cpu_seconds(run.nats_pid) - nats0
    phase.events = await _stream_last(js) - seq0
    phase.answers = [
        await asyncio.to_thread(w.expect, "phase", seconds + 60.0) for w in run.operators
    ]
    await asyncio.sleep(TAIL_SECONDS)
    phase.fanout = _fanout_text(fanout0, await asyncio.to_thread(_fanout_buckets, run.gateway.url))
    span = {"cmd": "collect", "from": phase.start, "to": phase.start + seconds}
    for worker in [*workers, *([run.supervisors] if run.supervisors else [])]:
        worker.send(span)
        got = await asyncio.to_thread(worker.expect, "collected", 120.0)
        phase.lag_max_ms[worker.name] = got["lag_max_ms"]
        phase.gc_max_ms[worker.name] = got["gc_max_ms"]
        if worker is run.supervisors:
            phase.supervisors.update(got["webhooks_ms"])
        else:
            phase.owners.extend(v for values in got["webhooks_ms"].values() for v in values)
            phase.dial_ms.extend(got["dial_ms"])
            phase.dials += got["dials"]
            phase.dial_failures += got["dial_failures"]
    return phase


def _add_window(phase: Phase, report: dict[str, Any] | None) -> None:
    """The real window's own measurements (it reports them when it closes)."""
    if report is None:
        return
    inside = [
        lat * 1000
        for at, lat in report["webhooks"]
        if phase.start <= at < phase.start + phase.seconds
    ]
    if inside:
        phase.supervisors["window"] = inside


# ====================================================================== rows


def _latency_row(phase: Phase, k: Knobs, headless: int, window: bool) -> Row:
    pooled = phase.pooled
    each = [percentile(v, 99) for v in phase.supervisors.values()]
    who = f"{headless} headless" + (" + the real window" if window else "")
    return Row(
        f"team: webhook at the gateway -> applied on the supervisors' desks ({who}), "
        f"{k.desks} operator desks, {phase.rate:g} calls/s for {phase.seconds:g} s",
        f"p50 / p99 / max {_ms(percentile(pooled, 50))} / {_ms(percentile(pooled, 99))} / "
        f"{_ms(max(pooled, default=float('nan')))} ms over {len(pooled):,} applies "
        f"({phase.webhooks:,} webhooks); each desk's p99 {_ms(min(each, default=0))}-"
        f"{_ms(max(each, default=0))} ms; the gateway's part (its fan-out histogram): "
        f"{phase.fanout} {phase.window.note() if phase.window else ''}",
        "p99 <= 100 ms",
    )


def _calls_row(phase: Phase) -> Row:
    scheduled = sum(a["scheduled"] for a in phase.answers)
    accepted = sum(a["accepted"] for a in phase.answers)
    booked = max((a["double_booked"] for a in phase.answers), default=0)
    late = max((a["lateness_max_ms"] for a in phase.answers), default=0.0)
    return Row(
        "team: calls placed by the operator desks (due -> the gateway's answer)",
        f"{accepted:,} of {scheduled:,} accepted, {phase.dial_failures} failed; "
        f"p50 / p99 {_ms(percentile(phase.dial_ms, 50))} / {_ms(percentile(phase.dial_ms, 99))} "
        f"ms; owners' desks applied their webhooks p50 / p99 "
        f"{_ms(percentile(phase.owners, 50))} / {_ms(percentile(phase.owners, 99))} ms; "
        f"scheduler late by at most {_ms(late)} ms; no free desk {booked} times",
    )


def _cpu_row(phase: Phase, idle: float, desks: int) -> Row:
    per_k = max(phase.events, 1) / 1000
    per_webhook_k = max(phase.webhooks, 1) / 1000
    seconds = phase.seconds
    beyond = max(0.0, phase.gateway_cpu - idle * seconds)
    return Row(
        "team: gateway CPU per 1,000 stream events",
        f"{phase.gateway_cpu / per_k:.2f} s ({phase.events:,} events: {phase.webhooks:,} "
        f"webhooks, the rest placed/action/presence; {phase.gateway_cpu / per_webhook_k:.2f} s "
        f"per 1,000 webhooks). The gateway used {phase.gateway_cpu / seconds:.2f} CPU "
        f"(nats-server {phase.nats_cpu / seconds:.2f}), of which {idle:.2f} with the "
        f"{desks} desks connected and no calls (heartbeats, streams): "
        f"{beyond / per_k:.2f} s per 1,000 events beyond that",
    )


def _machine_row(phase: Phase) -> Row:
    assert phase.window is not None
    used = ", ".join(f"{name} {cpu / phase.seconds:.2f}" for name, cpu in phase.window.cpu.items())
    lags = ", ".join(
        f"{n} {_ms(v)} (GC {_ms(phase.gc_max_ms.get(n, 0.0))})" for n, v in phase.lag_max_ms.items()
    )
    return Row(
        "team: machine CPU over the main phase (CPUs' worth by process)",
        f"{phase.window.busy:.0%} busy{' SATURATED' if phase.window.saturated else ''}, "
        f"{os.cpu_count()} CPUs, load {phase.window.load1:.2f}; {used}; others "
        f"{phase.window.others:.2f}; desk processes' longest loop lag (their longest GC "
        f"pause), ms: {lags}",
    )


def _memory_row(run: Run, end: dict[str, float]) -> Row:
    workers = {w.name: w for w in run.operators}
    if run.supervisors is not None:
        workers[run.supervisors.name] = run.supervisors
    parts = []
    for name in run.desk_pids():
        start, last = run.rss_start.get(name, float("nan")), end.get(name, float("nan"))
        worker = workers.get(name)
        if worker is None:  # the window: one desk, and Qt
            parts.append(f"{name} (1 desk) {start:.0f} -> {last:.0f} MB")
            continue
        each = (start - worker.rss_empty) / max(worker.desks, 1)
        parts.append(
            f"{name} ({worker.desks} desks) {start:.0f} -> {last:.0f} MB "
            f"({worker.rss_empty:.0f} MB before its desks: {each:.2f} MB a desk at start)"
        )
    return Row("team: desk processes' memory (RSS) at start -> end", "; ".join(parts))


def _window_row(run: Run, k: Knobs, main: Phase, report: dict[str, Any] | None) -> Row:
    name = "team: the real supervisor window's longest GUI stall (10 ms QTimer overshoot)"
    if run.window is None or report is None:
        why = "TEAM_BENCH_WINDOW=0" if not k.window else "no Xvfb on this machine"
        return Row(name, f"no real window ({why}): all {k.supervisors} supervisors headless")
    inside = [
        over * 1000 for at, over in report["stalls"] if main.start <= at < main.start + main.seconds
    ]
    board = "the supervisor board" if report.get("board") else "no supervisor board in this tree"
    return Row(
        name + f", {main.rate:g} calls/s",
        f"{_ms(max(inside, default=0.0))} ms ({len([v for v in inside if v > 16]):,} "
        f"ticks late by more than 16 ms, {report['ticks']:,} ticks in the whole run; {board})",
        "<= 50 ms",
    )


def _step_row(phase: Phase) -> Row:
    state = "ok" if phase.held else "FAILS"
    note = phase.window.note() if phase.window else ""
    return Row(
        f"team step-up: {phase.rate:g} calls/s for {phase.seconds:g} s",
        f"{state}: headless supervisors p99 {_ms(phase.judged_p99)} ms (all, the window too: "
        f"p50 / p99 {_ms(percentile(phase.pooled, 50))} / {_ms(phase.p99)} ms), dials failed "
        f"{phase.dial_failures}, "
        f"{sum(a['accepted'] for a in phase.answers):,} of "
        f"{sum(a['scheduled'] for a in phase.answers):,} accepted; gateway "
        f"{phase.gateway_cpu / phase.seconds:.2f} CPU {note}",
    )


# ====================================================================== the run


def _rss(pids: dict[str, int]) -> dict[str, float]:
    out = {}
    for name, pid in pids.items():
        try:
            out[name] = rss_mb(pid)
        except OSError:
            out[name] = float("nan")
    return out


async def _start(k: Knobs, tmp: Path, nats_url: str, server_pid: int) -> Run:
    sandbox = SandboxProcess("--time-scale", f"{k.time_scale:g}", "--max-call-seconds", "60")
    gateway: GatewayProcess | None = None
    workers: list[Worker] = []
    try:
        team = roster(k.desks, k.supervisors)
        tokens = await add_operators(nats_url, team)
        gateway = GatewayProcess(
            upstream=sandbox.url,
            upstream_key=SandboxProcess.KEY,
            secret=BENCH_SECRET,
            log_path=tmp / "gateway.log",
            nats_url=nats_url,
            drain_timeout=5.0,
        )
        await asyncio.to_thread(gateway.wait_ready)
        ops = [(n, tokens[n]) for n, r in team if r == OPERATOR]
        sups = [(n, tokens[n]) for n, r in team if r == SUPERVISOR]
        use_window = k.window and shutil.which("Xvfb") is not None and bool(sups)
        watcher = sups[0] if use_window else None
        headless = sups[1:] if use_window else sups
        for i in range(k.workers):
            share = ops[i :: k.workers]
            workers.append(
                Worker(
                    f"operators-{i + 1}",
                    {"gateway": gateway.url, "desks": share, "seed": i},
                    tmp / f"operators-{i + 1}.log",
                )
            )
        supervisors = None
        if headless:
            supervisors = Worker(
                "supervisors",
                {"gateway": gateway.url, "desks": headless, "seed": 99},
                tmp / "supervisors.log",
            )
            workers.append(supervisors)
        for worker in workers:
            ready = await asyncio.to_thread(worker.expect, "ready", 240.0)
            worker.desks = int(ready["desks"])
            worker.rss_empty = float(ready["rss_empty_mb"])
        window = None
        if watcher is not None:
            window = WindowProcess(gateway.url, watcher[1], tmp / "window", Xvfb())
            await asyncio.to_thread(
                window.wait_connected, lambda: supervisor_status(gateway.url, watcher)
            )
        run = Run(
            k,
            gateway,
            server_pid,
            sandbox,
            [w for w in workers if w is not supervisors],
            supervisors,
            window,
        )
        run.rss_start = _rss(run.desk_pids())
        return run
    except BaseException:
        for worker in workers:
            worker.stop()
        if gateway is not None:
            gateway.stop(10.0)
        sandbox.stop()
        raise


def _stop(run: Run) -> dict[str, Any] | None:
    everyone = [*run.operators, *([run.supervisors] if run.supervisors else [])]
    for worker in everyone:
        worker.send_stop()
    for worker in everyone:
        worker.stop()
    report = run.window.stop() if run.window is not None else None
    run.gateway.stop(10.0)
    run.sandbox.stop()
    return report


async def _bench() -> list[Row]:
    k = Knobs()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="kaphila-bench-team-") as tmp, NatsServer() as ns:
        run = await _start(k, Path(tmp), ns.url, nats_pid())
        report: dict[str, Any] | None = None
        nc = await nats.connect(ns.url)
        try:
            js = nc.jetstream()
            idle = await _idle(run, IDLE_SECONDS)
            await _phase(run, js, k.rate, WARM_SECONDS, "warm-up")
            main = await _phase(run, js, k.rate, k.seconds, "main")
            main.judge()
            steps = await _search(run, js, k, main) if k.steps else []
            rss_end = _rss(run.desk_pids())
        finally:
            await nc.close()
            report = await asyncio.to_thread(_stop, run)
    for phase in (main, *steps):
        _add_window(phase, report)
    headless = (k.supervisors - 1) if run.window is not None else k.supervisors
    rows += [
        _latency_row(main, k, headless, run.window is not None),
        _window_row(run, k, main, report),
        _calls_row(main),
        _cpu_row(main, idle, k.desks + k.supervisors),
        _machine_row(main),
        _memory_row(run, rss_end),
    ]
    rows += [_step_row(s) for s in steps]
    if k.steps:
        rows.append(_highest_row(main, steps))
    return rows


async def _search(run: Run, js: Any, k: Knobs, main: Phase) -> list[Phase]:
    """Short steps: up through TEAM_BENCH_STEPS until one fails when the main rate
    held, else down (3/4, 1/2, 1/4 of it) until one holds. Judged as it runs, on
    the headless supervisors (the window reports when it closes)."""
    ladder = k.steps if main.held else [k.rate * f for f in (0.75, 0.5, 0.25)]
    steps: list[Phase] = []
    for rate in ladder:
        step = await _phase(run, js, rate, k.step_seconds, f"step {rate:g}")
        steps.append(step)
        if step.judge() != main.held:
            break
    return steps


def _highest_row(main: Phase, steps: list[Phase]) -> Row:
    held = [p.rate for p in (main, *steps) if p.held]
    failed = [p.rate for p in (main, *steps) if not p.held]
    if not held:
        value = f"below {min(failed):g} calls/s (every step failed)"
    elif not failed or max(held) > max(failed):
        value = f"at least {max(held):g} calls/s (every step up held)"
    else:
        above = min(r for r in failed if r > max(held))
        value = f"{max(held):g} calls/s ({above:g} failed)"
    return Row(
        "team: highest calls/s this machine sustains (supervisors' p99 <= 100 ms, no dial "
        "failing, 95 % placed)",
        value,
        ">= 10 calls/s",
    )


def run() -> list[Row]:
    return asyncio.run(_bench())
