"""``kaphila-console --self-check``: prove an installed build works, one line per check.

Exits 0 only if every check passes:

1. keyring: the backend is a real one, or the no-keyring path says so;
2. fonts: some are present (without them every glyph is a box and nothing fails);
3. icu: ICU answers every service Qt calls (the build trims ICU's data:
   packaging/icudata.py);
4. sqlite: SQLite opens the journal (in a throw-away folder);
5. qt: the Qt platform plugin loads and the main window builds (offscreen);
6. call: the embedded sandbox starts, a call is placed through the SDK, and its
   webhooks arrive at the listener and reach the reducer.

Nothing touches the user's own settings, history or keyring entries.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO, TypeVar

T = TypeVar("T")

CALL_WAIT = 20.0  # seconds for the sandbox call to be answered (it rings 2 s)


class Checks:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.failed = 0

    def report(self, name: str, ok: bool, detail: str) -> None:
        self.failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}", file=self.out, flush=True)


async def run_checks(out: TextIO) -> int:
    from PySide6.QtGui import QFontDatabase, QGuiApplication

    from console.app import build_window, start_console
    from console.core.calls import CallStatus
    from console.core.events import DialRequested
    from console.services.journal import Journal
    from console.services.secrets import MemoryStore, open_secret_store

    checks = Checks(out)
    home = Path(tempfile.mkdtemp(prefix="kaphila-self-check-"))

    opened = await asyncio.get_running_loop().run_in_executor(None, open_secret_store)
    if opened.warning:
        checks.report(
            "keyring",
            isinstance(opened.store, MemoryStore),
            f"none usable, keys kept for the session only ({opened.warning.why}"
            + (f": {opened.warning.backend})" if opened.warning.backend else ")"),
        )
    else:
        checks.report(
            "keyring",
            True,
            f"{opened.store.description} ({getattr(opened.store, 'backend_name', '')})",
        )

    families = QFontDatabase.families()
    checks.report(
        "fonts",
        bool(families),
        f"{len(families)} families"
        + (f", e.g. {families[0]}" if families else " - install fonts-dejavu-core"),
    )

    problems, detail = icu_problems()
    checks.report("icu", not problems, f"missing: {', '.join(problems)}" if problems else detail)

    journal = Journal(home / "check.sqlite3", "self-check")
    await journal.open()
    checks.report("sqlite", journal.on, str(journal.problem or f"journal opened in {home}"))
    await journal.close()

    console = None
    try:
        console = await start_console(home / "settings.json", MemoryStore(), home / "data")
        window = build_window(console)
        window.show()
        platform = QGuiApplication.platformName()
        checks.report("qt", window.isVisible(), f"platform {platform!r}, main window built")
        number = "+15551230000"  # scenario 0000: a person answers
        caller = console.profile.caller_ids[0]
        console.session.dispatch(DialRequested("self-check", number, caller, time.time()))
        call = await _wait_for(
            lambda: next(
                (
                    c
                    for c in console.session.state.calls.values()
                    if c.status is CallStatus.IN_PROGRESS
                ),
                None,
            ),
            CALL_WAIT,
        )
        hooks = console.listener.accepted if console.listener is not None else 0
        checks.report(
            "call",
            call is not None and hooks >= 2,
            f"sandbox call {call.sid if call else '-'} answered; {hooks} webhooks "
            "reached the listener and the reducer",
        )
        window.close()
    except Exception as exc:  # every failure is a line, not a traceback
        checks.report("call", False, f"{type(exc).__name__}: {exc}")
    finally:
        if console is not None:
            await console.close()
        shutil.rmtree(home, ignore_errors=True)
    return 0 if checks.failed == 0 else 1


def icu_problems() -> tuple[list[str], str]:
    """What ICU fails to do of the four services Qt calls, and what was checked."""
    from PySide6.QtCore import QCollator, QLocale, QStringDecoder, QTimeZone

    problems = []
    # ICU sorts ä with a (before z) but Swedish puts it after z; plain code-point
    # order, Qt's fallback without ICU's data, gets the first one wrong.
    if not (
        QCollator(QLocale("en_US")).compare("ä", "z")
        < 0
        < QCollator(QLocale("sv_SE")).compare("ä", "z")
    ):
        problems.append("collation")
    if not QStringDecoder("Shift_JIS").isValid():
        problems.append("codecs")
    if QLocale("tr_TR").toUpper("i") != "İ":
        problems.append("case mapping")
    zone = QTimeZone(b"Europe/Berlin")
    zones = "time-zone names (de)"
    if not zone.isValid():  # no tz database on this host: nothing of ICU to ask
        zones = "time-zone names skipped (no tz database)"
    elif (
        zone.displayName(
            QTimeZone.TimeType.StandardTime, QTimeZone.NameType.LongName, QLocale("de_DE")
        )
        != "Mitteleuropäische Normalzeit"
    ):
        problems.append("time-zone names")
    return problems, f"collation (sv), codecs (Shift_JIS), case mapping (tr), {zones}"


async def _wait_for(probe: Callable[[], T | None], within: float) -> T | None:
    deadline = time.monotonic() + within
    while (found := probe()) is None and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    return found


def main(out: TextIO = sys.stdout) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import qasync
    from PySide6.QtWidgets import QApplication

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication([sys.argv[0]])
    app.setQuitOnLastWindowClosed(False)  # qasync: run_checks ends the loop itself
    result: int = qasync.run(run_checks(out))
    del app
    return result
