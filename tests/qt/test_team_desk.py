"""A desk in a Team profile (issue 13): the header names the operator and role,
shows the stream's link and the desk's own status with the control to set it;
an operator's call taken over by a supervisor is shown read-only; every
call's timeline shows who did what."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from console.core.calls import ActionKind, CallStatus, Happened
from console.core.events import ActionRequested, LinkChanged, PresencePosted, StatusRequested
from console.core.team import REASON_LIMIT, Link, Presence, Role
from console.qt import wording
from console.qt.theme import apply_theme
from tests.qt.busy_team import BusyTeam, TeamWindow


@pytest.fixture
def alice(qtbot: Any) -> TeamWindow:
    """Alice's operator desk, with one call of her own."""
    apply_theme("light")
    team = BusyTeam(me="alice", role=Role.OPERATOR)
    team.join()
    return TeamWindow(qtbot, team)


def status_of(desk: TeamWindow) -> Presence:
    assert desk.team.state.team is not None
    return desk.team.state.team.status.status


# ------------------------------------------------------------ the header


def test_the_header_names_the_operator_and_role(alice: TeamWindow) -> None:
    header = alice.window.header
    assert header.team is not None
    assert header.team.isVisibleTo(alice.window)
    assert "alice" in header.team.who.text()
    assert "operator" in header.team.who.text()
    assert "TEAM" in header.profile_badge.text()


def test_a_single_desk_has_no_team_in_its_header(qtbot: Any) -> None:
    from console.config import Profile
    from console.qt.main_window import MainWindow, WindowServices

    window = MainWindow(Profile("Sandbox", sandbox=True), WindowServices(dispatch=print), "")
    qtbot.addWidget(window)
    assert window.header.team is None
    assert window.team_board is None


@pytest.mark.parametrize(
    ("link", "shown", "explains"),
    [
        (Link.RECONNECTING, "reconnecting…", "resumes where it stopped"),
        (Link.REBUILDING, "rebuilding…", "current view of the live calls"),
        (
            Link.REVOKED,
            "⚠ token revoked: enter a new one in Settings",
            "supervisor for a new token",
        ),
        (Link.CONNECTING, "connecting…", "Connecting"),
    ],
)
def test_the_header_says_when_the_stream_is_not_live(
    alice: TeamWindow, link: Link, shown: str, explains: str
) -> None:
    alice.dispatch(LinkChanged(link, at=alice.team.now))
    label = alice.window.header.team.link  # type: ignore[union-attr]
    assert label.isVisibleTo(alice.window)
    assert label.text() == shown
    assert explains in label.toolTip()
    assert label.property("link") == link.value  # the style sheet colours it
    assert f"stream {wording.link_state(link)}" in alice.window.listener_status.text()
    # a revoked desk is told plainly, and its status control, heard by nobody, goes
    revoked = link is Link.REVOKED
    assert alice.window.header.team.status.isVisibleTo(alice.window) is not revoked  # type: ignore[union-attr]


def test_a_live_stream_is_quiet_in_the_header(alice: TeamWindow) -> None:
    alice.dispatch(LinkChanged(Link.RECONNECTING, at=alice.team.now))
    alice.dispatch(LinkChanged(Link.CONNECTED, at=alice.team.now + 1))
    assert not alice.window.header.team.link.isVisibleTo(alice.window)  # type: ignore[union-attr]
    assert "stream connected" in alice.window.listener_status.text()


# ------------------------------------------------------------ the desk's own status


def pick(desk: TeamWindow, status: Presence) -> None:
    combo = desk.window.header.team.status  # type: ignore[union-attr]
    index = combo.findData(status)
    combo.setCurrentIndex(index)
    combo.activated.emit(index)  # what a click on the item does


def test_picking_a_status_dispatches_it_and_the_control_shows_it(alice: TeamWindow) -> None:
    pick(alice, Presence.WRAP_UP)
    [asked] = [e for e in alice.sent if isinstance(e, StatusRequested)]
    assert asked.status is Presence.WRAP_UP
    assert status_of(alice) is Presence.WRAP_UP
    combo = alice.window.header.team.status  # type: ignore[union-attr]
    assert combo.currentData() is Presence.WRAP_UP
    pick(alice, Presence.AVAILABLE)
    assert status_of(alice) is Presence.AVAILABLE


def test_away_takes_a_reason_of_at_most_80_characters(alice: TeamWindow) -> None:
    team_status = alice.window.header.team
    assert team_status is not None
    assert not team_status.reason.isVisibleTo(alice.window)
    pick(alice, Presence.AWAY)
    assert team_status.reason.isVisibleTo(alice.window)
    assert team_status.reason.maxLength() == REASON_LIMIT
    QTest.keyClicks(team_status.reason, "lunch " + "x" * 100)
    QTest.keyClick(team_status.reason, Qt.Key.Key_Return)
    asked = [e for e in alice.sent if isinstance(e, StatusRequested)][-1]
    assert asked.status is Presence.AWAY
    assert asked.reason.startswith("lunch ")
    assert len(asked.reason) <= REASON_LIMIT
    assert alice.team.state.team.status.reason == asked.reason  # type: ignore[union-attr]


def test_on_a_call_the_status_follows_the_call(alice: TeamWindow) -> None:
    team = alice.team
    sid = team.place("alice", team.now)
    alice.show()
    combo = alice.window.header.team.status  # type: ignore[union-attr]
    assert combo.currentData() is Presence.ON_CALL
    assert not combo.isEnabled()
    assert "Wrap-up" in combo.toolTip()
    team.hook(sid, Happened.ENDED, CallStatus.COMPLETED, team.now + 9, "alice")
    alice.show()
    assert combo.currentData() is Presence.WRAP_UP
    assert combo.isEnabled()


def test_a_status_the_gateway_did_not_get_is_flagged(alice: TeamWindow) -> None:
    alice.dispatch(PresencePosted(Presence.AVAILABLE, at=alice.team.now, ok=False))
    flag = alice.window.header.team.not_sent  # type: ignore[union-attr]
    assert flag.isVisibleTo(alice.window)
    alice.dispatch(PresencePosted(Presence.AVAILABLE, at=alice.team.now, ok=True))
    assert not flag.isVisibleTo(alice.window)


# ------------------------------------------------------------ the operator's board


def taken_over_call(desk: TeamWindow) -> str:
    team = desk.team
    sid = team.place("alice", team.now)
    team.hook(sid, Happened.ANSWERED, CallStatus.IN_PROGRESS, team.now + 2, "alice", "human")
    team.act(sid, ActionKind.TAKE_OVER, "sue", "sue", team.now + 5, detail="alice")
    desk.show()
    return sid


def test_a_call_taken_over_from_the_operator_is_shown_read_only(alice: TeamWindow) -> None:
    sid = taken_over_call(alice)
    window = alice.window
    board = window.board
    row = board.row_of(sid)
    assert row >= 0  # still on her board
    tip = board.data(board.index(row, 2), Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith("Taken over by sue")
    assert board.data(board.index(row, 0), Qt.ItemDataRole.FontRole).italic()
    window.select(sid)
    for button in window.actions.buttons:
        assert not button.isEnabled()
        assert "Taken over by sue" in button.toolTip()
    assert window.selected_label.text().startswith("Watching <b>")
    assert "taken over by sue" in window.selected_label.text()


def test_the_shortcuts_do_not_act_on_a_call_taken_over(alice: TeamWindow) -> None:
    sid = taken_over_call(alice)
    alice.window.select(sid)
    alice.window.speak_text.setText("Hello?")
    QTest.keySequence(alice.window, "Ctrl+S")
    assert not [e for e in alice.sent if isinstance(e, ActionRequested)]
    assert "Taken over by sue" in alice.window.action_status.text()


def test_her_own_calls_stay_actionable(alice: TeamWindow) -> None:
    team = alice.team
    sid = team.place("alice", team.now)
    alice.show()
    alice.window.select(sid)
    assert all(button.isEnabled() for button in alice.window.actions.buttons)
    assert alice.window.selected_label.text().startswith("Acting on <b>")
    assert "(alice)" not in alice.window.selected_label.text()  # her own: no name needed


def test_every_calls_timeline_shows_who_did_what(alice: TeamWindow) -> None:
    sid = taken_over_call(alice)
    team = alice.team
    team.act(sid, ActionKind.FORWARD, "sue", "sue", team.now + 7, detail="+15550001111")
    alice.show()
    alice.window.select(sid)
    lines = [alice.window.timeline.item(i).text() for i in range(alice.window.timeline.count())]
    assert any(line.endswith("Placed by alice to " + team.state.calls[sid].to) for line in lines)
    assert any(line.endswith("sue, supervisor, took over from alice") for line in lines)
    assert any(line.endswith("Forwarded to +15550001111 by sue, supervisor") for line in lines)


def test_the_status_column_has_room_for_who_took_the_call_over(alice: TeamWindow) -> None:
    sid = taken_over_call(alice)
    alice.window.resize(1600, 1000)
    QApplication.processEvents()
    table, board = alice.window.table, alice.window.board
    text = board.data(board.index(board.row_of(sid), 2))
    assert text == "In progress · taken over by sue"
    assert table.columnWidth(2) >= table.fontMetrics().horizontalAdvance(text)
