"""Take the README's screenshots of the real window under Xvfb.

    xvfb-run -a -s "-screen 0 1700x1100x24" .venv/bin/python packaging/screenshots.py

Runs the console against its embedded sandbox (in a throw-away config dir),
drives it like an operator and saves PNGs to resources/screenshots/: the
window with three calls in the light and the dark theme at 1024x700 and
1600x1000 (``main-<theme>-<width>.png``), the settings and history windows in
both themes, and the rest in the light theme.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import qasync
from PySide6.QtWidgets import QApplication

from console.app import build_window, start_console
from console.qt.theme import apply_theme
from console.services.secrets import MemoryStore

OUT = Path(__file__).resolve().parent.parent / "resources" / "screenshots"
SIZES = ((1024, 700), (1600, 1000))  # a small laptop, a common desktop
THEMES = ("light", "dark")


async def in_each_theme(shoot: Callable[[str], Awaitable[None]]) -> None:
    """Run ``shoot(theme)`` in each theme, then go back to light."""
    for theme in THEMES:
        apply_theme(theme)
        await asyncio.sleep(0.2)
        await shoot(theme)
    apply_theme("light")


async def take() -> None:
    console = await start_console(store=MemoryStore())
    window = build_window(console)
    window.show()
    await asyncio.sleep(0.5)
    OUT.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(OUT / "main-idle.png"))
    for number in ("+15551230001", "+15551230008", "+15551230000"):
        window.number.setText(number)
        window.dial()
        await asyncio.sleep(0.3)
    await asyncio.sleep(2.5)
    window.table.selectRow(2)
    await asyncio.sleep(0.1)
    window.speak_text.setText("Hello, this is Acme support.")
    window.speak()
    await asyncio.sleep(0.6)
    window.gather_prompt.setText("Enter your account number")
    window.gather_digits.setValue(4)
    window.gather()
    await asyncio.sleep(2.5)
    await console.callee_press(window.selected or "", "12")
    await asyncio.sleep(1.0)
    console.tick()
    window.tick()
    await asyncio.sleep(0.2)
    window.grab().save(str(OUT / "main-three-calls.png"))

    async def main_window(theme: str) -> None:
        for width, height in SIZES:
            window.resize(width, height)
            await asyncio.sleep(0.3)
            window.tick()
            if window.size().toTuple() != (width, height):  # its minimum size is larger
                print(
                    f"main window: asked for {width}x{height}, got "
                    f"{window.width()}x{window.height()}",
                    file=sys.stderr,
                )
            window.grab().save(str(OUT / f"main-{theme}-{width}.png"))

    await in_each_theme(main_window)
    window.resize(1280, 800)

    from console.config import Profile
    from console.qt.settings_dialog import SettingsDialog

    settings = console.settings.with_profile(
        Profile(
            "Acme live",
            base_url="https://kaphila.com",
            caller_ids=("+14155550134",),
            public_webhook_base="https://acme-tunnel.example",
        )
    )
    dialog = SettingsDialog(
        settings, console.store.description, {p.name: True for p in settings.profiles}, window
    )
    dialog.profile_picker.setCurrentIndex(1)
    dialog.show()
    await asyncio.sleep(0.4)

    async def settings_dialog(theme: str) -> None:
        dialog.theme.setCurrentIndex(dialog.theme.findData(theme))
        await asyncio.sleep(0.1)
        dialog.grab().save(
            str(OUT / ("settings.png" if theme == "light" else f"settings-{theme}.png"))
        )

    await in_each_theme(settings_dialog)
    dialog.close()

    # History: end the three calls, add a few more outcomes, then search.
    assert console.sandbox is not None
    console.sandbox.simulator.clock.scale = 20.0
    for sid in list(console.session.state.board):
        await console.callee_hangup(sid)
    for number in (
        "+15551230003",
        "+15551230005",
        "+15551230006",
        "+15551230004",
        "+15551230002",
        "+15551230003",
    ):
        window.number.setText(number)
        window.ring_timeout.setValue(5)
        window.dial()
        await asyncio.sleep(0.2)
    await asyncio.sleep(6)
    assert console.journal is not None
    await console.journal.flush()
    from console.qt.history_view import HistoryWindow, TimelineDialog

    assert window.services.open_history is not None
    window.services.open_history()
    history = window.findChild(HistoryWindow)
    await asyncio.sleep(0.8)
    history.table.selectRow(1)
    await asyncio.sleep(0.2)

    async def history_window(theme: str) -> None:
        history.grab().save(
            str(OUT / ("history.png" if theme == "light" else f"history-{theme}.png"))
        )

    await in_each_theme(history_window)
    history.open_selected()
    await asyncio.sleep(0.6)
    timeline = history.findChild(TimelineDialog)
    if timeline is not None:
        timeline.entries.setCurrentCell(1, 0)
        await asyncio.sleep(0.2)
        timeline.grab().save(str(OUT / "history-timeline.png"))
        timeline.accept()
    await console.close()
    print(f"saved to {OUT}")


def main() -> int:
    if not os.environ.get("DISPLAY"):
        print(
            "run under Xvfb: xvfb-run -a .venv/bin/python packaging/screenshots.py", file=sys.stderr
        )
        return 2
    home = tempfile.mkdtemp(prefix="kaphila-shots-")  # never the user's own settings
    os.environ["XDG_CONFIG_HOME"] = f"{home}/config"
    os.environ["XDG_DATA_HOME"] = f"{home}/data"
    QApplication(sys.argv)
    apply_theme("light")
    qasync.run(take())
    return 0


if __name__ == "__main__":
    sys.exit(main())
