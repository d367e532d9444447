"""A console restart with 10,000 live calls, against an external sandbox.

Setup (not timed). A sandbox runs in its own process on 127.0.0.1 with its
default rate limit (50 requests/s per key, bursts of 100), calls that last a
day (``--max-call-seconds``) and one account. A first console, in a child
process with the "Live" profile (not the sandbox profile: it talks to that
external sandbox by URL, with the account's key, a fixed listener port and a
data directory in a temp folder), places the 10,000 calls the realistic way:
an operator (a dialler) dispatches ``DialRequested`` at 49/s, just under the
key's limit, so the SDK's ``POST /makecall``, the ``DialAccepted`` and each
call's webhooks (``call.initiated``, ``call.answered``) are journaled as they
would be in use. Dialling takes ~205 s: the calls must belong to the key the
restarted console checks them with (``GET /calls/{id}`` answers 404 for
another account's call), and the sandbox's limit is per key and fixed per
process, so neither a second key nor a limit-free setup sandbox could leave
calls that the restart then checks against a 50/s limit. Numbers end in
"99": a person answers after ~2 s and stays on the line. No clock ticks run
in the setup console, so it makes no silence checks that would compete with
the dials for the key's budget. Once all 10,000 are answered it closes (its
journal written) and its process ends.

Timed, in this process: a new console on the same settings and data
directory (``start_console`` + ``build_window``, offscreen, on qasync, with
the one-second clock and the post-paint ``settle_after_start`` that the app
runs). Python modules are already imported here (the cold start is measured
by ``bench_console``). Reported:

(a) start to a usable window: the board's viewport painted while its model
    holds all 10,000 rows (and, inside that, how long ``start_console`` took);
(b) start until every call's restart ``CheckCall`` was answered
    (``CallChecked`` events with reason "restart", counted through the
    session's dispatch), the check rate achieved, and how many 429s the
    sandbox answered (every HTTP answer the SDK got is counted by a requests
    response hook; the SDK retries a GET after a 429 by itself), cross-checked
    with the sandbox's ``/sandbox/stats`` request counters;
plus the longest GUI stall during the reconcile, the process's CPU time, the
silence checks the clock issued meanwhile, the RSS at the end, and how long
``Console.close()`` then takes with the checks still queued.

The wait for (b) is bounded (1.5x what ``CHECK_RATE`` allows, plus a
minute): a console that checks more slowly is reported UNFINISHED with the
time its rate would need, since every 30 s of waiting adds a silence check
per unchecked call to the queue (and to the close). ``BENCH_RESTART_CALLS``
sets a smaller number of calls for a quick trial run.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.bench.common import Row, SandboxProcess, rss_mb

CALLS = int(os.environ.get("BENCH_RESTART_CALLS", "10000"))  # fewer: a quick trial run
DIAL_RATE = 49.0  # dials a second in the setup: just under the sandbox's 50/s per key
PROFILE = "Live"
CALL_SECONDS = 86_400  # the sandbox ends a call nobody hangs up after this (simulated s)
ROOT = Path(__file__).resolve().parents[2]


def number(i: int) -> str:
    """A distinct E.164 number whose last four digits ("..99") pick no scenario:
    a person answers after ~2 s and stays."""
    return f"+1555{i:05d}99"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_settings(path: Path, sandbox_url: str) -> None:
    from console import config
    from console.config import Profile, Settings
    from console.services.webhooks import new_token

    caller_id = "+" + SandboxProcess.CALLER_ID
    profile = Profile(
        PROFILE,
        base_url=sandbox_url,
        caller_ids=(caller_id,),
        last_caller_id=caller_id,
        listener_port=free_port(),
        webhook_token=new_token(),
    )
    config.save(Settings(profiles=(profile,), active=PROFILE), path)


def memory_store() -> Any:
    from console.services.secrets import MemoryStore

    store = MemoryStore()
    store.set(PROFILE, SandboxProcess.KEY)
    return store


def say(text: str) -> None:
    print(f"  restart: {text}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ setup (child process)


async def place_calls(settings_path: Path, data_dir: Path, count: int) -> dict[str, Any]:
    """The first console: dial ``count`` calls at ``DIAL_RATE``, wait until all are
    answered (and journaled), close."""
    from console.app import start_console
    from console.core.calls import CallStatus
    from console.core.events import DialAccepted, DialFailed, DialRequested

    console = await start_console(settings_path, memory_store(), data_dir)
    caller_id = console.profile.caller_ids[0]
    outcomes: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    original = console.session.dispatch

    def counting(event: Any) -> Any:
        if isinstance(event, DialAccepted):
            outcomes["accepted"] += 1
        elif isinstance(event, DialFailed):
            outcomes["failed"] += 1
            failures[event.message] += 1
        return original(event)

    console.session.dispatch = counting  # type: ignore[method-assign]
    loop = asyncio.get_running_loop()
    started = loop.time()
    dialled = 0
    try:
        while outcomes["accepted"] < count:
            wanted = count - outcomes["accepted"]
            if wanted > 0 and dialled - outcomes["accepted"] - outcomes["failed"] < wanted:
                delay = started + dialled / DIAL_RATE - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                console.session.dispatch(
                    DialRequested(f"bench-{dialled}", number(dialled), caller_id, time.time())
                )
                dialled += 1
                if dialled % 1000 == 0:
                    say(
                        f"dialled {dialled:,} ({outcomes['accepted']:,} accepted, "
                        f"{outcomes['failed']} failed) in {loop.time() - started:.0f} s"
                    )
            else:  # all asked for: wait for the answers (a failure is dialled again)
                await asyncio.sleep(0.05)
            if loop.time() - started > count / DIAL_RATE * 2 + 120:
                raise RuntimeError(f"dialling stalled: {dict(outcomes)} {dict(failures)}")
        dial_seconds = loop.time() - started

        def answered() -> int:
            return sum(
                1
                for c in console.session.state.calls.values()
                if c.status is CallStatus.IN_PROGRESS
            )

        async with asyncio.timeout(180):
            while (n := answered()) < count:  # noqa: ASYNC110 - the session has no event
                await asyncio.sleep(0.5)
        assert console.journal is not None
        await console.journal.flush()
        stored = console.journal.stored
        live = sum(1 for c in console.session.state.calls.values() if c.live)
    finally:
        await console.close()
    return {
        "dialled": dialled,
        "accepted": outcomes["accepted"],
        "failed": outcomes["failed"],
        "failures": dict(failures),
        "dial_seconds": dial_seconds,
        "answered": n,
        "live": live,
        "journaled": stored,
        "seconds": loop.time() - started,
    }


def setup(settings_path: Path, data_dir: Path) -> dict[str, Any]:
    """Run ``place_calls`` in a child process (a console is one process; the
    restarted one then starts with nothing of the first in memory)."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.bench.bench_restart",
            "setup",
            str(settings_path),
            str(data_dir),
            str(CALLS),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
        timeout=CALLS / DIAL_RATE * 2 + 600,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# ------------------------------------------------------------------ the restart (timed)


async def sandbox_requests(url: str) -> int:
    """Public API requests the sandbox has received so far (all paths)."""
    import aiohttp

    async with aiohttp.ClientSession() as http, http.get(f"{url}/sandbox/stats") as resp:
        body = await resp.json()
    return sum(body["requests"].values())


async def measure(sandbox_url: str, settings_path: Path, data_dir: Path) -> list[Row]:
    import requests  # noqa: F401 - the SDK's transport: imported before the clock starts
    from PySide6.QtCore import QEvent, QObject, QTimer

    from console.app import build_window, settle_after_start, start_console
    from console.core.events import CallChecked, CheckReason, Tick
    from console.services import telephony
    from console.services.session import CHECKERS

    loop = asyncio.get_running_loop()
    store = memory_store()
    requests_before = await sandbox_requests(sandbox_url)
    rss_before = rss_mb(os.getpid())
    cpu_before = time.process_time()

    t0 = time.perf_counter()
    console = await start_console(settings_path, store, data_dir)
    t_console = time.perf_counter()
    # No await since start_console dispatched ReconcileRequested: no check has run yet.
    restart_checked: dict[str, float] = {}
    counts: Counter[str] = Counter()
    done = asyncio.Event()
    session = console.session
    original = session.dispatch

    def counting(event: Any) -> Any:
        if isinstance(event, CallChecked):
            if not event.reachable:
                counts["unreachable"] += 1
            if event.reason is CheckReason.RESTART:
                restart_checked.setdefault(event.call_sid, time.perf_counter())
                if len(restart_checked) >= CALLS:
                    done.set()
            else:
                counts["silent answered"] += 1
        if isinstance(event, Tick):
            before = len(session._tasks)
            stored = original(event)
            counts["silent issued"] += len(session._tasks) - before
            return stored
        return original(event)

    session.dispatch = counting  # type: ignore[method-assign]
    statuses: list[int] = []  # list.append is atomic: the hook runs on the SDK's threads

    def on_response(response: Any, *args: object, **kwargs: object) -> None:
        statuses.append(response.status_code)

    http_client = console.telephony._client.http_client  # type: ignore[attr-defined]
    http_client.request_hooks = {"response": [on_response]}
    reconcile_started = len(session._tasks)

    window = build_window(console)
    t_built = time.perf_counter()
    first_paint: list[float] = []
    usable: asyncio.Future[float] = loop.create_future()

    class PaintWatch(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                if not first_paint:
                    first_paint.append(time.perf_counter())
                if window.board.rowCount() >= CALLS and not usable.done():
                    # Queued behind this paint: the time once it has been processed.
                    QTimer.singleShot(
                        0, lambda: usable.done() or usable.set_result(time.perf_counter())
                    )
            return False

    watch = PaintWatch()
    window.table.viewport().installEventFilter(watch)
    gaps: list[float] = []
    last = [time.perf_counter()]

    def heartbeat() -> None:
        now = time.perf_counter()
        gaps.append((now - last[0]) * 1000)
        last[0] = now

    beat = QTimer(interval=10)
    beat.timeout.connect(heartbeat)
    clock = QTimer(window, interval=1000)  # as run_window does
    clock.timeout.connect(console.tick)
    clock.timeout.connect(window.tick)
    window.show()
    QTimer.singleShot(0, settle_after_start)
    clock.start()
    try:
        t_usable = await asyncio.wait_for(usable, 600)
        say(f"usable window after {t_usable - t0:.2f} s; reconciling ...")
        gaps.clear()
        last[0] = time.perf_counter()
        beat.start()
        cpu_usable = time.process_time()
        # Bounded: past this the queue of checks (and so the close) only grows.
        limit = CALLS / telephony.CHECK_RATE * 1.5 + 60
        while not done.is_set():
            try:
                await asyncio.wait_for(done.wait(), 30)
            except TimeoutError:
                say(f"{len(restart_checked):,} checked after {time.perf_counter() - t0:.0f} s")
            if time.perf_counter() - t_usable > limit:
                say(f"reconcile unfinished after {limit:.0f} s")
                break
        t_done = (
            max(restart_checked.values()) if len(restart_checked) >= CALLS else time.perf_counter()
        )
        cpu_done = time.process_time()
        beat.stop()
        rss = rss_mb(os.getpid())
        queued = len(session._tasks)
        statuses_now = Counter(statuses)
        requests_during = await sandbox_requests(sandbox_url) - requests_before
        live = sum(1 for c in session.state.calls.values() if c.live)
    finally:
        clock.stop()
        beat.stop()
        say(f"closing the console ({len(session._tasks):,} effects queued) ...")
        t_close = time.perf_counter()
        await console.close()
        close_seconds = time.perf_counter() - t_close
        window.close()
        window.deleteLater()

    checked = len(restart_checked)
    times = sorted(restart_checked.values())
    rate = (checked - 1) / (times[-1] - times[0]) if checked > 1 else 0.0
    n429 = statuses_now.get(429, 0)
    others = {s: n for s, n in statuses_now.items() if s not in (200, 429)}
    say(
        f"start_console {t_console - t0:.2f} s, window built {t_built - t_console:.2f} s, "
        f"first paint {(first_paint[0] - t0) if first_paint else float('nan'):.2f} s, "
        f"effects queued by the reconcile {reconcile_started}"
    )
    say(
        f"HTTP answers to the SDK: {dict(statuses_now)}; sandbox counted {requests_during} "
        f"API requests; silence checks issued {counts['silent issued']}, answered "
        f"{counts['silent answered']}; effects still queued at the end {queued}"
    )
    reconcile_cpu = cpu_done - cpu_usable
    reconcile_wall = t_done - t_usable
    return [
        Row(
            f"restart: start to a usable window ({CALLS:,} live calls painted on the board)",
            f"{t_usable - t0:.2f} s (start_console {t_console - t0:.2f} s, window built "
            f"{t_built - t_console:.2f} s)",
            "",
        ),
        Row(
            f"restart: start until all {CALLS:,} calls are checked with the API",
            (
                f"{t_done - t0:.1f} s"
                if checked >= CALLS
                else f"UNFINISHED: stopped after {t_done - t0:.0f} s, at this rate "
                f"~{t_usable - t0 + CALLS / max(rate, 1e-9):.0f} s"
            )
            + f" ({checked:,} checked, {live:,} still live, "
            f"{counts['unreachable']} unreachable)",
            "",
        ),
        Row(
            "restart: check rate (sandbox limit 50/s per key)",
            f"{rate:.1f} checks/s (CHECK_RATE {telephony.CHECK_RATE:g}, {CHECKERS} at once)",
            "",
        ),
        Row(
            "restart: 429s answered by the sandbox",
            f"{n429} (of {sum(statuses_now.values()):,} answers; sandbox counted "
            f"{requests_during:,} requests"
            + (f"; other statuses {others}" if others else "")
            + ")",
            "0",
        ),
        Row(
            "restart: GUI while reconciling (longest stall; CPU of the process)",
            f"{max(gaps, default=0.0):.0f} ms; {reconcile_cpu:.0f} s CPU in "
            f"{reconcile_wall:.0f} s ({100 * reconcile_cpu / max(reconcile_wall, 1e-9):.0f}%)",
            "",
        ),
        Row(
            "restart: silence checks issued by the clock during the reconcile",
            f"{counts['silent issued']:,} ({queued:,} effects still queued at the end)",
            "",
        ),
        Row("restart: console.close() with those effects queued", f"{close_seconds:.1f} s", ""),
        Row(
            f"restart: RSS at the end ({CALLS:,} live calls, window)",
            f"{rss:.0f} MB ({rss - rss_before:+.0f} MB over this process before the restart; "
            f"CPU to usable {cpu_usable - cpu_before:.1f} s)",
            "",
        ),
    ]


def run() -> list[Row]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import qasync
    from PySide6.QtWidgets import QApplication

    import console.app  # noqa: F401 - fails now, not after the 200 s of setup

    home = Path(tempfile.mkdtemp(prefix="kaphila-bench-restart-"))
    sandbox = SandboxProcess(
        "--rate-limit",
        "50",  # the last --rate-limit wins: the default
        "--max-call-seconds",
        str(CALL_SECONDS),
    )
    try:
        settings_path, data_dir = home / "settings.json", home / "data"
        write_settings(settings_path, sandbox.url)
        say(f"placing {CALLS:,} calls through a first console at {DIAL_RATE:g}/s ...")
        placed = setup(settings_path, data_dir)
        say(f"setup: {json.dumps(placed)}")
        if placed["live"] != CALLS:
            raise RuntimeError(f"setup left {placed['live']} live calls, not {CALLS}")
        app = QApplication.instance() or QApplication([])
        app.setQuitOnLastWindowClosed(False)  # as the app does: measure() ends the loop
        rows: list[Row] = qasync.run(measure(sandbox.url, settings_path, data_dir))
        del app
        rows.insert(
            0,
            Row(
                f"restart: setup, {CALLS:,} calls dialled through a console",
                f"{placed['dial_seconds']:.0f} s at {DIAL_RATE:g}/s "
                f"({placed['failed']} dials failed and were redone; "
                f"{placed['journaled']:,} events journaled)",
                "",
            ),
        )
        errors = sandbox.errors().strip()
        if errors:
            say(f"sandbox stderr (last lines): {errors.splitlines()[-3:]}")
        return rows
    finally:
        sandbox.stop()
        shutil.rmtree(home, ignore_errors=True)


def _main(argv: list[str]) -> int:
    if len(argv) != 4 or argv[0] != "setup":
        print(
            "usage: python -m tests.bench.bench_restart setup SETTINGS DATA_DIR COUNT",
            file=sys.stderr,
        )
        return 2
    result = asyncio.run(place_calls(Path(argv[1]), Path(argv[2]), int(argv[3])))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
