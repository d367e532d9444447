"""The supervisor board (issue 13): every operator and every live call of the
team, filters, actions on any call and take-over, the team strip; smooth with
500 operators and 1,000 live calls."""

from __future__ import annotations

import statistics
import time
from typing import Any

import pytest
from PySide6.QtCore import QAbstractItemModel, Qt
from PySide6.QtTest import QAbstractItemModelTester, QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from console.core.calls import ActionKind, CallStatus, Happened
from console.core.events import ActionRequested, CallPlaced
from console.core.team import Presence, Role
from console.qt import wording
from console.qt.team_models import CALL_COLUMNS
from console.qt.theme import apply_theme
from tests.qt.busy_team import BusyTeam, TeamWindow, busy

DISPLAY = Qt.ItemDataRole.DisplayRole
STATUS, NUMBER = CALL_COLUMNS.index("Status"), CALL_COLUMNS.index("Number")


@pytest.fixture(autouse=True)
def _light() -> None:
    apply_theme("light")


@pytest.fixture
def small(qtbot: Any) -> TeamWindow:
    team, _, _ = busy(operators=12, calls=20)
    return TeamWindow(qtbot, team)


def texts(model: QAbstractItemModel, column: int) -> list[str]:
    return [model.data(model.index(row, column), DISPLAY) for row in range(model.rowCount())]


def call_row_text(desk: TeamWindow, sid: str, column: int) -> str:
    calls = desk.window.team_board.calls
    return calls.data(calls.index(calls.row_of(sid), column), DISPLAY)


# ------------------------------------------------------------ 500 operators, 1,000 calls


def test_a_busy_team_is_shown_whole_and_200_updates_repaint_only_what_changed(
    qtbot: Any,
) -> None:
    team, names, sids = busy(operators=500, calls=1000)
    started = time.perf_counter()
    desk = TeamWindow(qtbot, team)
    QApplication.processEvents()
    first = time.perf_counter() - started
    board = desk.window.team_board
    assert board.operators.rowCount() == 500
    assert board.calls.rowCount() == 1000
    assert texts(board.operators, 0)[:3] == sorted(names)[:3]  # by name
    board.call_table.select_key(sids[500])
    rows_before = {name: board.operators.row_of(name) for name in names}

    now, durations = team.now, []
    ringing = [s for s in sids if team.state.calls[s].status is CallStatus.RINGING]
    for n in range(200):
        at = now + 1 + n * 0.01
        match n % 5:
            case 0:  # an operator's status changes
                team.presence(names[(n * 7) % 500], Presence.WRAP_UP, at)
            case 1:  # a ringing call is answered
                sid = ringing[n // 5]
                team.hook(sid, Happened.ANSWERED, CallStatus.IN_PROGRESS, at, "", "human")
            case 2:  # a call ends
                sid = sids[n]
                team.hook(sid, Happened.ENDED, CallStatus.COMPLETED, at, "")
            case 3:  # a new call
                team.place(names[n % 300], at)
            case 4:  # a supervisor forwards one
                team.act(sids[n + 1], ActionKind.FORWARD, "sue", "", at, detail="+15550009999")
        began = time.perf_counter()
        desk.show()
        QApplication.processEvents()  # the repaint itself
        durations.append(time.perf_counter() - began)

    state = team.state
    assert board.calls.rowCount() == len(state.board) == 1040
    for row in range(board.calls.rowCount()):
        call = state.calls[board.calls.sid_at(row) or ""]
        shown = board.calls.data(board.calls.index(row, STATUS), DISPLAY)
        assert shown == wording.status(call), call.sid
    for name in names:
        seen = state.team.operators[name] if state.team else None
        assert seen is not None
        row = board.operators.row_of(name)
        assert board.operators.data(board.operators.index(row, 1), DISPLAY) == (
            wording.presence(seen.status, seen.reason)
        )
    assert {name: board.operators.row_of(name) for name in names} == rows_before  # no jitter
    assert board.call_table.selected_key() == sids[500]  # the selection followed its call
    assert call_row_text(desk, sids[2], STATUS) == "Completed"
    print(
        f"\nsupervisor board, 500 operators / 1,000 calls: first paint {first * 1000:.1f} ms; "
        f"per update p50 {statistics.median(durations) * 1000:.2f} ms, "
        f"max {max(durations) * 1000:.2f} ms, 200 updates {sum(durations) * 1000:.0f} ms"
    )


def test_one_webhook_repaints_one_row(qtbot: Any) -> None:
    team, _, sids = busy(operators=50, calls=200)
    desk = TeamWindow(qtbot, team)
    changed: list[tuple[int, int]] = []
    calls = desk.window.team_board.calls
    calls.dataChanged.connect(lambda first, last, *_: changed.append((first.row(), last.row())))
    row = calls.row_of(sids[42])
    team.hook(sids[42], Happened.ENDED, CallStatus.COMPLETED, team.now + 5, "")
    desk.show()
    assert changed == [(row, row)]


def test_the_clock_moves_times_in_status_without_moving_rows(small: TeamWindow) -> None:
    board = small.window.team_board
    operators = board.operators
    order = texts(operators, 0)
    before = texts(operators, 2)
    operators.now = lambda: small.team.now + 60
    small.window.tick()
    after = texts(operators, 2)
    assert texts(operators, 0) == order
    assert before != after
    row = operators.row_of("alice")
    since = small.team.state.team.operators["alice"].since  # type: ignore[union-attr]
    assert after[row] == wording.duration(small.team.now + 60 - since)


def test_the_models_pass_qts_model_tester(qtbot: Any) -> None:
    team, _, sids = busy(operators=12, calls=20)
    desk = TeamWindow(qtbot, team)
    board = desk.window.team_board
    assert board is not None
    mode = QAbstractItemModelTester.FailureReportingMode.Fatal
    testers = [
        QAbstractItemModelTester(model, mode)
        for model in (board.operators, board.calls, board.operator_filter, board.call_filter)
    ]
    team.presence("zed", Presence.AVAILABLE, team.now)  # a newcomer, inserted in its place
    team.place("alice", team.now + 1)
    team.hook(sids[0], Happened.ENDED, CallStatus.COMPLETED, team.now + 2, "")
    desk.show()
    board.filter_text.setText("ali")
    desk.show()
    assert texts(board.operators, 0)[-1] == "zed"
    assert testers


# ------------------------------------------------------------ what the board shows


def test_each_call_shows_its_operator_and_a_take_over_is_marked(qtbot: Any) -> None:
    team = BusyTeam()
    team.join()
    sid = team.place("alice", team.now)
    other = team.place("bob", team.now)
    team.act(sid, ActionKind.TAKE_OVER, "sue", "sue", team.now + 1, detail="alice")
    desk = TeamWindow(qtbot, team)
    calls = desk.window.team_board.calls
    assert call_row_text(desk, other, 0) == "bob"
    assert call_row_text(desk, sid, 0) == "sue (from alice)"
    tip = calls.data(calls.index(calls.row_of(sid), 0), Qt.ItemDataRole.ToolTipRole)
    assert tip == "sue took this call over from alice"


def test_operators_show_status_current_call_time_and_calls_today(qtbot: Any) -> None:
    team = BusyTeam()
    team.join()
    sid = team.place("alice", team.now - 50, to="+15551230077")
    team.presence("alice", Presence.ON_CALL, team.now - 42, call=sid)
    team.presence("bob", Presence.AWAY, team.now - 5, reason="lunch")
    team.figures(["alice", "bob"], live=1)
    desk = TeamWindow(qtbot, team)
    operators = desk.window.team_board.operators
    operators.now = lambda: team.now
    row = [operators.data(operators.index(operators.row_of("alice"), c), DISPLAY) for c in range(5)]
    assert row == ["alice", "On a call", "0:42", "+15551230077", "3"]
    bob = operators.row_of("bob")
    assert operators.data(operators.index(bob, 1), DISPLAY) == "Away: lunch"


def test_the_team_strip_shows_the_gateways_figures(small: TeamWindow) -> None:
    strip = small.window.team_board.strip
    figures = small.team.state.team.figures  # type: ignore[union-attr]
    assert figures is not None
    assert strip.values["live"].text() == "20"
    assert strip.values["answer_rate"].text() == f"{figures.answer_rate:.0%}"
    assert strip.values["amd"].text() == wording.amd_split(figures)
    assert strip.values["handle"].text() == "2:41"
    assert strip.values["placed"].text() == f"{figures.placed:,}"
    assert "avg" in strip.values["per_operator"].text()


def test_the_strip_waits_for_the_gateway_before_any_figure(qtbot: Any) -> None:
    team = BusyTeam()
    team.join()
    desk = TeamWindow(qtbot, team)
    strip = desk.window.team_board.strip
    assert strip.values["answer_rate"].text() == "—"
    assert "waiting for the gateway" in strip.as_of.text()


# ------------------------------------------------------------ filters


def test_text_filters_operators_by_name_and_calls_by_operator_or_number(
    small: TeamWindow,
) -> None:
    board = small.window.team_board
    board.filter_text.setText("ali")
    assert texts(board.operator_filter, 0) == ["alice"]
    assert set(texts(board.call_filter, 0)) <= {"alice", "sue (from alice)"}
    assert board.call_filter.rowCount() > 0
    board.filter_text.setText("(555) 000-0007")  # digits, however typed
    assert texts(board.call_filter, NUMBER) == ["+15550000007"]


def test_status_filters_pick_operators_and_calls_by_status(small: TeamWindow) -> None:
    board = small.window.team_board
    board.operator_status.setCurrentIndex(board.operator_status.findData(Presence.AWAY))
    assert set(texts(board.operator_filter, 1)) == {"Away: lunch"}
    board.call_status.setCurrentIndex(board.call_status.findText("Ringing"))
    assert set(texts(board.call_filter, STATUS)) == {"Ringing"}
    assert board.calls_label.text().startswith("Team's calls (")
    assert " of 20)" in board.calls_label.text()


def test_a_filtered_call_that_changes_status_leaves_the_filter_live(small: TeamWindow) -> None:
    board = small.window.team_board
    board.call_status.setCurrentIndex(board.call_status.findText("Ringing"))
    ringing = board.call_filter.rowCount()
    sid = board.calls.sid_at(board.call_filter.mapToSource(board.call_filter.index(0, 0)).row())
    assert sid is not None
    small.team.hook(sid, Happened.ANSWERED, CallStatus.IN_PROGRESS, small.team.now + 9, "")
    small.show()
    assert board.call_filter.rowCount() == ringing - 1


def test_selecting_an_operator_shows_only_their_calls_until_escape(small: TeamWindow) -> None:
    board = small.window.team_board
    board.operator_table.select_key("bob")
    assert set(texts(board.call_filter, 0)) == {"bob"}
    assert board.calls_label.text().startswith("bob's calls (")
    label = board.calls_label  # of a fixed size (a count never re-lays the board out): it fits
    assert label.fontMetrics().horizontalAdvance(label.text()) <= label.width()
    assert board.all_calls.isVisibleTo(board)
    board.call_table.setFocus()
    QTest.keyClick(board.call_table, Qt.Key.Key_Escape)
    assert board.call_filter.rowCount() == 20
    assert not board.all_calls.isVisibleTo(board)


# ------------------------------------------------------------ actions and keys


def test_the_actions_panel_acts_on_the_calls_selected_on_the_board(small: TeamWindow) -> None:
    board, window = small.window.team_board, small.window
    sid = board.calls.sid_at(3) or ""
    board.call_table.select_key(sid)
    assert window.selected == sid
    owner = small.team.state.calls[sid].owner
    assert f"({owner})" in window.selected_label.text()
    window.speak_text.setText("Hello from your supervisor")
    window.speak()
    [speak] = [e for e in small.sent if isinstance(e, ActionRequested)]
    assert (speak.call_sid, speak.kind) == (sid, ActionKind.SPEAK)
    assert window.timeline.count() > 0  # the selected call's timeline shows


def test_take_over_asks_first_then_takes_the_call(
    small: TeamWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = small.window
    sid = window.team_board.calls.sid_at(0) or ""
    window.team_board.call_table.select_key(sid)
    assert window.actions.take_over_button.isVisibleTo(window)
    assert window.actions.take_over_button.isEnabled()
    asked: list[str] = []
    monkeypatch.setattr(
        QMessageBox,
        "question",
        lambda parent, title, text: asked.append(text) or QMessageBox.StandardButton.Yes,
    )
    QTest.keySequence(window, "Ctrl+T")
    [take] = [e for e in small.sent if isinstance(e, ActionRequested)]
    assert (take.call_sid, take.kind) == (sid, ActionKind.TAKE_OVER)
    owner = small.team.state.calls[sid].owner
    assert len(asked) == 1
    assert f"{owner} keeps seeing it, read-only" in asked[0]


def test_a_call_already_taken_over_cannot_be_taken_again(small: TeamWindow) -> None:
    window = small.window
    mine = [s for s, c in small.team.state.calls.items() if c.owner == "sue"]
    assert mine
    window.team_board.call_table.select_key(mine[0])
    assert not window.actions.take_over_button.isEnabled()


def test_ctrl_b_focuses_the_team_calls_and_selects_the_first(small: TeamWindow) -> None:
    window = small.window
    window.activateWindow()
    QTest.keySequence(window, "Ctrl+B")
    board = window.team_board
    assert window.tabs.currentWidget() is board
    assert board.call_table.selected_key() == board.calls.sid_at(0)
    assert window.selected == board.calls.sid_at(0)


def test_ctrl_l_goes_to_the_boards_filter(small: TeamWindow) -> None:
    window = small.window
    window.activateWindow()
    QTest.keySequence(window, "Ctrl+L")
    assert window.team_board.filter_text.hasFocus()  # type: ignore[union-attr]


def test_the_board_is_only_on_a_supervisors_desk(qtbot: Any) -> None:
    team = BusyTeam(me="alice", role=Role.OPERATOR)
    team.join()
    desk = TeamWindow(qtbot, team)
    assert desk.window.team_board is None
    assert desk.window.tabs.currentWidget() is desk.window.table
    assert not desk.window.actions.take_over_button.isVisibleTo(desk.window)


def test_a_new_call_appears_at_the_end_without_moving_the_others(small: TeamWindow) -> None:
    calls = small.window.team_board.calls
    before = [calls.sid_at(r) for r in range(calls.rowCount())]
    team = small.team
    team.apply(CallPlaced(team.next_seq(), "CAnew", "carol", "+15550001234", "+1", team.now + 3))
    small.show()
    assert [calls.sid_at(r) for r in range(calls.rowCount())] == [*before, "CAnew"]


def test_the_supervisors_window_fits_a_1024_by_700_screen(small: TeamWindow) -> None:
    window = small.window
    window.resize(1024, 700)
    QApplication.processEvents()
    assert (window.width(), window.height()) == (1024, 700)
    hint = window.minimumSizeHint()
    assert hint.width() <= 1024
    assert hint.height() <= 700
    strip = window.team_board.strip  # type: ignore[union-attr]
    for value in strip.values.values():  # every figure whole: the strip wraps, never cuts
        assert value.width() >= value.sizeHint().width()
        assert strip.rect().contains(value.geometry().translated(value.parentWidget().pos()))


def test_a_long_operator_name_is_shortened_over_their_calls(qtbot: Any) -> None:
    team = BusyTeam()
    team.join()
    long_name = "maximiliana.vandenberghe"
    team.place(long_name, team.now)
    team.presence(long_name, Presence.ON_CALL, team.now)
    desk = TeamWindow(qtbot, team)
    board = desk.window.team_board
    board.operator_table.select_key(long_name)
    label = board.calls_label
    assert label.text().startswith("maximiliana…'s calls (1)")
    assert label.fontMetrics().horizontalAdvance(label.text()) <= label.width()
