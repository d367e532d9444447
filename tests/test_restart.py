"""A console that stops and starts again: its live calls come back from the
journal, are checked with the API, and go on receiving webhooks."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from console import config
from console.app import Console, start_console
from console.config import Profile, Settings
from console.core.calls import CallStatus
from console.core.events import ActionKind, ActionRequested, DialRequested
from console.sandbox import Sandbox, SandboxConfig
from console.services.history import HistoryFilter
from console.services.secrets import MemoryStore
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
        sandbox: Sandbox, tmp_path: Path) -> None:
    profile = Profile("Live", base_url=sandbox.url, caller_ids=("+" + CALLER_ID,),
                      listener_port=free_port(), webhook_token=new_token())
    settings_path = tmp_path / "settings.json"
    config.save(Settings(profiles=(profile,), active="Live"), settings_path)
    store = MemoryStore()
    store.set("Live", TEST_KEY)

    first = await start_console(settings_path, store, tmp_path / "data")
    sid = await dial(first, "+15551230000")  # scenario 0000: a person answers and stays
    await until(lambda: the_call(first, sid) is CallStatus.IN_PROGRESS)
    first.session.dispatch(ActionRequested("s1", sid, ActionKind.SPEAK, time.time(),
                                           text="Please hold"))
    await until(lambda: first.session.state.requests["s1"].state == "done")
    before = first.session.state.calls[sid]
    await first.close()

    second = await start_console(settings_path, store, tmp_path / "data")
    try:
        rebuilt = second.session.state.calls[sid]
        assert rebuilt.live
        assert rebuilt.timeline == before.timeline  # with "Spoke: Please hold"
        assert sid in second.session.state.board
        await until(lambda: any(e.kind == "console.checked"
                                for e in second.session.state.calls[sid].timeline))
        assert the_call(second, sid) is CallStatus.IN_PROGRESS
        # The sandbox's next webhook reaches the new listener on the same URL.
        async with second.http.post(f"{sandbox.url}/sandbox/calls/{sid}/hangup",
                                    json={}) as resp:
            assert resp.status == 200
        await until(lambda: the_call(second, sid) is CallStatus.COMPLETED)
        await second.journal.flush()  # type: ignore[union-attr]
        assert second.history is not None
        rows = await second.history.page(HistoryFilter())
        assert [(r.sid, r.status, r.spoken) for r in rows] == [
            (sid, "completed", "Please hold")]
    finally:
        await second.close()


async def test_a_call_the_new_embedded_sandbox_never_saw_is_ended_with_the_reason(
        tmp_path: Path) -> None:
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
            CallStatus.FAILED, "unknown to the API after a restart")
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
