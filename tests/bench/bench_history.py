"""The journal and the history, measured with the console running.

- Journal throughput: events appended from the loop thread of a running
  console (window offscreen, listener up), committed in batches; target
  >= 5,000 events/s.
- The listener's answer time under load: a separate process posts webhooks
  at a fixed rate and times each answer; the 2xx waits for the commit.
- A history query over 100,000 calls with a filter (count + first page);
  target <= 100 ms.
- CSV export of 100,000 calls.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.common import Row, percentile, start_webhook_load

JOURNAL_EVENTS = 50_000
HISTORY_CALLS = 100_000
ANSWER_RATES = (500, 1000, 2000)

CALLERS = ("+19876543210", "+19876543211", "+14155550134", "+13125550199", "+12125550111")
STATUSES = (
    ("completed", 60),
    ("no-answer", 15),
    ("busy", 10),
    ("failed", 5),
    ("canceled", 5),
    ("in-progress", 5),
)
WORDS = (
    "order",
    "shipped",
    "appointment",
    "reminder",
    "payment",
    "due",
    "thank",
    "you",
    "please",
    "call",
    "back",
    "balance",
    "account",
    "verify",
    "delivery",
    "today",
)


def seed_history(path: Path, calls: int) -> None:
    """``calls`` rows over the last 90 days, written through the journal's schema."""
    from console.services.journal import CALL_COLUMNS, connect

    rng = random.Random(7)
    statuses = [s for s, weight in STATUSES for _ in range(weight)]
    now = time.time()
    conn = connect(path)
    rows = []
    for n in range(calls):
        started = now - rng.random() * 90 * 86400
        status = rng.choice(statuses)
        answered = started + rng.uniform(2, 20) if status in ("completed", "in-progress") else None
        ended = answered + rng.uniform(5, 600) if answered and status == "completed" else None
        amd = rng.choice(("human", "human", "machine", "unknown")) if answered else ""
        spoken = " ".join(rng.choices(WORDS, k=6)) if answered and rng.random() < 0.4 else ""
        row = {
            "sid": f"{int(started)}.{n}",
            "profile": "Sandbox",
            "number": f"+1555{rng.randrange(10**7):07d}",
            "caller_id": rng.choice(CALLERS),
            "started_at": started,
            "answered_at": answered,
            "ended_at": ended,
            "duration": (ended - answered) if ended and answered else None,
            "status": status,
            "amd": amd,
            "amd_confidence": rng.random() if amd else None,
            "digits": str(rng.randrange(10_000)) if answered and rng.random() < 0.3 else "",
            "forwards": "",
            "spoken": spoken,
            "end_reason": "",
            "placed_here": 1,
        }
        rows.append(tuple(row[c] for c in CALL_COLUMNS))  # by name: the spec sets the order
    marks = ", ".join("?" * len(CALL_COLUMNS))
    conn.execute("BEGIN")
    conn.executemany(
        f"INSERT INTO calls ({', '.join(CALL_COLUMNS)}) "  # noqa: S608 - constants
        f"VALUES ({marks})",
        rows,
    )
    conn.execute("COMMIT")
    conn.close()


async def history_rows(folder: Path) -> list[Row]:
    from console.services.history import History, HistoryFilter

    path = folder / "history.sqlite3"
    t0 = time.perf_counter()
    seed_history(path, HISTORY_CALLS)
    print(f"  seeded {HISTORY_CALLS:,} calls in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    history = History(path)
    week_ago = time.time() - 7 * 86400
    filters = {
        "none": HistoryFilter(),
        "status": HistoryFilter(status="no-answer"),
        "AMD": HistoryFilter(amd="machine"),
        "caller ID": HistoryFilter(caller_id="+14155550134"),
        "last 7 days": HistoryFilter(since=week_ago),
        "number": HistoryFilter(number="5551234"),
        "text": HistoryFilter(text="appointment"),
        "combined": HistoryFilter(since=week_ago, status="completed", amd="human", text="order"),
    }
    timings: dict[str, float] = {}
    for name, f in filters.items():
        samples = []
        for _ in range(5):
            start = time.perf_counter()
            await history.count(f)
            await history.page(f, "started", True, 0, 200)
            samples.append((time.perf_counter() - start) * 1000)
        timings[name] = sorted(samples)[2]
    deep = []
    for _ in range(3):
        start = time.perf_counter()
        await history.page(HistoryFilter(), "number", False, 99_800, 200)
        deep.append((time.perf_counter() - start) * 1000)
    out = folder / "export.csv"
    start = time.perf_counter()
    written = await history.export_csv(HistoryFilter(), out)
    export_s = time.perf_counter() - start
    size_mb = path.stat().st_size / 1e6
    await history.close()
    worst = max(timings, key=lambda k: timings[k])
    detail = ", ".join(f"{k} {v:.0f}" for k, v in timings.items())
    return [
        Row(
            f"history: query over {HISTORY_CALLS:,} calls, count + first page (median of 5)",
            f"worst {timings[worst]:.0f} ms ({worst}); {detail} ms",
            "<= 100 ms",
        ),
        Row("history: last page sorted by number (offset 99,800)", f"{sorted(deep)[1]:.0f} ms", ""),
        Row(
            f"history: CSV export of {written:,} calls",
            f"{export_s:.2f} s ({written / export_s:,.0f} rows/s, "
            f"{out.stat().st_size / 1e6:.0f} MB)",
            "",
        ),
        Row("history: database size for 100,000 calls (calls table only)", f"{size_mb:.0f} MB", ""),
    ]


async def answer_times(url: str) -> list[str]:
    rows = []
    for rate in ANSWER_RATES:
        proc = start_webhook_load(url, rate, 4, 2000, "dtmf.received", 128)
        out, _ = await asyncio.get_running_loop().run_in_executor(None, proc.communicate)
        result = json.loads(out)
        answers = result["answers"]
        achieved = len(answers) / result["seconds"]
        rows.append(
            f"{rate}/s (got {achieved:,.0f}/s): p50 {percentile(answers, 50):.1f} / "
            f"p99 {percentile(answers, 99):.1f} ms"
        )
        assert set(result["statuses"]) == {"204"}, result["statuses"]
    return rows


async def console_rows(folder: Path) -> list[Row]:
    from console.app import build_window, settle_after_start, start_console
    from console.services.journal import call_row
    from console.services.secrets import MemoryStore
    from console.services.webhook_events import webhook_event

    console = await start_console(
        settings_path=folder / "s.json", store=MemoryStore(), data_dir=folder / "data"
    )
    window = build_window(console)
    window.show()
    settle_after_start()
    journal = console.journal
    assert journal is not None
    assert journal.on
    from console.core.calls import Call, CallStatus

    # 1) The listener's answer time while the 2xx waits for the journal.
    answer_rows = await answer_times(console.listener.url)

    # 2) Raw journal throughput: appends from the loop thread, as the session makes them.
    raw = {
        "callId": "x",
        "event": "dtmf.received",
        "status": "answered",
        "digits": "5",
        "timestamp": "2026-01-01T00:00:01.000Z",
        "number": "15551230000",
        "callerId": "19876543210",
    }
    params = {
        "CallStatus": "in-progress",
        "Digits": "5",
        "KaphilaEvent": "dtmf.received",
        "To": "+15551230000",
        "From": "+19876543210",
    }
    batches_before = journal.batches
    start = time.perf_counter()
    futures = []
    for n in range(JOURNAL_EVENTS):
        sid = f"j.{n % 1000}"
        event = webhook_event({**params, "CallSid": sid}, raw, float(n), float(n))
        row = call_row(
            Call(sid, to="+15551230000", from_="+19876543210", status=CallStatus.IN_PROGRESS),
            "Sandbox",
        )
        futures.append(journal.append(event, sid, None, row))
        if n % 500 == 499:
            await asyncio.sleep(0)  # the loop keeps serving the window meanwhile
    stored = await asyncio.gather(*futures)
    raw_rate = JOURNAL_EVENTS / (time.perf_counter() - start)
    batches = journal.batches - batches_before
    assert all(stored)

    await journal.flush()
    stored_total = journal.stored
    await console.close()
    return [
        Row(
            f"journal: {JOURNAL_EVENTS:,} events appended with the console running",
            f"{raw_rate:,.0f} events/s in {batches:,} batches "
            f"({JOURNAL_EVENTS / max(batches, 1):.0f} per commit)",
            ">= 5,000/s",
        ),
        Row("journal: listener answer time (2xx after commit)", "; ".join(answer_rows), ""),
        Row("journal: events stored in this run", f"{stored_total:,}", ""),
    ]


async def measure() -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="kaphila-bench-") as name:
        folder = Path(name)
        rows = await console_rows(folder)
        rows += await history_rows(folder)
    return rows


def run() -> list[Row]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    rows: list[Row] = qasync.run(measure())
    del app
    return rows


if __name__ == "__main__":
    from tests.bench.common import print_table

    print_table(run())
