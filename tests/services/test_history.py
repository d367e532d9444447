"""History over a real journal file: each filter, sorting, paging, timelines,
and exports parsed back and compared."""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import AsyncIterator
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

import pytest

from console.core.calls import Happened
from console.core.events import ActionKind, ActionRequested, ActionSucceeded
from console.services.history import (
    CSV_HEADER,
    ExportCancelled,
    History,
    HistoryFilter,
    HistoryRow,
)
from console.services.journal import CALL_COLUMNS
from tests.services.rig import Rig, hook


def day(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


async def seed(rig: Rig) -> None:
    """Four calls over three days, placed from two caller IDs."""
    plan = [
        (
            "h.1",
            "2026-01-01",
            "15551230001",
            "19876543210",
            [
                ("call.answered", "ANSWERED", {"amd": {"status": "HUMAN", "confidence": 0.9}}),
                ("call.ended", "COMPLETED", {}),
            ],
        ),
        (
            "h.2",
            "2026-01-02",
            "15551230002",
            "19876543211",
            [
                ("call.answered", "ANSWERED", {"amd": {"status": "MACHINE"}}),
                ("call.ended", "COMPLETED", {}),
            ],
        ),
        ("h.3", "2026-01-03", "15551230003", "19876543210", [("call.timeout", "NO-ANSWER", {})]),
        (
            "h.4",
            "2026-01-03",
            "15551230004",
            "19876543211",
            [
                ("call.answered", "ANSWERED", {"amd": {"status": "UNKNOWN"}}),
                ("gather.complete", "ANSWERED", {"digits": "42"}),
                ("call.ended", "COMPLETED", {}),
            ],
        ),
    ]
    for sid, date, number, caller, events in plan:
        assert (
            await rig.post(
                hook(sid, "call.initiated", "RINGING", 1, day=date, number=number, caller=caller)
            )
            == 204
        )
        for second, (event, status, extra) in enumerate(events, 2):
            if sid == "h.1" and event == "call.ended":
                rig.session.dispatch(
                    ActionRequested(
                        "s1", sid, ActionKind.SPEAK, at=day(date) + 7.2, text="Your order shipped"
                    )
                )
                rig.session.dispatch(ActionSucceeded("s1", at=day(date) + 7.5))
            assert (
                await rig.post(
                    hook(
                        sid,
                        event,
                        status,
                        second + 5,
                        day=date,
                        number=number,
                        caller=caller,
                        **extra,
                    )
                )
                == 204
            )
    await rig.journal.flush()


@pytest.fixture
async def history(rig: Rig) -> AsyncIterator[History]:
    await seed(rig)
    h = History(rig.journal.path)
    yield h
    await h.close()


def names_in(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


async def sids(history: History, f: HistoryFilter, **kwargs: object) -> list[str]:
    return [r.sid for r in await history.page(f, **kwargs)]  # type: ignore[arg-type]


def test_a_history_row_has_the_journals_columns_in_order() -> None:
    # HistoryRow(*row) relies on it; the journal owns the column list.
    assert tuple(f.name for f in fields(HistoryRow)) == CALL_COLUMNS


async def test_every_call_is_listed_newest_first_with_its_facts(history: History) -> None:
    rows = await history.page(HistoryFilter())
    assert [r.sid for r in rows] == ["h.4", "h.3", "h.2", "h.1"]
    first = rows[-1]
    assert (first.number, first.caller_id, first.profile, first.status, first.amd) == (
        "+15551230001",
        "+19876543210",
        "Test",
        "completed",
        "human",
    )
    assert first.amd_confidence == pytest.approx(0.9)
    assert first.duration == pytest.approx(1.0)  # answered at :07, ended at :08
    assert first.spoken == "Your order shipped"
    assert rows[0].digits == "42"


async def test_date_range_filter(history: History) -> None:
    f = HistoryFilter(since=day("2026-01-02"), until=day("2026-01-03"))
    assert await sids(history, f) == ["h.2"]
    assert await history.count(HistoryFilter(since=day("2026-01-02"))) == 3


async def test_status_filter(history: History) -> None:
    assert await sids(history, HistoryFilter(status="no-answer")) == ["h.3"]


async def test_amd_filter(history: History) -> None:
    assert await sids(history, HistoryFilter(amd="machine")) == ["h.2"]
    assert await sids(history, HistoryFilter(amd="unknown")) == ["h.4"]


async def test_caller_id_filter_and_the_caller_ids_offered(history: History) -> None:
    assert await sids(history, HistoryFilter(caller_id="+19876543211")) == ["h.4", "h.2"]
    assert await history.caller_ids() == ["+19876543210", "+19876543211"]


async def test_number_filter_matches_digits_anywhere(history: History) -> None:
    assert await sids(history, HistoryFilter(number="0003")) == ["h.3"]


async def test_text_search_covers_spoken_text_and_digits(history: History) -> None:
    assert await sids(history, HistoryFilter(text="order ship")) == ["h.1"]
    assert await sids(history, HistoryFilter(text="42")) == ["h.4"]
    assert await sids(history, HistoryFilter(text="%")) == []  # wildcards are literal


async def test_profile_filter(history: History) -> None:
    assert await history.count(HistoryFilter(profile="Test")) == 4
    assert await history.count(HistoryFilter(profile="Live")) == 0


async def test_filters_combine(history: History) -> None:
    f = HistoryFilter(caller_id="+19876543210", status="completed")
    assert await sids(history, f) == ["h.1"]


async def test_sorting_and_paging(history: History) -> None:
    f = HistoryFilter()
    assert await sids(history, f, sort="number", descending=False) == ["h.1", "h.2", "h.3", "h.4"]
    assert await sids(history, f, sort="number", descending=False, offset=1, limit=2) == [
        "h.2",
        "h.3",
    ]
    assert (await sids(history, f, sort="amd", descending=False))[0] == "h.3"  # no AMD first


async def test_a_calls_timeline_is_rebuilt_as_the_operator_saw_it(
    rig: Rig, history: History
) -> None:
    call = await history.call("h.1")
    assert call is not None
    assert call == rig.session.state.calls["h.1"]
    assert [e.what for e in call.timeline] == [
        Happened.RINGING,
        Happened.ANSWERED,
        ActionKind.SPEAK,
        Happened.ENDED,
    ]


async def test_csv_export_holds_exactly_the_filtered_calls(
    history: History, tmp_path: Path
) -> None:
    seen: list[tuple[int, int]] = []
    path = tmp_path / "calls.csv"
    f = HistoryFilter(status="completed")
    assert await history.export_csv(f, path, progress=lambda d, t: seen.append((d, t))) == 3
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == CSV_HEADER
    body = [dict(zip(CSV_HEADER, r, strict=True)) for r in rows[1:]]
    expected = sorted(await history.page(f), key=lambda r: (r.started_at, r.sid))
    assert [r["call_sid"] for r in body] == [r.sid for r in expected]
    assert [(r["number"], r["status"], r["amd"], r["digits"], r["spoken"]) for r in body] == [
        (r.number, r.status, r.amd, r.digits, r.spoken) for r in expected
    ]
    assert datetime.fromisoformat(body[0]["started"]).timestamp() == expected[0].started_at
    await asyncio.sleep(0)  # progress is reported through the loop
    assert seen[-1] == (3, 3)


async def test_a_cancelled_export_leaves_no_file(history: History, tmp_path: Path) -> None:
    path = tmp_path / "calls.csv"
    with pytest.raises(ExportCancelled):
        await history.export_csv(HistoryFilter(), path, cancelled=lambda: True)
    assert names_in(tmp_path) <= {"journal.sqlite3", "journal.sqlite3-wal", "journal.sqlite3-shm"}


async def test_a_calls_timeline_exports_to_json(history: History, tmp_path: Path) -> None:
    path = tmp_path / "h4.json"
    await history.export_call_json("h.4", path)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["call"]["sid"] == "h.4"
    assert document["call"]["digits"] == "42"
    kinds = [e["what"] for e in document["timeline"]]
    assert kinds == ["ringing", "answered", "gather complete", "ended"]
    assert document["timeline"][2]["raw"]["digits"] == "42"
