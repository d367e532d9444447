"""A console that stops and starts again: its live calls come back from the
journal, are checked with the API, and go on receiving webhooks."""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path

import pytest

from console import config
from console.app import Console, PortInUse, start_console
from console.config import Profile, Settings
from console.core.calls import CallStatus, CheckReason
from console.core.events import ActionKind, ActionRequested, DialRequested, Tick
from console.core.notices import KeyUnusable, PortTaken, SetAside
from console.core.reducer import SCAN_EVERY, SILENCE_CHECK
from console.qt import wording
from console.sandbox import Sandbox, SandboxConfig
from console.services.history import HistoryFilter
from console.services.secrets import MemoryStore
from console.services.settings_store import UnsendableKey
from console.services.webhooks import new_token
from tests.helpers import CALLER_ID, TEST_KEY, until
from tests.sandbox.conftest import make_config


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    # Slow enough that the answered call is not ended by the sandbox's
    # maximum call length (600 simulated seconds) while the test runs.
    return make_config(time_scale=10.0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def the_call(console: Console, sid: str) -> CallStatus:
    return console.session.state.calls[sid].status


async def dial(console: Console, number: str) -> str:
    console.session.dispatch(DialRequested("d1", number, "+" + CALLER_ID, time.time()))
    await until(lambda: console.session.state.requests["d1"].call_sid is not None)
    sid = console.session.state.requests["d1"].call_sid
    assert sid is not None
    return sid


async def test_a_live_call_is_live_again_after_a_restart_and_is_checked(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    profile = Profile(
        "Live",
        base_url=sandbox.url,
        caller_ids=("+" + CALLER_ID,),
        listener_port=free_port(),
        webhook_token=new_token(),
    )
    settings_path = tmp_path / "settings.json"
    config.save(Settings(profiles=(profile,), active="Live"), settings_path)
    store = MemoryStore()
    store.set("Live", TEST_KEY)

    first = await start_console(settings_path, store, tmp_path / "data")
    sid = await dial(first, "+15551230000")  # scenario 0000: a person answers and stays
    await until(lambda: the_call(first, sid) is CallStatus.IN_PROGRESS)
    first.session.dispatch(
        ActionRequested("s1", sid, ActionKind.SPEAK, time.time(), text="Please hold")
    )
    await until(lambda: first.session.state.requests["s1"].state == "done")
    before = first.session.state.calls[sid]
    await first.close()

    second = await start_console(settings_path, store, tmp_path / "data")
    try:
        rebuilt = second.session.state.calls[sid]
        assert rebuilt.live
        assert rebuilt.timeline == before.timeline  # with "Spoke: Please hold"
        assert sid in second.session.state.board
        await until(
            lambda: any(
                e.what is CheckReason.RESTART for e in second.session.state.calls[sid].timeline
            )
        )
        assert the_call(second, sid) is CallStatus.IN_PROGRESS
        # The sandbox's next webhook reaches the new listener on the same URL.
        async with second.http.post(f"{sandbox.url}/sandbox/calls/{sid}/hangup", json={}) as resp:
            assert resp.status == 200
        await until(lambda: the_call(second, sid) is CallStatus.COMPLETED)
        await second.journal.flush()  # type: ignore[union-attr]
        assert second.history is not None
        rows = await second.history.page(HistoryFilter())
        assert [(r.sid, r.status, r.spoken) for r in rows] == [(sid, "completed", "Please hold")]
    finally:
        await second.close()


async def test_a_call_the_new_embedded_sandbox_never_saw_is_ended_with_the_reason(
    tmp_path: Path,
) -> None:
    store = MemoryStore()
    first = await start_console(tmp_path / "settings.json", store, tmp_path / "data")
    assert first.sandbox is not None
    sid = await dial(first, "+15551230000")
    await until(lambda: the_call(first, sid) is CallStatus.IN_PROGRESS, within=20)
    await first.close()  # the embedded sandbox, and its calls, go with it

    second = await start_console(tmp_path / "settings.json", store, tmp_path / "data")
    try:
        assert second.session.state.calls[sid].live
        await until(lambda: not second.session.state.calls[sid].live)
        call = second.session.state.calls[sid]
        assert (call.status, call.end_reason) == (
            CallStatus.FAILED,
            "unknown to the API after a restart",
        )
    finally:
        await second.close()


async def test_the_history_setting_deletes_old_calls(tmp_path: Path) -> None:
    console = await start_console(tmp_path / "settings.json", MemoryStore(), tmp_path / "data")
    try:
        sid = await dial(console, "+15551230003")  # busy: over at once
        await until(lambda: not console.session.state.calls[sid].live, within=20)
        assert console.journal is not None
        assert console.history is not None
        await console.journal.flush()
        assert await console.history.count(HistoryFilter()) == 1
        assert await console.set_retention(30) == 0  # a fresh call is kept
        assert config.load(tmp_path / "settings.json").history_days == 30
        assert await console.delete_history() == 1
        assert await console.history.count(HistoryFilter()) == 0
    finally:
        await console.close()


# ------------------------------------------------ the listener's address is the profile's


async def test_the_listener_port_and_token_are_saved_at_once_on_a_first_run(tmp_path: Path) -> None:
    settings_path = tmp_path / "settings.json"
    first = await start_console(settings_path, MemoryStore(), tmp_path / "data")
    try:
        # Saved before anything else happens: a first run killed with -9 here keeps them.
        saved = config.load(settings_path).profile()
        assert saved is not None
        assert saved.listener_port == first.listener.port != 0
        assert saved.webhook_token == first.profile.webhook_token != ""
        url = first.listener.url
    finally:
        await first.close()
    second = await start_console(settings_path, MemoryStore(), tmp_path / "data")
    try:
        assert second.listener.url == url  # webhooks for calls placed before still arrive
    finally:
        await second.close()


def live_profile(sandbox: Sandbox, port: int) -> Profile:
    return Profile(
        "Live",
        base_url=sandbox.url,
        caller_ids=("+" + CALLER_ID,),
        listener_port=port,
        webhook_token=new_token(),
    )


async def test_a_taken_port_is_a_clear_message_and_a_choice(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    settings_path = tmp_path / "settings.json"
    store = MemoryStore()
    store.set("Live", TEST_KEY)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        config.save(Settings(profiles=(live_profile(sandbox, port),), active="Live"), settings_path)
        asked: list[int] = []

        async def decline(taken: int) -> bool:
            asked.append(taken)
            return False

        with pytest.raises(PortInUse, match=f"Port {port} is in use"):
            await start_console(settings_path, store, tmp_path / "data", port_taken=decline)
        assert asked == [port]

        async def accept(taken: int) -> bool:
            return True

        console = await start_console(settings_path, store, tmp_path / "data", port_taken=accept)
        try:
            assert console.listener.port != port
            assert PortTaken(port, console.listener.port) in console.warnings
            saved = config.load(settings_path).profile()
            assert saved is not None
            assert saved.listener_port == port  # kept for the next start
        finally:
            await console.close()


async def test_a_damaged_journal_is_set_aside_and_the_console_still_dials(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "journal.sqlite3").write_bytes(b"garbage, not a database\n" * 500)
    console = await start_console(tmp_path / "settings.json", MemoryStore(), data)
    try:
        assert any(isinstance(w, SetAside) for w in console.warnings)
        assert console.journal is not None
        assert console.journal.on
        sid = await dial(console, "+15551230003")  # busy: over at once
        await until(lambda: not console.session.state.calls[sid].live, within=20)
        await console.journal.flush()
        assert console.history is not None
        assert await console.history.count(HistoryFilter()) == 1
    finally:
        await console.close()
    assert len(list(data.glob("journal.sqlite3.damaged-*"))) == 1


async def test_a_silent_call_that_ended_meanwhile_is_ended_on_the_board(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    settings_path = tmp_path / "settings.json"
    config.save(Settings(profiles=(live_profile(sandbox, 0),), active="Live"), settings_path)
    store = MemoryStore()
    store.set("Live", TEST_KEY)
    console = await start_console(settings_path, store, tmp_path / "data")
    try:
        sid = await dial(console, "+15551230000")
        await until(lambda: the_call(console, sid) is CallStatus.IN_PROGRESS)
        # The callee hangs up, and every webhook about it is lost on the way.
        await console.listener.stop()
        async with console.http.post(f"{sandbox.url}/sandbox/calls/{sid}/hangup", json={}) as resp:
            assert resp.status == 200
        assert the_call(console, sid) is CallStatus.IN_PROGRESS  # a ghost, for now
        console.session.dispatch(Tick(time.time() + SILENCE_CHECK + SCAN_EVERY))
        await until(lambda: not console.session.state.calls[sid].live)
        call = console.session.state.calls[sid]
        assert call.status is CallStatus.COMPLETED
        checks = [e for e in call.timeline if isinstance(e.what, CheckReason)]
        assert [(e.what, e.status) for e in checks] == [(CheckReason.SILENT, CallStatus.COMPLETED)]
    finally:
        await console.close()


async def test_a_key_with_a_line_break_is_refused_when_entered_and_never_shown(
    sandbox: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bad = "ak_live_secret\r\nX-Injected: 1"
    settings_path = tmp_path / "settings.json"
    config.save(Settings(profiles=(live_profile(sandbox, 0),), active="Live"), settings_path)
    store = MemoryStore()
    store.set("Live", bad)  # as an older console stored it
    console = await start_console(settings_path, store, tmp_path / "data")
    try:
        assert KeyUnusable("Live") in console.warnings
        with pytest.raises(UnsendableKey):
            await console.save_profile(console.profile, "ak_new\nkey", activate=False)
        assert store.get("Live") == bad  # nothing replaced by the refused key
        texts = [*map(wording.notice, console.warnings), *(r.getMessage() for r in caplog.records)]
        assert not any("ak_live_secret" in t or "ak_new" in t for t in texts)
    finally:
        await console.close()


async def test_without_a_keyring_a_typed_key_works_at_once_and_until_the_console_closes(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    settings_path = tmp_path / "settings.json"
    store = MemoryStore("this session only (no OS keyring)")
    first = await start_console(settings_path, store, tmp_path / "data")  # the sandbox profile
    live = live_profile(sandbox, 0)
    try:
        message = await first.save_profile(live, TEST_KEY, activate=True)
        assert message == "Switching to 'Live'…"
        assert first.needs_restart(live, TEST_KEY, activate=True)
        assert not first.needs_restart(first.profile, None, activate=False)
    finally:
        await first.close()
    # The window starts the next console at once with the same session-only store.
    second = await start_console(settings_path, store, tmp_path / "data")
    try:
        assert second.profile.name == "Live"
        assert second.sandbox is None
        sid = await dial(second, "+15551230000")
        await until(lambda: the_call(second, sid) is CallStatus.IN_PROGRESS)
    finally:
        await second.close()
