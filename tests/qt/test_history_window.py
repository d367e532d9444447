"""The history window on a real journal: calls placed through the window show
up, filter, sort, open, export, and go when the operator deletes them."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QFileDialog, QMessageBox, QPushButton

from console import config
from console.app import build_window, start_console
from console.core.calls import CallStatus
from console.qt import wording
from console.qt.history_view import HistoryWindow, TimelineDialog
from console.services.journal import FILE_NAME
from console.services.secrets import MemoryStore
from tests.helpers import until
from tests.qt.conftest import Running

BUSY, MACHINE = "+15551230003", "+15551230001"


async def finished_calls(running: Running) -> HistoryWindow:
    """A busy call and an answering machine (hung up), then the history window."""
    running.window.ring_timeout.setValue(5)
    await running.dial(BUSY)
    machine = await running.dial(MACHINE)
    await until(lambda: running.call(MACHINE).status is CallStatus.IN_PROGRESS, within=15)
    running.select(machine.sid)
    await until(lambda: running.window.selected == machine.sid)
    running.window.hang_up()
    await until(
        lambda: not running.call(MACHINE).live and not running.call(BUSY).live,
        within=15,
        what="both calls to end",
    )
    assert running.console.journal is not None
    await running.console.journal.flush()
    QTest.keyClick(running.window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    history = running.window.findChild(HistoryWindow)
    assert history is not None
    await until(lambda: history.model.total == 2, what="two calls in the history")
    return history


def column(history: HistoryWindow, name: str) -> list[str]:
    index = [
        history.model.headerData(c, Qt.Orientation.Horizontal)
        for c in range(history.model.columnCount())
    ].index(name)
    return [
        history.model.data(history.model.index(r, index)) for r in range(history.model.rowCount())
    ]


async def test_ctrl_y_opens_the_history_with_every_finished_call(running: Running) -> None:
    history = await finished_calls(running)
    assert history.isVisible()
    assert sorted(column(history, "Number")) == [MACHINE, BUSY]
    assert sorted(column(history, "Status")) == ["Busy", "Completed"]
    assert history.count_label.text() == "2 calls"


async def test_filters_narrow_the_list(running: Running) -> None:
    history = await finished_calls(running)
    history.amd.setCurrentIndex(history.amd.findData("machine"))
    await until(lambda: history.model.total == 1, what="the AMD filter")
    assert column(history, "Number") == [MACHINE]
    history.amd.setCurrentIndex(0)
    history.search.setText("0003")
    await until(lambda: column(history, "Number") == [BUSY], what="the text search")
    history.search.clear()
    history.status.setCurrentIndex(history.status.findData("completed"))
    await until(lambda: column(history, "Number") == [MACHINE], what="the status filter")


async def test_clicking_a_header_sorts(running: Running) -> None:
    history = await finished_calls(running)
    history.table.sortByColumn(1, Qt.SortOrder.AscendingOrder)
    await until(lambda: column(history, "Number") == [MACHINE, BUSY], what="ascending")
    history.table.sortByColumn(1, Qt.SortOrder.DescendingOrder)
    await until(lambda: column(history, "Number") == [BUSY, MACHINE], what="descending")


async def test_a_call_opens_with_its_full_timeline(running: Running) -> None:
    history = await finished_calls(running)
    row = column(history, "Number").index(MACHINE)
    history.table.selectRow(row)
    history.open_selected()
    await until(lambda: history.findChild(TimelineDialog) is not None, what="the timeline")
    dialog = history.findChild(TimelineDialog)
    assert dialog is not None
    kinds = [dialog.entries.item(r, 1).text() for r in range(dialog.entries.rowCount())]
    # (in time order; the sandbox's clock runs ahead of the wall clock in tests)
    assert {"Ringing", "Answered", "Hang up", "Ended"} <= set(kinds)
    dialog.entries.setCurrentCell(kinds.index("Ringing"), 0)
    assert '"event": "call.initiated"' in dialog.raw.toPlainText()
    dialog.accept()


async def test_export_writes_the_filtered_calls(
    running: Running, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = await finished_calls(running)
    target = tmp_path / "out.csv"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "CSV files (*.csv)")
    )
    history.status.setCurrentIndex(history.status.findData("busy"))
    await until(lambda: history.model.total == 1)
    QTest.keyClick(history, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    await until(lambda: history.message.text().startswith("Exported"), what="the export")
    with target.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["number"], r["status"]) for r in rows] == [(BUSY, "busy")]


async def test_delete_asks_first_and_keeps_nothing_finished(
    running: Running,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    history = await finished_calls(running)
    asked: list[str] = []

    def answer(choice: Any) -> Any:
        def question(parent: Any, title: str, text: str) -> Any:
            asked.append(text)
            return choice

        return question

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
    history.delete_history()
    assert history.model.total == 2
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    history.delete_history()
    await until(lambda: history.model.total == 0, what="the history to empty")
    assert len(asked) == 2
    assert history.message.text() == "Deleted 2 calls from the history."


async def test_the_retention_choice_is_saved(running: Running) -> None:
    history = await finished_calls(running)
    history.retention.setCurrentIndex(history.retention.findData(30))
    await until(lambda: "kept for 30 days" in history.message.text())
    assert running.console.settings.history_days == 30
    assert running.console.settings_path is not None
    assert config.load(running.console.settings_path).history_days == 30


async def test_a_damaged_history_file_is_set_aside_reported_and_the_console_still_dials(
    tmp_path: Path, qtbot: Any
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / FILE_NAME).write_bytes(b"garbage, not SQLite" * 100)
    console = await start_console(tmp_path / "settings.json", MemoryStore(), data)
    try:
        window = build_window(console)
        qtbot.addWidget(window)
        window.show()
        assert any("damaged" in wording.notice(w) for w in console.warnings)
        assert "damaged" in window.insecure_warning.text() + window.insecure_warning.toolTip()
        window.findChild(QPushButton, "openHistory").click()
        history = window.findChild(HistoryWindow)
        assert history is not None
        assert not history.banner.isVisible()  # a fresh history is in use
        window.number.setText(BUSY)
        window.dial()
        await until(lambda: any(c.to == BUSY for c in console.session.state.calls.values()))
        [aside] = data.glob(FILE_NAME + ".damaged-*")
        assert aside.read_bytes() == b"garbage, not SQLite" * 100  # kept, untouched
    finally:
        await console.close()


async def test_the_history_refreshes_live_and_esc_closes_it(running: Running) -> None:
    history = await finished_calls(running)
    await running.dial("+15551230004")  # no answer: a new row while History is open
    await until(lambda: history.model.total == 3, within=15, what="the new call in History")
    QTest.keyClick(history, Qt.Key.Key_Escape)
    assert not history.isVisible()


async def test_the_window_says_history_is_not_saved_the_moment_it_happens(running: Running) -> None:
    journal = running.console.journal
    assert journal is not None
    header = running.window.header
    assert not header.history_problem.isVisible()
    journal.retry_every = 0.05
    await journal.flush()
    journal.max_pages = 1  # the next write finds the disk full, for real
    await journal._run(journal._reconnect_and_store, [], {})
    body = {
        "callId": "77.1",
        "event": "call.initiated",
        "status": "RINGING",
        "timestamp": "2026-01-01T00:00:01Z",
        "number": "15551230000",
        "callerId": "19876543210",
        "padding": "x" * 60_000,
    }  # needs new pages
    async with running.console.http.post(running.console.listener.url, json=body) as resp:
        assert resp.status == 503  # not stored: Kaphila will deliver it again
    await until(lambda: header.history_problem.isVisible(), what="the warning in the header")
    assert header.history_problem.text() == "⚠ History is not being saved"
    assert "full" in header.history_problem.toolTip()
    journal.max_pages = None
    await until(lambda: not header.history_problem.isVisible(), what="the warning to go")


async def test_history_shows_amd_not_sure_as_not_sure_with_its_confidence(running: Running) -> None:
    call = await running.dial("+15551230002")  # AMD cannot tell
    await until(lambda: running.call(call.to).amd is not None, within=15, what="AMD")
    running.select(call.sid)
    running.window.hang_up()
    await until(lambda: not running.call(call.to).live, within=15, what="the hang-up")
    assert running.console.journal is not None
    await running.console.journal.flush()
    QTest.keyClick(running.window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    history = running.window.findChild(HistoryWindow)
    assert history is not None
    await until(lambda: history.model.total == 1, what="the call in History")
    [amd] = column(history, "AMD")
    assert amd.startswith("not sure (")
    assert amd.endswith("%)")
