"""The journal with a real SQLite file: stored before the 2xx, in order, in
batches, replayed after a restart, and every bad database state handled."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from pathlib import Path

import aiohttp
import pytest

from console.core.events import (
    ActionFailed,
    ActionKind,
    ActionRequested,
    ActionSucceeded,
    CallChecked,
    DialAccepted,
    DialFailed,
    DialRequested,
    Event,
    WebhookReceived,
)
from console.core.reducer import RequestState
from console.services.codec import decode_event, encode_event
from console.services.journal import SCHEMA_VERSION, Journal
from console.services.session import INTERRUPTED, Session
from tests.services.rig import Rig, hook, no_effects

EVERY_KIND: list[Event] = [
    WebhookReceived("1.1", "call.answered", {"CallSid": "1.1", "CallStatus": "in-progress"},
                    at=1.5, received_at=1.6, raw={"callId": "1.1", "amd": {"status": "HUMAN"}}),
    DialRequested("r1", "+15551230000", "+19876543210", at=1.0, amd=False, voice="v",
                  ring_timeout=20),
    DialAccepted("r1", "1.1", at=1.1, credits=7),
    DialFailed("r2", "Out of credits (Kaphila 402)", at=1.2, code=20429),
    ActionRequested("r3", "1.1", ActionKind.GATHER, at=2.0, text="Press 1", num_digits=1,
                    valid_digits="12"),
    ActionSucceeded("r3", at=2.1),
    ActionFailed("r4", "Kaphila does not know this call", at=2.2, code=20404),
    CallChecked("1.1", "completed", at=3.0),
    CallChecked("1.1", None, at=3.0),
]


@pytest.mark.parametrize("event", EVERY_KIND, ids=lambda e: type(e).__name__)
def test_every_event_kind_round_trips_through_the_codec(event: Event) -> None:
    assert decode_event(*encode_event(event)) == event


def test_an_event_kind_from_a_newer_console_is_skipped_not_guessed() -> None:
    assert decode_event("CallTeleported", json.dumps({"call_sid": "1"})) is None


async def test_a_webhook_is_stored_before_the_listener_answers(rig: Rig) -> None:
    # Another connection holds the write lock: the journal cannot commit, so
    # the sender must not have its 2xx yet.
    blocker = sqlite3.connect(rig.journal.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    post = asyncio.ensure_future(rig.post(hook("5.1", "call.initiated", "RINGING")))
    await asyncio.sleep(0.5)
    assert not post.done()
    assert "5.1" in rig.session.state.calls  # the operator sees it at once
    assert rig.rows() == []
    blocker.execute("COMMIT")
    blocker.close()
    assert await post == 204
    assert rig.rows() == [("5.1", "WebhookReceived")]


def test_the_history_file_is_readable_by_its_owner_only(rig: Rig) -> None:
    assert rig.journal.path.stat().st_mode & 0o777 == 0o600
    assert (rig.journal.path.parent / "journal.sqlite3-wal").stat().st_mode & 0o777 == 0o600


async def test_events_are_stored_in_the_order_they_were_applied(rig: Rig) -> None:
    sequence = [("call.initiated", "RINGING"), ("call.answered", "ANSWERED"),
                ("dtmf.received", "ANSWERED"), ("call.ended", "COMPLETED")]
    for second, (event, status) in enumerate(sequence, 1):
        assert await rig.post(hook("5.1", event, status, second, digits="4")) == 204
    bodies = rig.rows("SELECT body FROM events ORDER BY id")
    assert [json.loads(b)["event"] for (b,) in bodies] == [e for e, _ in sequence]
    row = rig.rows("SELECT status, number, caller_id, digits FROM calls")
    assert row == [("completed", "+15551230000", "+19876543210", "4")]


async def test_a_burst_is_written_in_few_batches_and_nothing_is_missing(rig: Rig) -> None:
    statuses = await asyncio.gather(*(rig.post(hook(f"9.{n}", "call.initiated", "RINGING"))
                                      for n in range(400)))
    assert set(statuses) == {204}
    assert rig.journal.stored == 400
    assert rig.journal.batches < 400
    assert {sid for sid, _ in rig.rows()} == {f"9.{n}" for n in range(400)}


async def test_operator_requests_and_outcomes_are_stored_with_their_call(rig: Rig) -> None:
    rig.session.dispatch(DialRequested("d1", "+15551230000", "+19876543210", at=1.0))
    rig.session.dispatch(DialAccepted("d1", "7.1", at=1.1))
    assert await rig.post(hook("7.1", "call.answered", "ANSWERED")) == 204
    rig.session.dispatch(ActionRequested("s1", "7.1", ActionKind.SPEAK, at=3.0, text="Hello"))
    stored = rig.session.dispatch(ActionSucceeded("s1", at=3.1))
    assert stored is not None
    assert await stored
    assert rig.rows() == [("7.1", "DialRequested"), ("7.1", "DialAccepted"),
                          ("7.1", "WebhookReceived"), ("7.1", "ActionRequested"),
                          ("7.1", "ActionSucceeded")]
    assert rig.rows("SELECT spoken, placed_here FROM calls") == [("Hello", 1)]
    assert rig.rows("SELECT * FROM pending") == []


async def test_a_restart_brings_back_live_calls_and_fails_unanswered_requests(
        rig: Rig, tmp_path: Path) -> None:
    rig.session.dispatch(DialRequested("d1", "+15551230000", "+19876543210", at=1.0))
    rig.session.dispatch(DialAccepted("d1", "7.1", at=1.1))
    assert await rig.post(hook("7.1", "call.answered", "ANSWERED", amd={"status": "HUMAN"})) == 204
    assert await rig.post(hook("8.1", "call.ended", "COMPLETED")) == 204  # finished: history
    rig.session.dispatch(ActionRequested("s1", "7.1", ActionKind.SPEAK, at=3.0, text="Hi"))
    rig.session.dispatch(DialRequested("d2", "+15551239999", "+19876543210", at=4.0))
    await rig.journal.flush()
    before = rig.session.state

    again = Journal(rig.journal.path, "Test")
    await again.open()
    session = Session(no_effects, journal=again)
    session.restore(await again.replay())
    assert set(session.state.calls) == {"7.1"}
    assert session.state.calls["7.1"] == before.calls["7.1"]
    assert session.fail_interrupted(now=9.0) == 2
    requests = session.state.requests
    assert (requests["s1"].state, requests["d2"].state) == (RequestState.FAILED,) * 2
    assert requests["d2"].message == INTERRUPTED
    await again.flush()
    # Their failures are stored: the next start does not fail them again.
    replayed = await again.replay()
    assert not any(getattr(e, "request_id", None) == "d2" for e in replayed)
    assert isinstance(replayed[-1], ActionFailed)
    assert replayed[-1].message == INTERRUPTED
    await again.close()


async def test_a_full_disk_refuses_the_webhook_turns_history_off_and_keeps_what_is_stored(
        tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    probe = Journal(path, "Test")
    await probe.open()
    await probe.close()
    with sqlite3.connect(path) as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    r = Rig(path, max_pages=pages + 2)
    await r.journal.open()
    await r.listener.start()
    statuses = []
    async with aiohttp.ClientSession() as http:
        r.http = http
        for n in range(200):
            statuses.append(await r.post(hook(f"3.{n}", "call.initiated", "RINGING",
                                              padding="x" * 400)))
            if statuses[-1] != 204:
                break
        assert statuses[-1] == 503
        assert r.journal.off_reason is not None
        assert "full" in r.journal.off_reason
        stored_before = len(r.rows())
        assert stored_before == statuses.count(204)
        # The console keeps running without history: the next webhook is taken.
        assert await r.post(hook("4.1", "call.initiated", "RINGING")) == 204
        assert "4.1" in r.session.state.calls
    await r.listener.stop()
    await r.journal.close()
    assert len(r.rows()) == stored_before


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_a_damaged_file_turns_history_off_and_is_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    path.write_bytes(b"this is not a database, but it is someone's data\n" * 200)
    before = _digest(path)
    journal = Journal(path, "Test")
    await journal.open()
    assert not journal.on
    assert journal.off_reason is not None
    assert "damaged" in journal.off_reason
    assert (await journal.append(EVERY_KIND[0], "1.1", None, None)) is True
    assert await journal.replay() == []
    await journal.close()
    assert _digest(path) == before


async def test_a_file_from_a_newer_console_is_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE future (x)")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = _digest(path)
    journal = Journal(path, "Test")
    await journal.open()
    assert journal.off_reason is not None
    assert "newer version" in journal.off_reason
    await journal.close()
    assert _digest(path) == before


async def test_a_file_locked_by_another_program_turns_history_off(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    first = Journal(path, "Test")
    await first.open()
    await first.close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("CREATE TABLE held (x)")
    try:
        journal = Journal(path, "Test", timeout=0.2)
        await journal.open()
        assert journal.off_reason is not None
        assert "locked" in journal.off_reason
        await journal.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()


async def test_delete_keeps_live_calls_and_removes_old_finished_ones(rig: Rig) -> None:
    for sid, second, event, status in (("1.1", 1, "call.ended", "COMPLETED"),
                                       ("1.2", 30, "call.ended", "COMPLETED"),
                                       ("1.3", 2, "call.answered", "ANSWERED")):
        assert await rig.post(hook(sid, event, status, second)) == 204
    cutoff = rig.session.state.calls["1.2"].created_at
    assert await rig.journal.delete(before=cutoff) == 1
    assert {s for (s,) in rig.rows("SELECT sid FROM calls")} == {"1.2", "1.3"}
    assert {s for s, _ in rig.rows()} == {"1.2", "1.3"}
    assert await rig.journal.delete(before=None) == 1
    assert rig.rows("SELECT sid FROM calls") == [("1.3",)]
