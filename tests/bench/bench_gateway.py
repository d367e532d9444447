"""The gateway (issue 12): webhook intake with durable acknowledgement, the
interpreter's latency, and 1,000 concurrent three-step IVR calls.

Every process is real and separate unless said otherwise: our nats-server
(``NatsServer``, JetStream on a temporary file store), the sandbox as Kaphila
(``--rate-limit 0``), ``python -m console.gateway`` with a fixed
``KAPHILA_GATEWAY_SECRET``, the TwiML app and the load generator
(``tests.bench.gateway_load``). The machine is shared: every figure carries the
machine's busy fraction over its window (from /proc/stat), how much of that
was processes not ours (other people's tests), the 1-minute load average and
the CPU count, and says SATURATED when the CPUs were >= 90 % busy. On a small
machine the step-up also finds the machine's limit: the load generator and
nats-server need CPU too.

1. Intake. 200 calls are placed through the gateway's ``/makecall`` (so their
   registrations are real); each one's intake URL is rebuilt from the token the
   gateway stored for its callId, signed with the MAC key of the fixed secret.
   The load generator posts ``dtmf.received`` webhooks to them open-loop (due
   times fixed in advance; latency from the due time). Reported per rate: the
   achieved rate, p50/p99/max latency, errors, and the CPU seconds per 1,000
   webhooks of the gateway and of nats-server, counted until the interpreter
   and relay consumers have taken every event (so the figure is all a webhook
   costs the gateway, not only its intake), with the backlog they had when the
   load stopped. Then the rate steps up until p99 > 50 ms or errors.
2. Interpreter latency, gateway in this process (``GatewayThread``) so its
   ``interpreter.latencies`` can be read: the answer webhook's receivedAt to the
   first ``/voice`` answered, with calls answering at 20/s on a trivial app;
   cross-checked from outside with the sandbox's timeline (``call.answered``
   emitted -> ``tts``, so Kaphila's own webhook delivery is included).
3. 1,000 calls of a three-step IVR (Say -> Gather(action) answered by the
   scripted callee -> Say, then the end-of-document hang-up), placed as fast as
   50 requests in flight allow; how long until all ended, step latency from the
   sandbox's timelines, failures (what the callee heard is not the script).

Environment, for longer runs: BENCH_GATEWAY_PARTS (intake,interpreter,ivr),
BENCH_GATEWAY_RATES (500,1000), BENCH_GATEWAY_SECONDS (10),
BENCH_GATEWAY_STEPS (1250,1500,1750,2000,2500,3000),
BENCH_GATEWAY_STEP_SECONDS (5), BENCH_GATEWAY_CONNECTIONS (256),
BENCH_GATEWAY_ANSWERS (100), BENCH_GATEWAY_ANSWER_RATE (20),
BENCH_GATEWAY_IVR_CALLS (1000).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import nats
from nats.js import JetStreamContext

from console.gateway import wire
from console.gateway.config import GatewayConfig
from console.gateway.natsserver import NatsServer
from console.gateway.server import GatewayThread
from tests.bench.common import Row, SandboxProcess, percentile
from tests.bench.gateway_load import (
    BENCH_SECRET,
    IVR_PROMPT,
    IVR_WELCOME,
    AppProcess,
    GatewayProcess,
    Window,
    cpu_seconds,
    finish_load,
    ivr_goodbye,
    mac_key,
    start_load,
)

P99_GOAL_MS = 50.0
INTAKE_CALLS = 200
PLACE_IN_FLIGHT = 50
AUTH = {"Authorization": f"Bearer {SandboxProcess.KEY}"}


def _env_list(name: str, default: str) -> list[float]:
    return [float(v) for v in os.environ.get(name, default).split(",") if v.strip()]


def _env(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def nats_pid() -> int:
    """Our nats-server: this process's child called nats-server (one at a time here)."""
    me = os.getpid()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        ppid = int(text.rsplit(")", 1)[1].split()[1])
        if name == "nats-server" and ppid == me:
            return int(stat.parent.name)
    raise RuntimeError("our nats-server is not among this process's children")


def _ms(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def _at(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


async def _place(
    session: aiohttp.ClientSession, base: str, bodies: list[dict[str, Any]]
) -> tuple[list[str], Counter[str]]:
    """POST /makecall for each body, 50 in flight; the callIds, and what failed."""
    gate = asyncio.Semaphore(PLACE_IN_FLIGHT)
    ids: list[str] = []
    failed: Counter[str] = Counter()

    async def one(body: dict[str, Any]) -> None:
        async with gate:
            try:
                async with session.post(base + "/makecall", json=body, headers=AUTH) as resp:
                    data = await resp.json()
                    if resp.status == 200 and data.get("callId"):
                        ids.append(str(data["callId"]))
                    else:
                        failed[f"HTTP {resp.status}"] += 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                failed[type(exc).__name__] += 1

    await asyncio.gather(*(one(b) for b in bodies))
    return ids, failed


# ====================================================================== 1. intake


async def _backlog(js: JetStreamContext) -> int:
    """Events the interpreter and relay consumers have not finished with."""
    names = [f"{wire.INTERPRETER_DURABLE}-{p}" for p in range(wire.PARTITIONS)]
    infos = await asyncio.gather(
        *(js.consumer_info(wire.EVENTS_STREAM, n) for n in [*names, wire.RELAY_DURABLE])
    )
    return sum(int(i.num_pending or 0) + int(i.num_ack_pending or 0) for i in infos)


async def _drain(js: JetStreamContext, within: float = 120.0) -> tuple[int, float]:
    """(backlog when called, seconds until it was 0 — or ``within`` if it never was)."""
    started = time.monotonic()
    first = left = await _backlog(js)
    while left and time.monotonic() - started < within:
        await asyncio.sleep(0.2)
        left = await _backlog(js)
    return first, time.monotonic() - started


async def _intake_targets(
    session: aiohttp.ClientSession, gateway: GatewayProcess, js: JetStreamContext
) -> list[list[str]]:
    bodies = [
        {"number": f"1555{i:04d}0000", "callerId": SandboxProcess.CALLER_ID}
        for i in range(INTAKE_CALLS)
    ]
    ids, failed = await _place(session, gateway.url, bodies)
    if failed:
        raise RuntimeError(f"placing the intake benchmark's calls failed: {dict(failed)}")
    callids = await js.key_value(wire.CALLIDS_BUCKET)
    key = mac_key()
    targets = []
    for call_id in ids:
        token = ((await callids.get(wire.callid_key(call_id))).value or b"").decode()
        segment = wire.sign_token(token, key)
        targets.append([gateway.url + wire.HOOK_PATH.format(token=segment), call_id])
    return targets


async def _load_step(
    gateway: GatewayProcess,
    nats_server_pid: int,
    js: JetStreamContext,
    targets: list[list[str]],
    rate: float,
    seconds: float,
    run: str,
) -> dict[str, Any]:
    gw0, nats0 = cpu_seconds(gateway.pid), cpu_seconds(nats_server_pid)
    plan = {
        "targets": targets,
        "rate": rate,
        "seconds": seconds,
        "connections": int(_env("BENCH_GATEWAY_CONNECTIONS", 256)),
        "run": run,
        "watch": {"gateway": gateway.pid, "nats-server": nats_server_pid},
    }
    result = await asyncio.to_thread(finish_load, start_load(plan))
    # The machine over the load itself (measured by the generator, its start-up excluded).
    window = Window.from_json(result["machine"])
    backlog, drain_seconds = await _drain(js)
    per_k = max(result["ok"], 1) / 1000
    result.update(
        rate=rate,
        seconds=seconds,
        window=window,
        backlog=backlog,
        drain_seconds=drain_seconds,
        gateway_cpu_per_k=(cpu_seconds(gateway.pid) - gw0) / per_k,
        nats_cpu_per_k=(cpu_seconds(nats_server_pid) - nats0) / per_k,
        load_cpu_per_k=result["cpu_seconds"] / per_k,
    )
    return result


def _errors(result: dict[str, Any]) -> int:
    return sum(result["errors"].values())


def _sustained(result: dict[str, Any]) -> bool:
    return (
        _errors(result) == 0
        and result["latency_ms"]["p99"] <= P99_GOAL_MS
        and result["achieved_per_s"] >= 0.95 * result["rate"]
    )


def _latency_text(r: dict[str, Any]) -> str:
    lat = r["latency_ms"]
    errors = ", ".join(f"{n} {k}" for k, n in r["errors"].items()) or "0 errors"
    return (
        f"{r['achieved_per_s']:,.0f}/s achieved; p50 / p99 / max "
        f"{_ms(lat['p50'])} / {_ms(lat['p99'])} / {_ms(lat['max'])} ms; {errors}; "
        f"{r['connections']} connections, generator lag p99 {_ms(r['lateness_ms']['p99'])} ms"
    )


def _cpu_text(r: dict[str, Any]) -> str:
    return (
        f"gateway {r['gateway_cpu_per_k']:.2f} s, nats-server {r['nats_cpu_per_k']:.2f} s "
        f"(load generator {r['load_cpu_per_k']:.2f} s); consumer backlog at the end "
        f"{r['backlog']:,}, drained in {r['drain_seconds']:.1f} s"
    )


async def intake() -> list[Row]:
    rows: list[Row] = []
    rates = _env_list("BENCH_GATEWAY_RATES", "500,1000")
    seconds = _env("BENCH_GATEWAY_SECONDS", 10)
    steps = _env_list("BENCH_GATEWAY_STEPS", "1250,1500,1750,2000,2500,3000")
    step_seconds = _env("BENCH_GATEWAY_STEP_SECONDS", 5)
    with NatsServer() as nats_server:
        server_pid = nats_pid()
        sandbox = SandboxProcess("--time-scale", "1", "--max-call-seconds", "100000")
        gateway: GatewayProcess | None = None
        nc = None
        try:
            gateway = GatewayProcess(sandbox.url, nats_server.url)
            nc = await nats.connect(nats_server.url)
            js = nc.jetstream()
            async with aiohttp.ClientSession() as session:
                targets = await _intake_targets(session, gateway, js)
            await asyncio.sleep(2.5)  # the calls answer; their own events go by
            # Warm up: connections, the consumers' first fetches (not reported).
            await _load_step(gateway, server_pid, js, targets, 200, 1.0, "warm")
            for rate in rates:
                r = await _load_step(gateway, server_pid, js, targets, rate, seconds, f"r{rate}")
                name = f"gateway intake: {rate:,.0f}/s offered for {seconds:g} s"
                target = "p99 <= 50 ms at 1,000/s" if rate == 1000 else ""
                rows.append(Row(name, f"{_latency_text(r)} {r['window'].note()}", target))
                rows.append(
                    Row(f"gateway intake: CPU per 1,000 webhooks at {rate:,.0f}/s", _cpu_text(r))
                )
            best: float | None = None
            for rate in steps:
                r = await _load_step(
                    gateway, server_pid, js, targets, rate, step_seconds, f"s{rate}"
                )
                ok = _sustained(r)
                rows.append(
                    Row(
                        f"gateway intake step-up: {rate:,.0f}/s for {step_seconds:g} s",
                        f"{'ok' if ok else 'FAILS'}: {_latency_text(r)}; gateway CPU "
                        f"{r['gateway_cpu_per_k']:.2f} s/1,000, backlog {r['backlog']:,} "
                        f"(drained {r['drain_seconds']:.1f} s) {r['window'].note()}",
                    )
                )
                if not ok:
                    break
                best = rate
            if steps:
                rows.append(
                    Row(
                        "gateway intake: highest rate one gateway process sustains",
                        f"{best:,.0f}/s" if best is not None else f"below {steps[0]:,.0f}/s",
                        ">= 2,000/s (p99 <= 50 ms, no errors)",
                    )
                )
            problems = gateway.problems()
            if problems:
                rows.append(
                    Row("gateway intake: gateway warnings", f"{len(problems)}: {problems[0][:160]}")
                )
        finally:
            if nc is not None:
                await nc.close()
            if gateway is not None:
                gateway.stop()
            sandbox.stop()
    return rows


# ====================================================================== 2. interpreter


async def _wait_ended(session: aiohttp.ClientSession, sandbox_url: str, within: float) -> float:
    """Seconds until the sandbox has no live call (``within`` if it still has)."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        async with session.get(sandbox_url + "/sandbox/health") as resp:
            if (await resp.json())["live"] == 0:
                break
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def _records(
    session: aiohttp.ClientSession, sandbox_url: str, ids: list[str]
) -> list[dict[str, Any]]:
    gate = asyncio.Semaphore(20)

    async def one(call_id: str) -> dict[str, Any]:
        async with gate, session.get(f"{sandbox_url}/sandbox/calls/{call_id}") as resp:
            return dict((await resp.json())["call"])

    return list(await asyncio.gather(*(one(c) for c in ids)))


def _events(record: dict[str, Any]) -> list[tuple[float, str, dict[str, Any]]]:
    """(at, kind, entry) of the timeline, kind being the event's name or the type."""
    out = []
    for entry in record["timeline"]:
        kind = entry["event"] if entry["type"] == "event" else entry["type"]
        out.append((_at(entry["at"]), kind, entry))
    return out


def _after(
    timeline: list[tuple[float, str, dict[str, Any]]], event: str, then: str
) -> float | None:
    """Seconds from the first ``event`` to the first ``then`` after it."""
    start = next((at for at, kind, _ in timeline if kind == event), None)
    if start is None:
        return None
    end = next((at for at, kind, _ in timeline if kind == then and at >= start), None)
    return None if end is None else end - start


async def _copy_latencies(gw: GatewayThread) -> list[float]:
    return list(gw.ctx.runtime.interpreter.latencies)


async def interpreter() -> list[Row]:
    calls = int(_env("BENCH_GATEWAY_ANSWERS", 100))
    rate = _env("BENCH_GATEWAY_ANSWER_RATE", 20)
    with tempfile.TemporaryDirectory() as tmp, NatsServer() as nats_server:
        secret = Path(tmp) / "secret"
        secret.write_text(BENCH_SECRET)
        secret.chmod(0o600)
        sandbox = SandboxProcess("--time-scale", "1")
        app: AppProcess | None = None
        gw: GatewayThread | None = None
        try:
            app = AppProcess("trivial")
            gw = GatewayThread(
                GatewayConfig(
                    upstream=sandbox.url,
                    nats_url=nats_server.url,
                    port=0,
                    allow_loopback=True,
                    secret_file=secret,
                )
            )
            gw.start()
            body = {
                "callerId": SandboxProcess.CALLER_ID,
                wire.EXTENSION_FIELD: {"url": app.url + "/voice"},
            }
            window = Window.start(
                {
                    "this process (gateway and client)": os.getpid(),
                    "nats-server": nats_pid(),
                    "sandbox": sandbox.pid,
                    "app": app.pid,
                }
            )
            async with aiohttp.ClientSession() as session:
                started = time.monotonic()
                placing = []
                for i in range(calls):
                    await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
                    placing.append(
                        asyncio.create_task(
                            _place(session, gw.url, [{**body, "number": f"1555{i:04d}0000"}])
                        )
                    )
                placed = await asyncio.gather(*placing)
                ids = [c for got, _ in placed for c in got]
                failed = sum(sum(f.values()) for _, f in placed)
                await asyncio.sleep(3)
                await _wait_ended(session, sandbox.url, 60)
                window.stop()
                records = await _records(session, sandbox.url, ids)
            inside = [s * 1000 for s in gw.run(_copy_latencies(gw))]
        finally:
            if gw is not None:
                gw.stop()
            if app is not None:
                app.stop()
            sandbox.stop()
    outside = [
        d * 1000
        for d in (_after(_events(r), "call.answered", "tts") for r in records)
        if d is not None
    ]
    return [
        Row(
            f"gateway interpreter: answer received -> first /voice ({len(inside)} of {calls} "
            f"calls answering at {rate:g}/s)",
            f"p50 / p99 / max {_ms(percentile(inside, 50))} / {_ms(percentile(inside, 99))} / "
            f"{_ms(max(inside, default=float('nan')))} ms"
            + (f"; {failed} makecalls failed" if failed else "")
            + f" {window.note()}",
            "p99 <= 30 ms",
        ),
        Row(
            "gateway interpreter: the same from the sandbox (answer emitted -> tts, "
            "with Kaphila's delivery)",
            f"p50 / p99 {_ms(percentile(outside, 50))} / {_ms(percentile(outside, 99))} ms "
            f"({len(outside)} calls)",
        ),
    ]


# ====================================================================== 3. IVR


def _ivr_steps(record: dict[str, Any]) -> dict[str, float | None]:
    """Seconds, from the sandbox's timeline: each event-driven step split into
    Kaphila's delivery (event emitted -> the gateway's 2xx) and the gateway's
    part (2xx -> the next speech reached Kaphila)."""
    timeline = _events(record)
    out: dict[str, float | None] = {}
    for name, event in (("answer", "call.answered"), ("gather", "gather.complete")):
        emitted = next(((at, e) for at, kind, e in timeline if kind == event), None)
        out[name] = _after(timeline, event, "tts")
        out[f"{name}_delivery"] = out[f"{name}_gateway"] = None
        if emitted is None:
            continue
        delivered = next(
            (
                at
                for at, kind, e in timeline
                if kind == "delivery"
                and e.get("eventId") == emitted[1]["eventId"]
                and isinstance(e.get("result"), int)
                and 200 <= e["result"] < 300
            ),
            None,
        )
        if delivered is not None:
            out[f"{name}_delivery"] = delivered - emitted[0]
            if out[name] is not None:
                out[f"{name}_gateway"] = emitted[0] + out[name] - delivered  # type: ignore[operator]
    spoken = [s for s in record["spoken"] if not s["interrupted"]]
    ended = next((at for at, kind, _ in timeline if kind == "call.ended"), None)
    out["listen"] = _after(timeline, "tts", "gather.started")
    out["hangup"] = None if ended is None or not spoken else ended - _at(spoken[-1]["endedAt"])
    return out


async def ivr() -> list[Row]:
    calls = int(_env("BENCH_GATEWAY_IVR_CALLS", 1000))
    expected = [IVR_WELCOME, IVR_PROMPT, ivr_goodbye("1234")]
    with NatsServer() as nats_server:
        server_pid = nats_pid()
        sandbox = SandboxProcess("--time-scale", "1", "--max-call-seconds", "600")
        app: AppProcess | None = None
        gateway: GatewayProcess | None = None
        try:
            app = AppProcess("ivr")
            gateway = GatewayProcess(sandbox.url, nats_server.url)
            pids = {
                "gateway": gateway.pid,
                "nats-server": server_pid,
                "sandbox": sandbox.pid,
                "app": app.pid,
            }
            window = Window.start({**pids, "bench client": os.getpid()})
            bodies = [
                {
                    "number": f"1555{i:04d}0007",
                    "callerId": SandboxProcess.CALLER_ID,
                    wire.EXTENSION_FIELD: {"url": app.url + "/voice"},
                }
                for i in range(calls)
            ]
            timeout = aiohttp.ClientTimeout(total=60)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                started = time.monotonic()
                ids, failed_places = await _place(session, gateway.url, bodies)
                placing = time.monotonic() - started
                await asyncio.sleep(2)
                await _wait_ended(session, sandbox.url, 300)
                all_done = time.monotonic() - started
                cpu = window.stop().cpu
                records = await _records(session, sandbox.url, ids)
            problems = gateway.problems()
        finally:
            if gateway is not None:
                gateway.stop()
            if app is not None:
                app.stop()
            sandbox.stop()
    heard_wrong = [
        r for r in records if [s["text"] for s in r["spoken"] if not s["interrupted"]] != expected
    ]
    ends = Counter(f"{r['status']}/{r['endReason']}" for r in records)
    steps = [_ivr_steps(r) for r in records]

    def ms(name: str) -> list[float]:
        return [s[name] * 1000 for s in steps if s[name] is not None]  # type: ignore[operator]

    event_steps = ms("answer") + ms("gather")
    failures = len(heard_wrong) + sum(failed_places.values()) + (calls - len(ids))
    wrong_example = ""
    if heard_wrong:
        sample = heard_wrong[0]
        wrong_example = (
            f" (e.g. {sample['status']}/{sample['endReason']}, heard "
            f"{[s['text'] for s in sample['spoken'] if not s['interrupted']]})"
        )

    def pct(values: list[float]) -> str:
        return f"{_ms(percentile(values, 50))} / {_ms(percentile(values, 99))} ms"

    return [
        Row(
            f"gateway IVR: {calls:,} calls, Say -> Gather(action) -> Say, all ended after",
            f"{all_done:.1f} s (placed in {placing:.1f} s; the script itself takes ~8.7 s) "
            f"{window.note()}",
        ),
        Row(
            "gateway IVR: step latency p50 / p99 (event emitted by Kaphila -> next <Say> at "
            "Kaphila: answer, gather result)",
            f"{pct(event_steps)} (answer {pct(ms('answer'))}, gather {pct(ms('gather'))})",
        ),
        Row(
            "gateway IVR: within a step, Kaphila's delivery (emitted -> 2xx) / the gateway "
            "(2xx -> <Say>), p50 / p99",
            f"{pct(ms('answer_delivery') + ms('gather_delivery'))} / "
            f"{pct(ms('answer_gateway') + ms('gather_gateway'))}",
        ),
        Row(
            "gateway IVR: <Say> -> <Gather> reaching Kaphila; last word -> hang-up (p50 / p99)",
            f"{pct(ms('listen'))}; {pct(ms('hangup'))}",
        ),
        Row(
            "gateway IVR: failures (not heard as scripted, or not placed)",
            f"{failures} of {calls:,}{wrong_example}; ends: "
            + ", ".join(f"{n} {k}" for k, n in ends.most_common(3))
            + (f"; gateway warnings {len(problems)}" if problems else ""),
            "0",
        ),
        Row(
            "gateway IVR: CPU seconds (gateway / nats-server / sandbox / app)",
            f"{cpu['gateway']:.1f} / {cpu['nats-server']:.1f} / {cpu['sandbox']:.1f} / "
            f"{cpu['app']:.1f} s = gateway {cpu['gateway'] / max(1, len(ids)) * 1000:.1f} ms "
            "per call",
        ),
    ]


# ====================================================================== all


def run() -> list[Row]:
    parts = os.environ.get("BENCH_GATEWAY_PARTS", "intake,interpreter,ivr").split(",")
    rows: list[Row] = []
    for name, part in (("intake", intake), ("interpreter", interpreter), ("ivr", ivr)):
        if name in parts:
            rows.extend(asyncio.run(part()))
    return rows
