"""The real window against the embedded sandbox, over loopback: what an operator does."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from console.core.calls import CallStatus
from console.qt import wording
from tests.helpers import until
from tests.qt.conftest import Running


@pytest.mark.parametrize(
    ("number", "status", "amd"),
    [
        ("+15551230000", CallStatus.IN_PROGRESS, "human"),
        ("+15551230001", CallStatus.IN_PROGRESS, "machine"),
        ("+15551230002", CallStatus.IN_PROGRESS, "unknown"),  # shown as not sure
        ("+15551230003", CallStatus.BUSY, None),
        ("+15551230004", CallStatus.NO_ANSWER, None),
        ("+15551230005", CallStatus.FAILED, None),
    ],
)
async def test_dialing_each_scenario_shows_its_status_and_amd(
    running: Running, number: str, status: CallStatus, amd: str | None
) -> None:
    running.window.ring_timeout.setValue(5)
    call = await running.dial(number)
    await until(
        lambda: running.call(number).status is status,
        within=15,
        what=f"{number} to be {status.value}",
    )
    call = running.call(number)
    assert (call.amd.answered_by if call.amd else None) == amd
    running.window.apply_state(running.console.session.state)
    row = running.window.board.row_of(call.sid)
    index = running.window.board.index(row, 2)
    assert running.window.board.data(index).startswith(wording.status_label(status))


async def test_enter_in_the_number_field_dials(running: Running) -> None:
    running.window.number.setText("+15551230000")
    QTest.keyClick(running.window.number, Qt.Key.Key_Return)
    await until(lambda: running.call("+15551230000") is not None, what="the dial")


async def test_an_invalid_number_cannot_be_dialled_and_says_why(running: Running) -> None:
    running.window.number.setText("+1555")
    running.window.dial()
    assert running.window.number_hint.text() == (
        "Cannot dial: Kaphila needs 10 to 15 digits with the country code"
    )
    assert len(running.console.session.state.requests) == 0


async def test_speak_gather_digits_forward_and_hang_up(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = running.window
    call = await running.dial("+15551230000")
    await until(lambda: running.call(call.to).status is CallStatus.IN_PROGRESS)
    running.select(call.sid)
    await until(lambda: window.selected == call.sid)

    window.speak_text.setText("Hello from the console")
    QTest.keyClick(window.speak_text, Qt.Key.Key_Return)
    await until(lambda: window.action_status.text() == "Speak: done", what="speak done")

    window.gather_prompt.setText("Enter your PIN")
    window.gather_digits.setValue(2)
    window.gather_timeout.setValue(60)
    QTest.keySequence(window, "Ctrl+G")
    await until(lambda: running.call(call.to).gathering, what="the gather to start")
    window.keypad["4"].click()
    window.keypad["2"].click()
    await until(
        lambda: running.call(call.to).digits == "42" and not running.call(call.to).gathering,
        what="digits 42 to be gathered",
    )
    record = await running.sandbox_call(call.sid)
    assert [s["text"] for s in record["spoken"]] == ["Hello from the console", "Enter your PIN"]
    assert record["gathers"][0]["digits"] == "42"

    window.forward_number.setText("+15557654321")
    from PySide6.QtWidgets import QMessageBox

    asked: list[str] = []
    monkeypatch.setattr(
        QMessageBox,
        "question",
        lambda parent, title, text: asked.append(text) or QMessageBox.StandardButton.Yes,
    )
    window.forward()
    assert asked == [
        f"Forward {call.to} to +1 555-765-4321?\nThis call leg ends; a new one starts."
    ]
    await until(
        lambda: running.call(call.to).status is CallStatus.COMPLETED,
        what="the forwarded leg to end",
    )
    record = await running.sandbox_call(call.sid)
    assert record["forwardedTo"] == "15557654321"
    assert running.call(call.to).forwarded_to == "+15557654321"
    leg = running.call("+15557654321")
    assert leg is not None
    assert leg.placed_here

    await until(lambda: window.board.row_of(leg.sid) >= 0, what="the leg on the board")
    running.select(leg.sid)
    await until(lambda: running.call("+15557654321").status is CallStatus.IN_PROGRESS)
    await until(lambda: window.selected == leg.sid and window.hangup_button.isEnabled())
    QTest.keySequence(window, "Ctrl+H")
    await until(
        lambda: running.call("+15557654321").status is CallStatus.COMPLETED, what="the hang-up"
    )
    assert (await running.sandbox_call(leg.sid))["hangupBy"] == "caller"


async def test_the_callee_can_hang_up_from_the_panel(running: Running) -> None:
    call = await running.dial("+15551230000")
    await until(lambda: running.call(call.to).status is CallStatus.IN_PROGRESS)
    running.select(call.sid)
    await until(lambda: running.window.callee_hangup_button.isEnabled())
    running.window.callee_hangup_button.click()
    await until(lambda: running.call(call.to).status is CallStatus.COMPLETED)
    assert running.call(call.to).end_reason == "callee-hangup"


async def test_an_unverified_caller_id_is_explained(running: Running) -> None:
    running.window.caller_id.addItem("+15550002222")
    running.window.caller_id.setCurrentText("+15550002222")
    running.window.number.setText("+15551230000")
    running.window.dial()
    await until(lambda: "failed" in running.window.dial_status.text(), what="the failure")
    assert running.window.dial_status.text() == (
        "Dial failed: Caller ID +15550002222 is not verified on this account (Kaphila 400)"
    )


async def test_out_of_credits_is_explained(running: Running) -> None:
    assert running.console.sandbox is not None
    for account in running.console.sandbox.simulator.accounts.values():
        account.credits = 0  # the sandbox's own state: an empty account
    running.window.number.setText("+15551230000")
    running.window.dial()
    await until(lambda: "failed" in running.window.dial_status.text(), what="the failure")
    assert running.window.dial_status.text() == "Dial failed: Out of credits (Kaphila 402)"


async def test_throttling_is_explained(running: Running) -> None:
    assert running.console.sandbox is not None
    running.console.sandbox.simulator.dispatcher.faults.update(
        {"throttle": {"rate": 1, "count": 1}}
    )
    running.window.number.setText("+15551230000")
    running.window.dial()
    await until(lambda: "failed" in running.window.dial_status.text(), what="the failure")
    assert running.window.dial_status.text() == (
        "Dial failed: Too many requests; wait a moment and try again (Kaphila 429)"
    )


async def test_a_stopped_sandbox_is_explained_and_the_ui_keeps_working(running: Running) -> None:
    assert running.console.sandbox is not None
    await running.console.sandbox.stop()
    running.window.number.setText("+15551230000")
    running.window.dial()
    await until(lambda: "failed" in running.window.dial_status.text(), what="the failure")
    assert running.window.dial_status.text().startswith("Dial failed: Cannot reach Kaphila")
    assert running.window.api_status.text() == "API: unreachable"
    running.console.sandbox = None  # already stopped


async def test_the_window_never_shows_the_listener_token(running: Running) -> None:
    token = running.console.profile.webhook_token
    running.window.tick()
    assert token not in running.window.listener_status.text()
    assert running.window.listener_status.text().startswith("Listener: http://127.0.0.1:")


def test_the_event_log_appends_new_entries_and_keeps_the_newest(qtbot: object) -> None:
    from console.config import Profile
    from console.core.reducer import State, reduce
    from console.qt.main_window import LOG_ROWS, MainWindow, WindowServices
    from tests.helpers import webhook_event

    window = MainWindow(
        Profile("Sandbox", sandbox=True),
        WindowServices(dispatch=print),
        "http://127.0.0.1:1/hooks/abcdef",
    )
    qtbot.addWidget(window)  # type: ignore[attr-defined]
    state = State()
    for n in range(LOG_ROWS + 50):
        state, _ = reduce(
            state,
            webhook_event(
                "c1", "dtmf.received", float(n), received_at=float(n), To="+1", Digits=str(n % 10)
            ),
        )
        if n % 7 == 0:
            window.apply_state(state)
    window.apply_state(state)
    texts = [window.log.item(i).text() for i in range(window.log.count())]
    assert len(texts) == LOG_ROWS
    assert all(
        t.endswith("  " + wording.log_line(e))
        for t, e in zip(texts, state.log[-LOG_ROWS:], strict=True)
    )
    assert texts[-1].endswith(f"+1: Pressed {(LOG_ROWS + 49) % 10}")


async def test_finished_calls_leave_the_board_but_stay_in_the_session_list(
    running: Running,
) -> None:
    from console.core.events import Tick
    from console.core.reducer import BOARD_LINGER

    call = await running.dial("+15551230003")  # busy
    await until(lambda: running.call(call.to).status is CallStatus.BUSY)
    ended = running.call(call.to).ended_at
    running.console.session.dispatch(Tick(ended + BOARD_LINGER + 1))
    running.window.apply_state(running.console.session.state)
    assert running.window.board.row_of(call.sid) == -1
    assert running.window.session_model.row_of(call.sid) == 0
    running.window.tabs.setCurrentIndex(1)
    running.window.session_table.selectRow(0)
    assert running.window.selected == call.sid
    assert running.window.timeline.count() >= 2


async def test_shutdown_leaves_no_thread_behind(tmp_path: object) -> None:
    import threading
    from pathlib import Path

    from console.app import start_console
    from console.core.events import DialRequested
    from console.services.secrets import MemoryStore

    console = await start_console(settings_path=Path(str(tmp_path)) / "s.json", store=MemoryStore())
    console.session.dispatch(DialRequested("r1", "+15551230000", "+19876543210", at=0.0))
    await until(lambda: console.session.state.calls != {}, what="the call")
    ours = [t.name for t in threading.enumerate() if t.name.startswith("kaphila")]
    assert ours, "the SDK worked on its own threads"
    await console.close()
    await until(
        lambda: (
            not [t for t in threading.enumerate() if t.name.startswith("kaphila") and t.is_alive()]
        ),
        within=5,
        what="the console's threads to end",
    )
    assert not console.session.busy
