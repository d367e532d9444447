"""The operator's screen, item by item (issue 11 B2-B7): never the wrong call,
the keyboard, messages that stay, a small screen, truthful data, plain words."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QTableView

from console.config import Profile
from console.core.calls import Amd, Call, CallStatus
from console.core.events import (
    ActionRequested,
    DialAccepted,
    DialRequested,
    Event,
    Tick,
)
from console.core.reducer import BOARD_LINGER, State, reduce
from console.qt import wording
from console.qt.main_window import MainWindow, WindowServices
from console.qt.theme import apply_theme
from tests.helpers import until, webhook_event
from tests.qt.conftest import Running


class Desk:
    """A window over a real reducer, with no network: what the operator dispatches
    is reduced, and the test plays Kaphila by dispatching its answers."""

    def __init__(self, qtbot: Any, sandbox: bool = True) -> None:
        self.state = State()
        self.sent: list[Event] = []
        self.window = MainWindow(
            Profile(
                "Sandbox" if sandbox else "Live",
                sandbox=sandbox,
                caller_ids=("+19876543210",),
                recent_numbers=("+15551230007",),
            ),
            WindowServices(
                dispatch=self.dispatch, callee_press=lambda s, d: None, callee_hangup=lambda s: None
            ),
            "http://127.0.0.1:1/hooks/token",
        )
        qtbot.addWidget(self.window)
        self.window.show()

    def dispatch(self, event: Event) -> None:
        self.sent.append(event)
        self.state, _ = reduce(self.state, event)
        self.window.apply_state(self.state)

    def call(self, sid: str, number: str, at: float = 1.0) -> None:
        self.dispatch(DialRequested(f"r-{sid}", number, "+19876543210", at=at))
        self.dispatch(DialAccepted(f"r-{sid}", sid, at=at))

    def hook(self, sid: str, event: str, status: str, at: float, **params: str) -> None:
        self.dispatch(webhook_event(sid, event, at, received_at=at, CallStatus=status, **params))


@pytest.fixture
def desk(qtbot: Any) -> Desk:
    apply_theme("light")
    return Desk(qtbot)


# ------------------------------------------------------------ B2: never the wrong call


def test_selection_follows_the_call_when_a_row_above_leaves(desk: Desk) -> None:
    for n in range(3):
        desk.call(f"c{n}", f"+155512300{n:02d}")
    desk.window.select("c2")
    desk.hook("c0", "call.ended", "completed", at=2.0)
    desk.dispatch(Tick(2.0 + BOARD_LINGER + 1))
    assert desk.window.board.row_of("c0") == -1  # it left the board
    assert desk.window.table.selected_sid() == "c2"
    assert desk.window.selected == "c2"
    assert "+15551230002" in desk.window.selected_label.text()


def test_rows_do_not_move_under_the_pointer(desk: Desk) -> None:
    for n in range(3):
        desk.call(f"c{n}", f"+155512300{n:02d}")
    desk.window.board.set_hold(True)  # what entering the table does
    desk.hook("c0", "call.ended", "completed", at=2.0)
    desk.dispatch(Tick(2.0 + BOARD_LINGER + 1))
    assert [desk.window.board.sid_at(r) for r in range(3)] == ["c0", "c1", "c2"]
    desk.window.board.set_hold(False)  # the pointer left
    assert [desk.window.board.sid_at(r) for r in range(2)] == ["c1", "c2"]


def test_the_pointer_over_the_board_holds_its_rows(desk: Desk, qtbot: Any) -> None:
    desk.call("c0", "+15551230000")
    desk.call("c1", "+15551230001")
    table = desk.window.table
    QTest.mouseMove(table.viewport(), QPoint(5, 5))
    QApplication.sendEvent(table, _enter_event())
    desk.hook("c0", "call.ended", "completed", at=2.0)
    desk.dispatch(Tick(2.0 + BOARD_LINGER + 1))
    assert desk.window.board.rowCount() == 2


def _enter_event() -> Any:
    from PySide6.QtGui import QEnterEvent

    return QEnterEvent(QPoint(5, 5).toPointF(), QPoint(5, 5).toPointF(), QPoint(5, 5).toPointF())


def test_whole_rows_are_selected_and_tab_leaves_the_board(desk: Desk) -> None:
    table = desk.window.table
    assert table.selectionBehavior() is QTableView.SelectionBehavior.SelectRows
    assert table.selectionMode() is QTableView.SelectionMode.SingleSelection
    assert not table.tabKeyNavigation()


def test_a_newly_dialled_call_is_selected(desk: Desk) -> None:
    desk.call("c0", "+15551230000")
    desk.window.select("c0")
    desk.window.number.setText("+15551230001")
    desk.window.dial()
    [request] = [e for e in desk.sent if isinstance(e, DialRequested) and e.to == "+15551230001"]
    desk.dispatch(DialAccepted(request.request_id, "c1", at=3.0))
    assert desk.window.selected == "c1"
    assert desk.window.table.selected_sid() == "c1"


def test_the_actions_panel_names_the_call_it_acts_on(desk: Desk) -> None:
    desk.call("c0", "+15551230000")
    desk.window.select("c0")
    text = desk.window.selected_label.text()
    assert text.startswith("Acting on <b>+15551230000</b>")
    desk.window.speak_text.setText("Hello")
    desk.window.speak()
    [speak] = [e for e in desk.sent if isinstance(e, ActionRequested)]
    assert speak.call_sid == "c0"


# ------------------------------------------------------------ B3: the keyboard


def test_the_number_field_has_focus_at_start(desk: Desk, qtbot: Any) -> None:
    desk.window.activateWindow()
    qtbot.waitUntil(
        lambda: desk.window.number.hasFocus() or QApplication.focusWidget() is desk.window.number,
        timeout=2000,
    )


@pytest.mark.parametrize("field", ["caller_id", "voice", "ring_timeout", "amd"])
def test_enter_dials_from_any_dial_field(desk: Desk, field: str) -> None:
    desk.window.number.setText("+15551230000")
    widget = getattr(desk.window, field)
    target = widget.lineEdit() if hasattr(widget, "lineEdit") and widget.lineEdit() else widget
    QTest.keyClick(target, Qt.Key.Key_Return)
    assert any(isinstance(e, DialRequested) and e.to == "+15551230000" for e in desk.sent)


def test_tab_order_follows_the_form(desk: Desk) -> None:
    w = desk.window
    order = [w.number]
    for _ in range(6):
        order.append(order[-1].nextInFocusChain())
    chain = [
        x
        for x in order
        if x in (w.number, w.caller_id, w.amd, w.voice, w.ring_timeout, w.dial_button)
    ]
    assert chain[:3] == [w.number, w.caller_id, w.amd]


def test_a_shortcut_focuses_the_board(desk: Desk, qtbot: Any) -> None:
    desk.call("c0", "+15551230000")
    desk.window.activateWindow()
    desk.window.focus_board()
    assert desk.window.table.selected_sid() == "c0"
    QTest.keySequence(desk.window, "Ctrl+B")  # bound on the window, never fails silently


# ------------------------------------------------------------ B4: messages that stay


def test_a_refusal_stays_until_the_operator_acts_again(desk: Desk) -> None:
    desk.call("c0", "+15551230000")
    desk.window.select("c0")
    desk.window.forward_number.setText("+1555")
    desk.window.forward()
    message = desk.window.action_status.text()
    assert message.startswith("Cannot forward:")
    for at in range(5):  # webhooks keep coming, repaints keep happening
        desk.hook("c0", "dtmf.received", "in-progress", at=3.0 + at, Digits="1")
    assert desk.window.action_status.text() == message
    desk.window.speak_text.setText("Hello")
    desk.window.speak()
    assert desk.window.action_status.text() == "Speak: sending…"


def test_an_empty_speak_says_why(desk: Desk) -> None:
    desk.call("c0", "+15551230000")
    desk.window.select("c0")
    desk.window.speak()
    assert "Type what to say" in desk.window.action_status.text()
    assert not any(isinstance(e, ActionRequested) for e in desk.sent)


def test_typed_text_is_kept_when_the_action_fails_and_cleared_when_it_is_done(desk: Desk) -> None:
    from console.core.events import ActionFailed, ActionSucceeded

    desk.call("c0", "+15551230000")
    desk.window.select("c0")
    desk.window.speak_text.setText("Please hold")
    desk.window.speak()
    [first] = [e for e in desk.sent if isinstance(e, ActionRequested)]
    desk.dispatch(ActionFailed(first.request_id, "Cannot reach Kaphila", at=3.0))
    assert desk.window.speak_text.text() == "Please hold"
    assert "Cannot reach Kaphila" in desk.window.action_status.text()
    desk.window.speak()
    second = [e for e in desk.sent if isinstance(e, ActionRequested)][-1]
    desk.dispatch(ActionSucceeded(second.request_id, at=4.0))
    assert desk.window.speak_text.text() == ""


def test_long_text_shows_a_counter_and_the_limit(desk: Desk) -> None:
    from console.qt.widgets.call_actions import MAX_SPEECH

    desk.window.speak_text.setText("x" * (MAX_SPEECH + 10))
    counter = desk.window.actions.speak_count
    assert counter.isVisibleTo(desk.window)
    assert counter.text().startswith(f"{MAX_SPEECH:,} / {MAX_SPEECH:,}")
    assert len(desk.window.speak_text.text()) == MAX_SPEECH


# ------------------------------------------------------------ B5: a small screen


def test_the_window_fits_a_1024_by_700_screen(desk: Desk, qtbot: Any) -> None:
    desk.window.resize(1024, 700)
    QApplication.processEvents()
    size = desk.window.size()
    assert (size.width(), size.height()) == (1024, 700)
    hint = desk.window.minimumSizeHint()
    assert hint.width() <= 1024
    assert hint.height() <= 700


def test_the_number_column_gets_the_room_first(desk: Desk) -> None:
    desk.call("c0", "+15551230000")
    desk.hook("c0", "gather.started", "in-progress", at=2.0)
    desk.window.resize(1024, 700)
    QApplication.processEvents()
    table = desk.window.table
    index = desk.window.board.index(0, 0)
    needed = table.fontMetrics().horizontalAdvance(desk.window.board.data(index))
    assert table.columnWidth(0) >= needed  # the whole number, never "+1555123..."


# ------------------------------------------------------------ B6: truthful data


def test_amd_not_sure_shows_as_not_sure_with_its_confidence() -> None:
    assert wording.amd(Amd("unknown", 0.55)) == "not sure (55%)"
    assert wording.amd(Amd("machine", 0.97)) == "machine (97%)"
    assert wording.amd(Amd("human")) == "person"


@pytest.mark.parametrize(
    ("typed", "red"),
    [
        ("+1 555", False),
        ("+1 555-123", False),
        ("+44 20 79", False),
        ("+1 555-123-00001234567", True),
        ("call me", True),
    ],
)
def test_no_red_error_while_a_plausible_number_is_typed(desk: Desk, typed: str, red: bool) -> None:
    desk.window.number.setText("")
    QTest.keyClicks(desk.window.number, typed)
    assert bool(desk.window.number_hint.property("bad")) is red


def test_the_recent_numbers_are_offered(desk: Desk) -> None:
    completer = desk.window.dialer.completer
    QTest.keyClicks(desk.window.number, "555")
    assert completer.completionCount() >= 1
    assert completer.currentCompletion().replace(" ", "").replace("-", "") == "+15551230007"


# ------------------------------------------------------------ B7: no internals on screen


def test_a_second_gather_is_refused_in_plain_words(desk: Desk) -> None:
    desk.call("c0", "+15551230000")
    desk.hook("c0", "call.answered", "in-progress", at=2.0)
    desk.hook("c0", "gather.started", "in-progress", at=3.0)
    desk.window.select("c0")
    desk.window.gather()
    assert desk.window.action_status.text() == (
        "Gather failed: a gather is already running on this call"
    )


def test_plurals_are_right() -> None:
    assert wording.plural(1, "second") == "1 second"
    assert wording.plural(2, "second") == "2 seconds"
    assert wording.plural(1_000, "call") == "1,000 calls"


def test_the_keyring_goes_by_its_human_name() -> None:
    from keyring.backends import SecretService

    from console.services.secrets import human_name

    assert human_name(SecretService.Keyring()).startswith("the desktop keyring")


# ------------------------------------------------------------ against the sandbox


async def test_a_dialled_call_is_selected_on_the_real_board(running: Running) -> None:
    call = await running.dial("+15551230000")
    await until(lambda: running.window.selected == call.sid, what="the new call selected")
    running.window.apply_state(running.console.session.state)
    assert running.window.table.selected_sid() == call.sid


def test_a_call_not_placed_here_is_named_so() -> None:
    call = Call("9.9", to="+15550001111", status=CallStatus.RINGING)
    assert wording.call_name(call) == "+15550001111 (not placed here)"


def test_windows_and_dialogs_open_on_screen(desk: Desk, qtbot: Any) -> None:
    from console.config import Settings
    from console.qt.history_view import HistoryServices, HistoryWindow
    from console.qt.screen import available
    from console.qt.settings_dialog import SettingsDialog

    area = available(desk.window)
    history = HistoryWindow(
        HistoryServices(None, None, lambda work: work.close(), _never, _never), desk.window
    )
    settings = SettingsDialog(Settings(), "the desktop keyring", {}, desk.window)
    for shown in (desk.window, history, settings):
        if shown is not desk.window:
            qtbot.addWidget(shown)
        shown.show()
        QApplication.processEvents()
        assert area.contains(shown.frameGeometry().topLeft()), type(shown).__name__
        assert shown.width() <= area.width()
        assert shown.height() <= area.height()


async def _never(*_: Any) -> int:
    return 0
