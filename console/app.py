"""The composition root: builds the services, wires them, shuts down in order.

On a first run there is no profile: the console starts an embedded sandbox on
loopback, creates the **Sandbox** profile (its key stored in the keyring like
any other) and the operator can dial a scenario number at once.

Start order: open the journal, rebuild the calls that were live from it (and
fail the requests that never got an answer), then open the listener, so a
webhook redelivered after a crash lands on the rebuilt state; then ask the API
how each rebuilt call is doing now.

Shutdown order: stop taking webhooks, let effects in flight finish (bounded),
stop the SDK's threads, write out the journal, stop the sandbox, save settings.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import secrets
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from console import config
from console.config import SANDBOX_PROFILE, Profile, Settings, SettingsError
from console.core.events import ReconcileRequested, Tick
from console.sandbox import Account, Sandbox, SandboxConfig
from console.sandbox.config import DEMO_CALLER_IDS
from console.services.history import History
from console.services.journal import FILE_NAME, Journal
from console.services.secrets import SecretStore, key_problem, open_secret_store
from console.services.session import Session
from console.services.telephony import Telephony
from console.services.webhooks import WebhookListener, masked_url, new_token
from twilio.rest import Client

if TYPE_CHECKING:
    from console.qt.history_view import HistoryWindow
    from console.qt.main_window import MainWindow

log = logging.getLogger("kaphila.console")

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
SHUTDOWN_GRACE = 3.0
RETENTION_EVERY = 3600.0  # seconds between retention sweeps while running
DAY = 86400.0


@dataclass
class Console:
    """Everything a running console is made of (tests drive it through this)."""

    settings: Settings
    profile: Profile
    session: Session
    telephony: Telephony
    listener: WebhookListener
    sandbox: Sandbox | None
    http: aiohttp.ClientSession
    warnings: list[str]
    store: SecretStore
    settings_path: Path | None = None
    journal: Journal | None = None
    history: History | None = None  # None: history is off (``journal.off_reason`` says why)
    _tasks: set[asyncio.Task[object]] = field(default_factory=set)
    _swept_at: float = 0.0
    _closed: bool = False

    def fire(self, work: Coroutine[Any, Any, object]) -> None:
        """Run ``work`` in the background on the loop (UI callbacks cannot await).

        A widget's timer can still fire after the console closed or outside the
        loop (Qt delivers it while a test or the app winds down): that work is
        dropped, never scheduled on a loop that is gone."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            work.close()
            return
        if self._closed:
            work.close()
            return
        task: asyncio.Task[object] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def webhook_url(self) -> str:
        base = self.profile.public_webhook_base.rstrip("/")
        if base:
            return f"{base}/hooks/{self.profile.webhook_token}"
        return self.listener.url

    async def callee_press(self, sid: str, digits: str) -> None:
        await self._control(f"/sandbox/calls/{sid}/press", {"digits": digits})

    async def callee_hangup(self, sid: str) -> None:
        await self._control(f"/sandbox/calls/{sid}/hangup", {})

    async def _control(self, path: str, body: dict[str, str]) -> None:
        if self.sandbox is None:
            return
        async with self.http.post(self.sandbox.url + path, json=body) as resp:
            if resp.status >= 400:
                log.warning("sandbox control %s: %s", path, (await resp.json()).get("error"))

    def tick(self) -> None:
        now = time.time()
        self.session.dispatch(Tick(now))
        if self.settings.history_days and now - self._swept_at > RETENTION_EVERY:
            self._swept_at = now
            self.fire(self.apply_retention())

    async def apply_retention(self) -> int:
        """Delete finished calls older than the retention setting (0 keeps all)."""
        days = self.settings.history_days
        if not days or self.journal is None:
            return 0
        deleted = await self.journal.delete(before=time.time() - days * DAY)
        if deleted:
            log.info("history: %d calls older than %d days deleted", deleted, days)
        return deleted

    async def delete_history(self) -> int:
        """Delete every finished call from the history (live calls stay)."""
        return await self.journal.delete(before=None) if self.journal is not None else 0

    async def set_retention(self, days: int) -> int:
        self.settings = replace(self.settings, history_days=max(0, int(days)))
        await self.save_settings()
        return await self.apply_retention()

    async def save_settings(self) -> None:
        """Write settings.json off the loop thread (it fsyncs)."""
        await asyncio.get_running_loop().run_in_executor(
            None, config.save, self.settings, self.settings_path)

    async def keys_present(self) -> dict[str, bool]:
        loop = asyncio.get_running_loop()
        return {p.name: bool(await loop.run_in_executor(None, self.store.get, p.name))
                for p in self.settings.profiles}

    async def save_profile(self, profile: Profile, key: str | None, activate: bool) -> str:
        """Store the key (keyring, off the loop thread) and the settings; say what happens.
        A key that cannot be sent is refused (``ValueError``) before it is stored."""
        if key and (problem := key_problem(key)):
            raise ValueError(problem)
        if key:
            await asyncio.get_running_loop().run_in_executor(None, self.store.set,
                                                             profile.name, key)
        settings = self.settings.with_profile(profile)
        if activate:
            settings = replace(settings, active=profile.name)
        self.settings = settings
        await self.save_settings()
        if profile.name == self.profile.name and not activate:
            return "Settings saved."
        return (f"Settings saved. The console uses {settings.active!r} from its next start."
                if settings.active != self.profile.name else "Settings saved.")

    async def close(self) -> None:
        await self.listener.stop()
        try:  # what the operator started (a settings save ...) finishes
            async with asyncio.timeout(SHUTDOWN_GRACE):
                while self._tasks:  # a finishing task may start another
                    await asyncio.gather(*self._tasks, return_exceptions=True)
        except TimeoutError:
            log.warning("shutdown: %d background tasks did not finish", len(self._tasks))
        self._closed = True
        try:
            async with asyncio.timeout(SHUTDOWN_GRACE):
                await self.session.drain()
        except TimeoutError:
            await self.session.cancel()
        await asyncio.get_running_loop().run_in_executor(None, self.telephony.close)
        if self.journal is not None:
            await self.journal.close()
        if self.history is not None:
            await self.history.close()
        await self.http.close()
        if self.sandbox is not None:
            await self.sandbox.stop()


PortTaken = Callable[[int], Awaitable[bool]]


async def start_console(settings_path: Path | None = None,
                        store: SecretStore | None = None,
                        data_dir: Path | None = None,
                        port_taken: PortTaken | None = None) -> Console:
    """Build and start everything but the window.

    The listener's port and token are the profile's for good: chosen on the
    first run and saved at once (a first run killed with -9 keeps them), so
    webhooks for calls placed before a restart still arrive. When the saved
    port is taken, ``port_taken(port)`` decides: True listens on another port
    for this run (saying so), False gives up with ``PortInUse``."""
    warnings: list[str] = []
    try:
        settings = config.load(settings_path)
    except SettingsError as exc:
        warnings.append(str(exc))
        settings = Settings()
    loop = asyncio.get_running_loop()
    if store is None:
        opened = await loop.run_in_executor(None, open_secret_store)
        store = opened.store
        if opened.warning:
            warnings.append(opened.warning)
    profile = settings.profile() or _sandbox_profile()
    sandbox = None
    key = await loop.run_in_executor(None, store.get, profile.name)
    if profile.sandbox:
        if not key:
            key = f"ak_sandbox_{secrets.token_hex(12)}"
            await loop.run_in_executor(None, store.set, profile.name, key)
        sandbox = Sandbox(SandboxConfig(port=0, accounts=[Account(
            key, tuple(c.lstrip("+") for c in profile.caller_ids), 1000, "console")]))
        await sandbox.start()
        profile = replace(profile, base_url=sandbox.url)
    elif not key:
        warnings.append(f"No API key is stored for the profile {profile.name!r}; "
                        "enter it in Settings.")
        key = "missing"
    elif problem := key_problem(key):  # stored by an older console
        warnings.append(f"The API key stored for the profile {profile.name!r} cannot be "
                        "used: " + problem)
        key = "missing"
    if insecure := config.insecure_url_warning(profile.base_url):
        warnings.append(insecure)
    if not profile.webhook_token:
        profile = replace(profile, webhook_token=new_token())
    settings = replace(settings.with_profile(profile), active=profile.name)
    # AMD "not sure" stays "unknown": the operator sees it as not sure, with its confidence.
    client = Client(profile.account_sid, key, base_url=profile.base_url, environment={},
                    amd_not_sure_as="unknown")
    holder: list[Console] = []
    telephony = Telephony(client, lambda: holder[0].webhook_url() if holder else None)
    journal = Journal((data_dir or config.data_dir()) / FILE_NAME, profile.name)
    await journal.open()
    session = Session(telephony.run, journal=journal)
    session.restore(await journal.replay())
    warnings.extend(journal.notices)
    if journal.problem:
        warnings.append(journal.problem)
    session.fail_interrupted(time.time())
    try:
        listener = await _start_listener(client, session, profile, warnings, port_taken)
    except BaseException:  # nothing started here outlives a console that did not start
        await journal.close()
        await loop.run_in_executor(None, telephony.close)
        if sandbox is not None:
            await sandbox.stop()
        raise
    if profile.listener_port == 0:
        profile = replace(profile, listener_port=listener.port)
        settings = settings.with_profile(profile)
    await loop.run_in_executor(None, config.save, settings, settings_path)
    console = Console(settings, profile, session, telephony, listener, sandbox,
                      aiohttp.ClientSession(), warnings, store, settings_path, journal,
                      History(journal.path))
    holder.append(console)
    if any(c.live for c in session.state.calls.values()):
        session.dispatch(ReconcileRequested(time.time()))
    log.info("Kaphila Console: profile %s, API %s, webhooks at %s", profile.name,
             profile.base_url, masked_url(console.webhook_url()))
    return console


class PortInUse(Exception):
    """The profile's listener port is taken and the operator chose not to move."""


async def _start_listener(client: Client, session: Session, profile: Profile,
                          warnings: list[str], port_taken: PortTaken | None) -> WebhookListener:
    listener = WebhookListener(client, session.record, profile.webhook_token,
                               port=profile.listener_port,
                               allowed_hosts=config.webhook_hosts(profile))
    try:
        await listener.start()
        return listener
    except OSError as exc:
        if profile.listener_port == 0:
            raise
        log.warning("listener port %d: %s", profile.listener_port, exc)
    if port_taken is not None and not await port_taken(profile.listener_port):
        raise PortInUse(f"Port {profile.listener_port} is in use by another program.")
    listener = WebhookListener(client, session.record, profile.webhook_token, port=0,
                               allowed_hosts=config.webhook_hosts(profile))
    await listener.start()
    warnings.append(
        f"Port {profile.listener_port}, where this profile receives webhooks, is in use by "
        f"another program (a second console?). Listening on port {listener.port} for now: "
        "webhooks for calls placed before may not arrive here; their calls are checked with "
        "the API instead. The saved port is kept for the next start.")
    return listener


def _sandbox_profile() -> Profile:
    return Profile(SANDBOX_PROFILE, sandbox=True,
                   caller_ids=tuple("+" + c for c in DEMO_CALLER_IDS),
                   last_caller_id="+" + DEMO_CALLER_IDS[0], webhook_token=new_token())


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


def build_window(console: Console, on_close: Callable[[], None] | None = None,
                 open_settings: Callable[[], None] | None = None) -> MainWindow:
    """The operator's window wired to a running console (the app, tests, screenshots)."""
    from console.qt.main_window import MainWindow, WindowServices

    sandbox = console.sandbox is not None
    history: list[HistoryWindow] = []

    def open_history() -> None:
        from console.qt.history_view import HistoryServices, HistoryWindow

        if not history:
            history.append(HistoryWindow(HistoryServices(
                console.history, console.journal.off_reason if console.journal else None,
                console.fire, console.delete_history, console.set_retention,
                console.settings.history_days), window))
            console.session.subscribe(lambda _: history[0].live_update())
        history[0].show()
        history[0].raise_()
        history[0].activateWindow()

    services = WindowServices(
        dispatch=console.session.dispatch,
        callee_press=(lambda sid, d: console.fire(console.callee_press(sid, d)))
        if sandbox else None,
        callee_hangup=(lambda sid: console.fire(console.callee_hangup(sid)))
        if sandbox else None,
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
    return window


async def run_window() -> int:
    """The console with its window, until the window closes."""
    from PySide6.QtCore import QTimer

    from console.qt.theme import apply_theme

    console = await start_console()
    apply_theme(console.settings.theme)
    closing = asyncio.Event()

    window: MainWindow | None = None

    async def open_settings() -> None:
        from console.qt.settings_dialog import SettingsDialog

        dialog = SettingsDialog(console.settings, console.store.description,
                                await console.keys_present(), window)

        def on_saved(profile: Profile, key: str | None, activate: bool) -> None:
            console.settings = replace(console.settings, theme=dialog.theme_setting())
            async def save() -> None:
                message = await console.save_profile(profile, key, activate)
                assert window is not None
                window.statusBar().showMessage(message, 10000)
            console.fire(save())

        dialog.saved.connect(on_saved)
        dialog.open()

    window = build_window(console, on_close=closing.set,
                          open_settings=lambda: console.fire(open_settings()))
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
    console.settings = console.settings.with_profile(
        replace(window.profile, last_caller_id=window.caller_id.currentText()))
    await console.save_settings()
    await console.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    import qasync
    from PySide6.QtWidgets import QApplication

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                                                   "%(message)s")
    app = QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("Kaphila Console")
    app.setDesktopFileName("kaphila-console")  # matches resources/kaphila-console.desktop
    from PySide6.QtGui import QIcon

    app.setWindowIcon(QIcon(str(RESOURCES / "icons" / "kaphila-console.svg")))
    app.setQuitOnLastWindowClosed(False)  # qasync: we end main() ourselves
    from console.qt.theme import apply_theme

    apply_theme("system")  # run_window applies the saved choice once it has read the settings
    result: int = qasync.run(run_window())
    return result
