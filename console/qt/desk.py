"""The desk's Qt wiring: the window on a running console, the application's
loop, and the choices only a person can make (a taken port, a profile switch).

``run_window`` runs one console after another: saving a new active profile,
or a new key for the one in use, closes this console and starts the next at
once, with the same secret store, so a key typed without an OS keyring works
from that moment until the console closes.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from console.app import RESOURCES, Console, PortInUse, start_console
from console.config import Profile
from console.core.notices import Notice
from console.qt import wording
from console.services.secrets import SecretStore
from console.services.settings_store import UnsendableKey

if TYPE_CHECKING:
    from console.qt.history_view import HistoryWindow
    from console.qt.main_window import MainWindow

log = logging.getLogger("kaphila.console")


def settle_after_start() -> None:
    """Move everything created during start-up (modules, Qt wrappers, services) out
    of the garbage collector's sight: a full collection over them paused the GUI
    for ~65 ms under load. Refcounting still frees them as usual."""
    gc.collect()
    gc.freeze()
    # Refcounting frees nearly everything the console makes; the cyclic
    # collector's full passes (~40 ms over a busy board) are what stalls the
    # GUI. Young collections stay frequent, full ones become rare.
    gc.set_threshold(10_000, 20, 100)


def stylesheet(theme: str = "light") -> str:
    """One palette's style sheet alone (the app applies a whole theme: console.qt.theme)."""
    from console.qt.palette import PALETTES, qss

    return qss(PALETTES[theme])


def build_window(
    console: Console,
    on_close: Callable[[], None] | None = None,
    open_settings: Callable[[], None] | None = None,
) -> MainWindow:
    """The operator's window wired to a running console (the app, tests, screenshots)."""
    from console.qt.main_window import MainWindow, WindowServices

    sandbox = console.sandbox is not None
    history: list[HistoryWindow] = []

    def open_history() -> None:
        from console.qt.history_view import HistoryServices, HistoryWindow

        if not history:
            history.append(
                HistoryWindow(
                    HistoryServices(
                        console.history,
                        console.journal.problem if console.journal else None,
                        console.fire,
                        console.delete_history,
                        console.set_retention,
                        console.settings.history_days,
                    ),
                    window,
                )
            )
            console.session.subscribe(lambda _: history[0].live_update())
        history[0].show()
        history[0].raise_()
        history[0].activateWindow()

    services = WindowServices(
        dispatch=console.session.dispatch,
        callee_press=(lambda sid, d: console.fire(console.callee_press(sid, d)))
        if sandbox
        else None,
        callee_hangup=(lambda sid: console.fire(console.callee_hangup(sid))) if sandbox else None,
        on_close=on_close,
        open_settings=open_settings,
        open_history=open_history,
    )
    window = MainWindow(console.profile, services, console.webhook_url())
    console.session.subscribe(window.on_state)
    window.show_warnings(console.warnings)
    if console.journal is not None:
        console.journal.on_problem(window.show_history_problem)
        window.show_history_problem(console.journal.problem)

        def on_notice(notice: Notice) -> None:
            console.warnings.append(notice)
            window.show_warnings(console.warnings)

        console.journal.on_notice(on_notice)
    return window


async def ask_port_taken(port: int) -> bool:
    """A taken listener port is the operator's choice, not a crash."""
    from PySide6.QtWidgets import QMessageBox

    box = QMessageBox(
        QMessageBox.Icon.Warning,
        "Webhook port in use",
        f"Port {port}, where this profile receives webhooks, is in use by "
        "another program (is a second console running?).",
    )
    box.setInformativeText(
        "Listen on another port for now? Webhooks for calls placed "
        "before may then not arrive; those calls are checked with the "
        "API instead. Or quit, free the port and start again."
    )
    elsewhere = box.addButton("Listen on another port", QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(elsewhere)
    box.open()
    done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    box.finished.connect(lambda _: done.done() or done.set_result(box.clickedButton() is elsewhere))
    return await done


async def run_window() -> int:
    """Consoles with their window, one after another, until the operator quits."""
    store: SecretStore | None = None
    while True:
        try:
            console = await start_console(store=store, port_taken=ask_port_taken)
        except PortInUse as exc:
            log.error("%s", exc)
            return 1
        store = console.store
        if not await _run_one(console):
            return 0


async def _run_one(console: Console) -> bool:
    """One console's window until it closes; True when the next profile should start."""
    from PySide6.QtCore import QTimer

    from console.qt.theme import apply_theme

    apply_theme(console.settings.theme)
    closing = asyncio.Event()
    switch = False
    window: MainWindow | None = None

    async def open_settings() -> None:
        from console.qt.settings_dialog import SettingsDialog

        dialog = SettingsDialog(
            console.settings, console.store.description, await console.keys_present(), window
        )

        def on_saved(profile: Profile, key: str | None, activate: bool) -> None:
            console.settings = replace(console.settings, theme=dialog.theme_setting())

            async def save() -> None:
                nonlocal switch
                try:
                    message = await console.save_profile(profile, key, activate)
                except UnsendableKey:
                    message = wording.KEY_UNSENDABLE
                assert window is not None
                window.statusBar().showMessage(message, 10000)
                if console.needs_restart(profile, key, activate):
                    switch = True
                    closing.set()

            console.fire(save())

        dialog.saved.connect(on_saved)
        dialog.open()

    window = build_window(
        console, on_close=closing.set, open_settings=lambda: console.fire(open_settings())
    )
    # Ctrl-C / SIGTERM in the terminal close the console cleanly; the 250 ms timer
    # below lets Python run signal handlers while Qt's loop waits.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: closing.set())
    wake = QTimer(window, interval=250)
    wake.start()
    timer = QTimer(window, interval=1000)
    timer.timeout.connect(console.tick)
    timer.timeout.connect(window.tick)
    timer.start()
    window.show()

    def shown() -> None:
        # Queued behind the window's first paint, so the probe times a painted
        # window and the start-up housekeeping does not hold that paint back.
        if os.environ.get("KAPHILA_STARTUP_PROBE"):  # packaging/build.py, tests/bench
            print("READY", flush=True)
            closing.set()
        settle_after_start()

    QTimer.singleShot(0, shown)
    await closing.wait()
    timer.stop()
    # What the window learnt (recent numbers, the caller ID in use) goes into the
    # profile as saved now, edits from Settings included.
    saved = console.settings.profile(window.profile.name)
    if saved is not None:
        console.settings = console.settings.with_profile(
            replace(
                saved,
                recent_numbers=window.profile.recent_numbers,
                last_caller_id=window.caller_id.currentText() or saved.last_caller_id,
            )
        )
        await console.save_settings()
    await console.close()
    window.hide()
    window.deleteLater()
    return switch


def main(argv: list[str] | None = None) -> int:
    import qasync
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from console.qt.theme import apply_theme

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("Kaphila Console")
    app.setDesktopFileName("kaphila-console")  # matches resources/kaphila-console.desktop
    app.setWindowIcon(QIcon(str(RESOURCES / "icons" / "kaphila-console.svg")))
    app.setQuitOnLastWindowClosed(False)  # qasync: we end main() ourselves
    apply_theme("system")  # run_window applies the saved choice once it has read the settings
    result: int = qasync.run(run_window())
    return result
