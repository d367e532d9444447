"""The composition root: builds the services, wires them, shuts down in order.

On a first run there is no profile: the console starts an embedded sandbox on
loopback, creates the **Sandbox** profile (its key stored in the keyring like
any other) and the operator can dial a scenario number at once.

A **Team** profile starts no sandbox and no listener: its desk
(``services.team_desk``) opens the team's stream outward, posts its presence
and places calls through the gateway with the operator token.

Start order: open the journal, rebuild the calls that were live from it (and
fail the requests that never got an answer), then open the listener, so a
webhook redelivered after a crash lands on the rebuilt state; then ask the API
how each rebuilt call is doing now.

Shutdown order: stop taking webhooks, let effects in flight finish (bounded),
stop the SDK's threads, write out the journal, stop the sandbox, save settings.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from console import config
from console.config import SANDBOX_PROFILE, Profile, Settings, SettingsError
from console.core.events import ReconcileRequested, Tick
from console.core.notices import KeyMissing, KeyUnusable, Notice, PlainHttp, PortTaken
from console.sandbox import Account, Sandbox, SandboxConfig
from console.sandbox.config import DEMO_CALLER_IDS
from console.services.history import History
from console.services.journal import FILE_NAME, Journal
from console.services.retention import Retention
from console.services.sandbox_control import SandboxControl
from console.services.secrets import SecretStore, open_secret_store, sendable
from console.services.session import Session
from console.services.settings_store import SettingsStore
from console.services.team_desk import TeamDesk, open_team_desk
from console.services.telephony import Telephony
from console.services.webhooks import WebhookListener, masked_url, new_token
from twilio.rest import Client

if TYPE_CHECKING:
    pass

log = logging.getLogger("kaphila.console")

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
SHUTDOWN_GRACE = 3.0


@dataclass
class Console:
    """Everything a running console is made of (tests drive it through this)."""

    settings: Settings
    profile: Profile
    session: Session
    telephony: Telephony
    listener: WebhookListener | None  # None: a Team profile (events come from the stream)
    sandbox: Sandbox | None
    http: aiohttp.ClientSession
    warnings: list[Notice]
    store: SecretStore
    settings_path: Path | None = None
    journal: Journal | None = None
    history: History | None = None
    sandbox_control: SandboxControl | None = None
    team: TeamDesk | None = None  # a Team profile's desk: stream, presence, gateway
    _tasks: set[asyncio.Task[object]] = field(default_factory=set)
    _closed: bool = False

    def __post_init__(self) -> None:
        self.retention = Retention(self.journal, lambda: self.settings.history_days)
        self.settings_store = SettingsStore(self.settings_path, self.store)

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
        if self.listener is None:  # a team desk listens to nothing
            return ""
        base = self.profile.public_webhook_base.rstrip("/")
        if base:
            return f"{base}/hooks/{self.profile.webhook_token}"
        return self.listener.url

    def tick(self) -> None:
        """Once a second: the clock for the reducer, and the hourly retention sweep."""
        now = time.time()
        self.session.dispatch(Tick(now))
        if self.retention.due(now):
            self.fire(self.retention.apply())

    async def callee_press(self, sid: str, digits: str) -> None:
        if self.sandbox_control is not None:
            await self.sandbox_control.press(sid, digits)

    async def callee_hangup(self, sid: str) -> None:
        if self.sandbox_control is not None:
            await self.sandbox_control.hang_up(sid)

    async def delete_history(self) -> int:
        return await self.retention.delete_all()

    async def set_retention(self, days: int) -> int:
        self.settings = replace(self.settings, history_days=max(0, int(days)))
        await self.save_settings()
        return await self.retention.apply()

    async def save_settings(self) -> None:
        await self.settings_store.save(self.settings)

    async def keys_present(self) -> dict[str, bool]:
        return await self.settings_store.keys_present(self.settings)

    async def save_profile(self, profile: Profile, key: str | None, activate: bool) -> str:
        """Store the profile (and its key); say what happens next. ``needs_restart``
        tells the window when the running services must be rebuilt for it."""
        self.settings = await self.settings_store.save_profile(
            self.settings, profile, key, activate
        )
        if self.needs_restart(profile, key, activate):
            return f"Switching to {self.settings.active!r}…"
        return "Settings saved."

    def needs_restart(self, profile: Profile, key: str | None, activate: bool) -> bool:
        """A new active profile, or a new key for the one in use, takes effect at once
        (without an OS keyring a key must work from the moment it is typed)."""
        switching = activate and profile.name != self.profile.name
        return switching or (profile.name == self.profile.name and key is not None)

    async def close(self) -> None:
        if self.listener is not None:
            await self.listener.stop()
        if self.team is not None:  # no more events in; the journal keeps the sequence
            await self.team.stream.stop()
            await self.team.presence.stop()
        self.session.stop_checks()  # queued checks can wait: a restart asks again
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
        if self.team is not None:
            await self.team.api.close()
        await self.http.close()
        if self.sandbox is not None:
            await self.sandbox.stop()


AskPortTaken = Callable[[int], Awaitable[bool]]


async def start_console(
    settings_path: Path | None = None,
    store: SecretStore | None = None,
    data_dir: Path | None = None,
    port_taken: AskPortTaken | None = None,
) -> Console:
    """Build and start everything but the window.

    The listener's port and token are the profile's for good: chosen on the
    first run and saved at once (a first run killed with -9 keeps them), so
    webhooks for calls placed before a restart still arrive. When the saved
    port is taken, ``port_taken(port)`` decides: True listens on another port
    for this run (saying so), False gives up with ``PortInUse``."""
    warnings: list[Notice] = []
    try:
        settings = config.load(settings_path)
    except SettingsError as exc:
        warnings.append(exc.notice)
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
        sandbox = Sandbox(
            SandboxConfig(
                port=0,
                accounts=[
                    Account(key, tuple(c.lstrip("+") for c in profile.caller_ids), 1000, "console")
                ],
            )
        )
        await sandbox.start()
        profile = replace(profile, base_url=sandbox.url)
    elif not key:
        warnings.append(KeyMissing(profile.name))
        key = "missing"
    elif not sendable(key):  # stored by an older console
        warnings.append(KeyUnusable(profile.name))
        key = "missing"
    if config.plain_http(profile.base_url):
        warnings.append(PlainHttp(profile.base_url))
    if profile.team:
        return await _start_team(settings, profile, key, store, warnings, settings_path, data_dir)
    if not profile.webhook_token:
        profile = replace(profile, webhook_token=new_token())
    settings = replace(settings.with_profile(profile), active=profile.name)
    # AMD "not sure" stays "unknown": the operator sees it as not sure, with its confidence.
    client = Client(
        profile.account_sid,
        key,
        base_url=profile.base_url,
        environment={},
        amd_not_sure_as="unknown",
    )
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
    http = aiohttp.ClientSession()
    console = Console(
        settings,
        profile,
        session,
        telephony,
        listener,
        sandbox,
        http,
        warnings,
        store,
        settings_path,
        journal,
        History(journal.path),
        SandboxControl(http, sandbox.url) if sandbox is not None else None,
    )
    holder.append(console)
    if any(c.live for c in session.state.calls.values()):
        session.dispatch(ReconcileRequested(time.time()))
    log.info(
        "Kaphila Console: profile %s, API %s, webhooks at %s",
        profile.name,
        profile.base_url,
        masked_url(console.webhook_url()),
    )
    return console


async def _start_team(
    settings: Settings,
    profile: Profile,
    token: str,
    store: SecretStore,
    warnings: list[Notice],
    settings_path: Path | None,
    data_dir: Path | None,
) -> Console:
    """A Team profile: the journal, then the desk (which rebuilds from it and
    resumes the stream after the sequence it stored); no sandbox, no listener."""
    settings = replace(settings.with_profile(profile), active=profile.name)
    journal = Journal((data_dir or config.data_dir()) / FILE_NAME, profile.name)
    await journal.open()
    warnings.extend(journal.notices)
    if journal.problem:
        warnings.append(journal.problem)
    # The window's one-second timer sends Tick (tick_every=0).
    desk = await open_team_desk(
        profile.base_url, token, journal=journal, profile=profile.name, tick_every=0
    )
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, config.save, settings, settings_path)
    log.info("Kaphila Console: team profile %s, gateway %s", profile.name, profile.base_url)
    return Console(
        settings,
        profile,
        desk.session,
        desk.telephony,
        None,
        None,
        aiohttp.ClientSession(),
        warnings,
        store,
        settings_path,
        journal,
        History(journal.path),
        team=desk,
    )


class PortInUse(Exception):
    """The profile's listener port is taken and the operator chose not to move."""


async def _start_listener(
    client: Client,
    session: Session,
    profile: Profile,
    warnings: list[Notice],
    port_taken: AskPortTaken | None,
) -> WebhookListener:
    listener = WebhookListener(
        client,
        session.record,
        profile.webhook_token,
        port=profile.listener_port,
        allowed_hosts=config.webhook_hosts(profile),
    )
    try:
        await listener.start()
        return listener
    except OSError as exc:
        if profile.listener_port == 0:
            raise
        log.warning("listener port %d: %s", profile.listener_port, exc)
    if port_taken is not None and not await port_taken(profile.listener_port):
        raise PortInUse(f"Port {profile.listener_port} is in use by another program.")
    listener = WebhookListener(
        client,
        session.record,
        profile.webhook_token,
        port=0,
        allowed_hosts=config.webhook_hosts(profile),
    )
    await listener.start()
    warnings.append(PortTaken(profile.listener_port, listener.port))
    return listener


def _sandbox_profile() -> Profile:
    return Profile(
        SANDBOX_PROFILE,
        sandbox=True,
        caller_ids=tuple("+" + c for c in DEMO_CALLER_IDS),
        last_caller_id="+" + DEMO_CALLER_IDS[0],
        webhook_token=new_token(),
    )


def __getattr__(name: str) -> Any:
    """The desk's Qt wiring lives in ``console.qt.desk``; these names stay reachable
    from the composition root without importing Qt when it is imported."""
    if name in ("build_window", "run_window", "main", "settle_after_start", "stylesheet"):
        from console.qt import desk

        return getattr(desk, name)
    raise AttributeError(name)
