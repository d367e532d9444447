"""The team benchmark's real window: the console (``console.qt.desk.main``) on a
Team profile, on an X server (Xvfb), with the benchmark's measuring hooks.

Run by ``bench_team`` as ``python -m tests.bench.team_window`` with the
environment ``console.demo_team.window.prepare`` made (settings with one Team
profile on the gateway, the supervisor's token handed over) and ``DISPLAY``.
The hooks are the benchmark's, installed from outside; the console's code is
not changed:

- **stalls**: a 10 ms precise ``QTimer`` in the window's thread; each gap
  beyond its 10 ms is time the GUI thread could not run (a stall). Overshoots
  above 2 ms are kept with their time, and every tick is counted.
- **latency**: the console session's ``dispatch`` wrapped, as for the headless
  desks: the gateway's ``receivedAt`` of each stream webhook to the moment this
  window's state has it (the board repaints within its 16 ms coalescing).

At SIGTERM the console closes as it always does; then one JSON line on stdout:
``{"stalls": [[t, seconds]...], "ticks", "webhooks": [[receivedAt, seconds]...],
"board": <the supervisor board's module is present>}``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import time
from typing import Any

TICK_MS = 10
KEPT = 0.002


def main() -> int:
    import console.qt.desk as desk
    from console.app import Console
    from console.core.events import Event, WebhookReceived

    stalls: list[tuple[float, float]] = []
    webhooks: list[tuple[float, float]] = []
    ticks = [0]
    start_console = desk.start_console  # type: ignore[attr-defined]  # desk imports it
    run_window = desk.run_window

    async def measured_console(*args: Any, **kwargs: Any) -> Console:
        console = await start_console(*args, **kwargs)
        session = console.session
        original = session.dispatch

        def dispatch(event: Event) -> asyncio.Future[bool] | None:
            result = original(event)
            if isinstance(event, WebhookReceived) and event.seq:
                webhooks.append((event.received_at, time.time() - event.received_at))
            return result

        session.dispatch = dispatch  # type: ignore[method-assign]
        return console

    async def measured_window() -> int:
        from PySide6.QtCore import QElapsedTimer, Qt, QTimer

        clock = QElapsedTimer()
        clock.start()
        last = [clock.nsecsElapsed()]

        def tick() -> None:
            now = clock.nsecsElapsed()
            over = (now - last[0]) / 1e9 - TICK_MS / 1000
            last[0] = now
            ticks[0] += 1
            if over > KEPT:
                stalls.append((time.time(), over))

        timer = QTimer()
        timer.setTimerType(Qt.TimerType.PreciseTimer)
        timer.setInterval(TICK_MS)
        timer.timeout.connect(tick)
        timer.start()
        try:
            return await run_window()
        finally:
            timer.stop()

    # Both are looked up as module globals when main() and run_window() run.
    desk.start_console = measured_console  # type: ignore[attr-defined]
    desk.run_window = measured_window
    code = desk.main([sys.argv[0]])
    board = importlib.util.find_spec("console.qt.widgets.supervisor_board") is not None
    report = {"stalls": stalls, "ticks": ticks[0], "webhooks": webhooks, "board": board}
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
