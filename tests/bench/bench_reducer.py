"""The reducer's cost per webhook, and the memory it holds, with 100, 10,000 and
50,000 live calls (issue 11 A6: flat from 100 to 50,000), and under a flood of
50,000 unknown call ids and duplicates (bounded).

Each size runs in its own interpreter so one size's garbage does not weigh on
the next one's memory figure.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.bench.common import Row

WORKER = r"""
import gc, json, resource, sys, time, tracemalloc
from console.core.events import DialAccepted, DialRequested
from console.services.webhook_events import webhook_event
from console.core.reducer import State, reduce

n, flood = int(sys.argv[1]), sys.argv[2] == "flood"

def hook(sid, event, at, status="in-progress"):
    return webhook_event({"CallSid": sid, "CallStatus": status, "KaphilaEvent": event,
                          "To": "+15551230000", "From": "+19876543210"},
                         {"callId": sid, "event": event}, at, at)

tracemalloc.start()
state = State()
for i in range(n):  # n live calls placed here, each answered
    sid = f"{i}.1"
    state, _ = reduce(state, DialRequested(f"r{i}", f"+1555{i:07d}", "+19876543210", at=0.0))
    state, _ = reduce(state, DialAccepted(f"r{i}", sid, at=0.0))
    state, _ = reduce(state, hook(sid, "call.answered", 1.0))
if flood:  # 50,000 webhooks for ids never placed here, then each again
    for i in range(50_000):
        state, _ = reduce(state, hook(f"x{i}", "call.initiated", 2.0, "ringing"))
    for i in range(50_000):
        state, _ = reduce(state, hook(f"{i % n}.1", "call.answered", 1.0))
gc.collect()
held = tracemalloc.get_traced_memory()[0]
tracemalloc.stop()
events = [hook(f"{i % n}.1", "dtmf.received", 3.0 + i) for i in range(20_000)]
best = float("inf")
for _ in range(3):
    s = state
    started = time.perf_counter()
    for event in events:
        s, _ = reduce(s, event)
    best = min(best, (time.perf_counter() - started) / len(events))
print(json.dumps({"us": best * 1e6, "mb": held / 1e6, "calls": len(state.calls)}))
"""


def measure(n: int, flood: bool = False) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", WORKER, str(n), "flood" if flood else "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def run() -> list[Row]:
    rows = []
    base = None
    for n in (100, 10_000, 50_000):
        r = measure(n)
        base = base or r["us"]
        rows.append(
            Row(
                f"reducer: webhook with {n:,} live calls",
                f"{r['us']:.1f} µs/event ({r['us'] / base:.1f}x the 100-call cost), "
                f"state {r['mb']:.1f} MB",
                "flat from 100 to 50,000",
            )
        )
    r = measure(100, flood=True)
    rows.append(
        Row(
            "reducer: after 50,000 unknown ids + 50,000 duplicates",
            f"{r['us']:.1f} µs/event, state {r['mb']:.1f} MB, {int(r['calls']):,} calls held",
            "bounded (≤ 1,000 not placed here)",
        )
    )
    return rows
