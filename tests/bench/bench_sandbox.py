"""The sandbox at scale: 1,000 simultaneous calls on this machine.

Reports makecall requests/s and latency, webhook events delivered/s to a
loopback receiver (target >= 1,000/s), and the sandbox's RSS with 1,000 live
calls. The sandbox runs in its own process; this process is the client and
the webhook receiver.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp

from tests.bench.common import CountingReceiver, Row, SandboxProcess, percentile, rss_mb

CONCURRENCY = 50


async def _post_all(
    session: aiohttp.ClientSession, url: str, key: str, bodies: list[dict[str, object]]
) -> tuple[list[float], list[dict[str, object]]]:
    gate = asyncio.Semaphore(CONCURRENCY)
    latencies: list[float] = []
    answers: list[dict[str, object]] = []

    async def one(body: dict[str, object]) -> None:
        async with gate:
            started = time.perf_counter()
            async with session.post(
                url, json=body, headers={"Authorization": f"Bearer {key}"}
            ) as resp:
                data = await resp.json()
                if resp.status != 200:
                    raise RuntimeError(f"{url} answered {resp.status}: {data}")
            latencies.append((time.perf_counter() - started) * 1000)
            answers.append(data)

    await asyncio.gather(*(one(b) for b in bodies))
    return latencies, answers


async def measure(calls: int) -> list[Row]:
    sandbox = SandboxProcess("--time-scale", "100", "--max-call-seconds", "100000")
    receiver = CountingReceiver()
    await receiver.start()
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    try:
        async with aiohttp.ClientSession(connector=connector) as session:
            base_rss = rss_mb(sandbox.pid)
            # 0007: the callee answers every gather with scripted digits, so one
            # /gather request makes 10 webhooks (started, 4 x dtmf + progress, complete).
            numbers = [f"1555{i:04d}0007" for i in range(calls)]
            bodies: list[dict[str, object]] = [
                {"number": n, "callerId": SandboxProcess.CALLER_ID, "webhookUrl": receiver.url}
                for n in numbers
            ]
            started = time.perf_counter()
            latencies, answers = await _post_all(
                session, sandbox.url + "/makecall", SandboxProcess.KEY, bodies
            )
            makecall_seconds = time.perf_counter() - started
            await receiver.wait_count("call.answered", calls, within=120)
            live_rss = rss_mb(sandbox.pid)

            call_ids = [str(a["callId"]) for a in answers]
            before = len(receiver.arrivals)
            started = time.perf_counter()
            await _post_all(
                session,
                sandbox.url + "/gather",
                SandboxProcess.KEY,
                [{"callId": c, "numDigits": 4, "timeout": 600000} for c in call_ids],
            )
            await receiver.wait_count("gather.complete", calls, within=300)
            burst = receiver.arrivals[before:]
            events_per_second = len(burst) / (burst[-1] - started)

            await _post_all(
                session,
                sandbox.url + "/hangup",
                SandboxProcess.KEY,
                [{"callId": c} for c in call_ids],
            )
            await receiver.wait_count("call.ended", calls, within=120)
    finally:
        await receiver.stop()
        sandbox.stop()
    return [
        Row(
            f"sandbox: makecall requests/s ({calls} calls, {CONCURRENCY} in flight)",
            f"{calls / makecall_seconds:,.0f}/s",
        ),
        Row(
            "sandbox: makecall latency p50 / p99",
            f"{percentile(latencies, 50):.1f} / {percentile(latencies, 99):.1f} ms",
        ),
        Row(
            f"sandbox: webhooks delivered/s ({len(burst):,} gather events)",
            f"{events_per_second:,.0f}/s",
            ">= 1,000/s",
        ),
        Row(f"sandbox: RSS idle / with {calls} live calls", f"{base_rss:.0f} / {live_rss:.0f} MB"),
    ]


def run(calls: int = 1000) -> list[Row]:
    return asyncio.run(measure(calls))
