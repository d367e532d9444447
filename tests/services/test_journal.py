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

from console.core.calls import CallStatus, Happened
from console.core.events import (
    ActionFailed,
    ActionKind,
    ActionRecorded,
    ActionRequested,
    ActionSucceeded,
    CallChecked,
    CallPlaced,
    CallSeen,
    DialAccepted,
    DialFailed,
    DialRequested,
    Event,
    Presence,
    PresenceChanged,
    Rebuilt,
    Role,
    StatusRequested,
    WebhookReceived,
)
from console.core.notices import EventsSkipped, SetAside, Storage
from console.core.reducer import RequestState
from console.services.codec import decode_event, encode_event, kinds
from console.services.journal import SCHEMA_VERSION, Journal
from console.services.session import INTERRUPTED, UNJOURNALED, Session
from tests.helpers import until, webhook_event
from tests.services.rig import Rig, hook, no_effects

EVERY_KIND: list[Event] = [
    webhook_event(
        "1.1",
        "call.answered",
        1.5,
        body={"amd": {"status": "HUMAN"}},
        AnsweredBy="human",
        MachineDetectionConfidence="0.9",
    ),
    DialRequested(
        "r1", "+15551230000", "+19876543210", at=1.0, amd=False, voice="v", ring_timeout=20
    ),
    DialAccepted("r1", "1.1", at=1.1, credits=7),
    DialFailed("r2", "Out of credits (Kaphila 402)", at=1.2, code=20429),
    ActionRequested(
        "r3", "1.1", ActionKind.GATHER, at=2.0, text="Press 1", num_digits=1, valid_digits="12"
    ),
    ActionSucceeded("r3", at=2.1),
    ActionFailed("r4", "Kaphila does not know this call", at=2.2, code=20404),
    CallChecked("1.1", "completed", at=3.0),
    CallChecked("1.1", None, at=3.0),
    CallPlaced(7, "1.1", "alice", "+15551230000", "+19876543210", at=1.0),
    ActionRecorded(
        9,
        "1.1",
        "bob",
        "bob",
        Role.SUPERVISOR,
        ActionKind.TAKE_OVER,
        at=4.0,
        detail="alice",
        ended_document=True,
    ),
    PresenceChanged("alice", Role.OPERATOR, Presence.AWAY, 5.0, seq=11, reason="lunch"),
    CallSeen(
        "1.1",
        "bob",
        CallStatus.IN_PROGRESS,
        at=6.0,
        taken_from="alice",
        to="+15551230000",
        answered_by="machine",
        placed_at=1.0,
        answered_at=2.0,
    ),
    Rebuilt(12, at=6.5),
    StatusRequested(Presence.AWAY, at=7.0, reason="training"),
]


@pytest.mark.parametrize("event", EVERY_KIND, ids=lambda e: type(e).__name__)
def test_every_event_kind_round_trips_through_the_codec(event: Event) -> None:
    assert decode_event(*encode_event(event)) == event


def test_every_kind_of_the_event_union_is_covered_here() -> None:
    # Adding an event to console.core.events.Event fails this until it has a
    # round-trip case above: the list is derived, never kept by hand.
    assert {type(e).__name__ for e in EVERY_KIND} == set(kinds()) - {
        kind.__name__ for kind in UNJOURNALED
    }


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
    sequence = [
        ("call.initiated", "RINGING"),
        ("call.answered", "ANSWERED"),
        ("dtmf.received", "ANSWERED"),
        ("call.ended", "COMPLETED"),
    ]
    for second, (event, status) in enumerate(sequence, 1):
        assert await rig.post(hook("5.1", event, status, second, digits="4")) == 204
    bodies = rig.rows("SELECT body FROM events ORDER BY id")
    assert [json.loads(b)["raw"]["event"] for (b,) in bodies] == [e for e, _ in sequence]
    row = rig.rows("SELECT status, number, caller_id, digits FROM calls")
    assert row == [("completed", "+15551230000", "+19876543210", "4")]


async def test_a_burst_is_written_in_few_batches_and_nothing_is_missing(rig: Rig) -> None:
    statuses = await asyncio.gather(
        *(rig.post(hook(f"9.{n}", "call.initiated", "RINGING")) for n in range(400))
    )
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
    assert rig.rows() == [
        ("7.1", "DialRequested"),
        ("7.1", "DialAccepted"),
        ("7.1", "WebhookReceived"),
        ("7.1", "ActionRequested"),
        ("7.1", "ActionSucceeded"),
    ]
    assert rig.rows("SELECT spoken, placed_here FROM calls") == [("Hello", 1)]
    assert rig.rows("SELECT * FROM pending") == []


async def test_a_restart_brings_back_live_calls_and_fails_unanswered_requests(
    rig: Rig, tmp_path: Path
) -> None:
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


async def fill_disk(tmp_path: Path) -> Rig:
    """A rig whose journal file may grow by two pages: SQLite's own size cap
    makes a real "database or disk is full" error."""
    path = tmp_path / "journal.sqlite3"
    probe = Journal(path, "Test")
    await probe.open()
    await probe.close()
    with sqlite3.connect(path) as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    r = Rig(path, max_pages=pages + 2, retry_every=0.05)
    await r.journal.open()
    await r.listener.start()
    return r


async def test_after_a_write_error_webhooks_are_refused_until_storing_works_again(
    tmp_path: Path,
) -> None:
    r = await fill_disk(tmp_path)
    problems: list[str | None] = []
    r.journal.on_problem(problems.append)
    statuses = []
    async with aiohttp.ClientSession() as http:
        r.http = http
        for n in range(200):
            statuses.append(
                await r.post(hook(f"3.{n}", "call.initiated", "RINGING", padding="x" * 400))
            )
            if statuses[-1] != 204:
                break
        assert statuses[-1] == 503
        assert problems
        assert problems[-1] is not None
        assert problems[-1].kind is Storage.FULL
        stored_before = len(r.rows())
        assert stored_before == statuses.count(204)
        # A 2xx means stored: while the disk is full every webhook is refused,
        # yet the operator sees it on the board at once.
        for _ in range(3):
            assert await r.post(hook("4.1", "call.initiated", "RINGING")) == 503
        assert "4.1" in r.session.state.calls
        assert len(r.rows()) == stored_before
        # Space is freed: the journal comes back by itself and says so.
        r.journal.max_pages = None
        await until(lambda: problems[-1] is None, what="the journal to come back")
        assert r.journal.problem is None
        # Kaphila delivers the refused webhooks again; now they are stored.
        assert await r.post(hook("4.1", "call.initiated", "RINGING")) == 204
        refused = f"3.{len(statuses) - 1}"
        assert await r.post(hook(refused, "call.initiated", "RINGING", padding="x")) == 204
    await r.listener.stop()
    await r.journal.close()
    stored = {sid for sid, _ in r.rows()}
    assert {"4.1", refused} <= stored
    assert {sid for (sid,) in r.rows("SELECT sid FROM calls")} >= {"4.1", refused}


async def test_operator_events_refused_while_failing_are_stored_when_it_comes_back(
    tmp_path: Path,
) -> None:
    r = await fill_disk(tmp_path)
    async with aiohttp.ClientSession() as http:
        r.http = http
        n = 0
        while await r.post(hook(f"3.{n}", "call.initiated", "RINGING", padding="x" * 400)) == 204:
            n += 1
        r.session.dispatch(DialRequested("d1", "+15551239999", "+19876543210", at=5.0))
        r.session.dispatch(DialAccepted("d1", "9.9", at=5.1))
        r.journal.max_pages = None
        await until(lambda: r.journal.problem is None, what="the journal to come back")
    await r.listener.stop()
    await r.journal.close()
    kinds = [k for sid, k in r.rows() if sid == "9.9"]
    assert kinds == ["DialRequested", "DialAccepted"]
    assert r.rows("SELECT status FROM calls WHERE sid = '9.9'") == [("queued",)]


async def test_a_string_utf8_cannot_encode_is_stored_escaped_and_storing_goes_on(rig: Rig) -> None:
    assert rig.http is not None
    body = json.dumps(hook("5.1", "call.ended", "COMPLETED", reason="x")).replace(
        '"reason": "x"', '"reason": "bad \\ud800 text"'
    )
    assert "\\ud800" in body
    async with rig.http.post(
        rig.listener.url, data=body, headers={"Content-Type": "application/json"}
    ) as resp:
        assert resp.status == 204
    assert await rig.post(hook("5.2", "call.initiated", "RINGING")) == 204
    assert rig.journal.problem is None
    assert {sid for sid, _ in rig.rows()} == {"5.1", "5.2"}
    assert rig.rows("SELECT end_reason FROM calls WHERE sid = '5.1'") == [("bad \\ud800 text",)]
    [(kind, stored)] = rig.rows("SELECT kind, body FROM events WHERE call_sid = '5.1'")
    event = decode_event(kind, stored)
    assert isinstance(event, WebhookReceived)
    assert event.raw["reason"] == "bad \ud800 text"  # back exactly as it came


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _set_aside(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".damaged-*"))


async def test_a_file_that_is_not_a_database_is_set_aside_and_a_new_one_started(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.sqlite3"
    path.write_bytes(b"this is not a database, but it is someone's data\n" * 200)
    before = _digest(path)
    journal = Journal(path, "Test")
    await journal.open()
    assert journal.on
    assert journal.notices
    assert isinstance(journal.notices[0], SetAside)
    assert journal.notices[0].cause.kind is Storage.DAMAGED
    [aside] = _set_aside(path)
    assert journal.notices[0].moved_to == aside.name
    assert _digest(aside) == before  # untouched
    assert await journal.append(EVERY_KIND[0], "1.1", None, None) is True
    await journal.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (1,)


def _damage_a_page(path: Path) -> None:
    """Overwrite the middle of the file (not its header) with garbage."""
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 4 * page
    for offset in range(page, len(data) - page, page):
        data[offset : offset + page] = b"\xde\xad\xbe\xef" * (page // 4)
    path.write_bytes(bytes(data))


async def test_a_damaged_page_found_at_replay_never_stops_the_console(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    first = Session(no_effects, journal=Journal(path, "Test"))
    assert first.journal is not None
    await first.journal.open()
    for n in range(300):
        stored = first.dispatch(
            webhook_event(f"7.{n}", "call.answered", 1.0, body={"padding": "x" * 200})
        )
        assert stored is not None
    await first.journal.close()
    _damage_a_page(path)
    journal = Journal(path, "Test")
    await journal.open()
    assert await journal.replay() == []
    assert journal.on
    assert any(isinstance(n, SetAside) for n in journal.notices)
    assert len(_set_aside(path)) == 1
    assert await journal.append(EVERY_KIND[0], "1.1", None, None) is True
    await journal.close()


async def test_a_stored_event_that_does_not_decode_is_skipped_and_reported(
    rig: Rig, tmp_path: Path
) -> None:
    assert await rig.post(hook("8.1", "call.answered", "ANSWERED")) == 204
    assert await rig.post(hook("8.2", "call.answered", "ANSWERED")) == 204
    await rig.journal.flush()
    with sqlite3.connect(rig.journal.path) as conn:
        conn.execute("UPDATE events SET body = '{\"call_sid\": 1' WHERE call_sid = '8.1'")
    again = Journal(rig.journal.path, "Test")
    await again.open()
    events = await again.replay()
    await again.close()
    assert [e.call_sid for e in events if isinstance(e, WebhookReceived)] == ["8.2"]
    assert again.notices
    assert again.notices[0] == EventsSkipped(1, str(rig.journal.path))


async def test_a_file_from_a_newer_console_is_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE future (x)")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = _digest(path)
    journal = Journal(path, "Test")
    await journal.open()
    assert journal.problem is not None
    assert journal.problem.kind is Storage.NEWER
    assert await journal.append(EVERY_KIND[0], "1.1", None, None) is False  # no 2xx
    await journal.close()
    assert _digest(path) == before


async def test_a_file_locked_by_another_program_refuses_until_it_is_free(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    first = Journal(path, "Test")
    await first.open()
    await first.close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("CREATE TABLE held (x)")
    try:
        journal = Journal(path, "Test", timeout=0.2, retry_every=0.05)
        await journal.open()
        assert journal.problem is not None
        assert journal.problem.kind is Storage.LOCKED
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    await until(lambda: journal.problem is None, what="the lock to be noticed gone")
    assert await journal.append(EVERY_KIND[0], "1.1", None, None) is True
    await journal.close()


async def test_delete_keeps_live_calls_and_removes_old_finished_ones(rig: Rig) -> None:
    for sid, second, event, status in (
        ("1.1", 1, "call.ended", "COMPLETED"),
        ("1.2", 30, "call.ended", "COMPLETED"),
        ("1.3", 2, "call.answered", "ANSWERED"),
    ):
        assert await rig.post(hook(sid, event, status, second)) == 204
    cutoff = rig.session.state.calls["1.2"].created_at
    assert await rig.journal.delete(before=cutoff) == 1
    assert {s for (s,) in rig.rows("SELECT sid FROM calls")} == {"1.2", "1.3"}
    assert {s for s, _ in rig.rows()} == {"1.2", "1.3"}
    assert await rig.journal.delete(before=None) == 1
    assert rig.rows("SELECT sid FROM calls") == [("1.3",)]


async def test_a_forwarded_leg_is_still_ours_after_a_restart(rig: Rig, tmp_path: Path) -> None:
    rig.session.dispatch(DialRequested("d1", "+15551230000", "+19876543210", at=1.0))
    rig.session.dispatch(DialAccepted("d1", "10.1", at=1.1))
    assert await rig.post(hook("10.1", "call.answered", "ANSWERED", 2)) == 204
    assert (
        await rig.post(
            hook(
                "10.1", "call.ended", "COMPLETED", 3, reason="forwarded", forwardedTo="15557654321"
            )
        )
        == 204
    )
    assert (
        await rig.post(
            hook("10.2", "call.answered", "ANSWERED", 4, number="15557654321", forwardedFrom="10.1")
        )
        == 204
    )
    assert rig.session.state.calls["10.2"].placed_here
    await rig.journal.flush()
    again = Session(no_effects, journal=Journal(rig.journal.path, "Test"))
    assert again.journal is not None
    await again.journal.open()
    again.restore(await again.journal.replay())
    await again.journal.close()
    leg = again.state.calls["10.2"]
    assert leg.live
    assert leg.placed_here  # still linked to the call it was forwarded from


async def test_a_flood_of_unknown_ids_does_not_slow_a_restart(rig: Rig) -> None:
    for n in range(1200):
        rig.session.dispatch(webhook_event(f"u.{n}", "call.initiated", float(n)))
    await rig.journal.flush()
    again = Journal(rig.journal.path, "Test")
    await again.open()
    events = await again.replay()
    await again.close()
    assert len({e.call_sid for e in events if isinstance(e, WebhookReceived)}) == 1000


def test_a_webhook_stored_by_the_previous_console_still_decodes() -> None:
    # Journals before 0.2.0 stored the Twilio parameters and Kaphila's body.
    old = json.dumps(
        {
            "call_sid": "1.1",
            "event": "call.ended",
            "at": 9.0,
            "received_at": 9.1,
            "params": {
                "CallSid": "1.1",
                "CallStatus": "completed",
                "To": "+1555",
                "ParentCallSid": "0.9",
            },
            "raw": {"reason": "forwarded", "forwardedTo": "15557654321"},
        }
    )
    event = decode_event("WebhookReceived", old)
    assert isinstance(event, WebhookReceived)
    assert (event.happened, event.status, event.reason, event.forwarded_to, event.parent_sid) == (
        Happened.ENDED,
        CallStatus.COMPLETED,
        "forwarded",
        "+15557654321",
        "0.9",
    )
