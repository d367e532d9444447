"""The reducer, rule by rule, without Qt, asyncio or I/O."""

from __future__ import annotations

from typing import Any

from console.core.calls import CallStatus, Failure, Happened
from console.core.events import (
    ActionFailed,
    ActionKind,
    ActionRequested,
    ActionSucceeded,
    CallChecked,
    CheckCall,
    CheckReason,
    DialAccepted,
    DialFailed,
    DialRequested,
    PlaceCall,
    ReconcileRequested,
    RunAction,
    Tick,
    WebhookReceived,
)
from console.core.reducer import (
    BOARD_LINGER,
    FOREIGN_LIMIT,
    FOREIGN_MAX_AGE,
    LOG_LIMIT,
    RECENT_LIMIT,
    REQUEST_LIMIT,
    SCAN_EVERY,
    SILENCE_CHECK,
    Note,
    RequestState,
    State,
    board_order,
    reduce,
)
from tests.helpers import webhook_event

SID = "1758549398.181"


def hook(event: str, at: float, sid: str = SID, **params: str) -> WebhookReceived:
    """Kaphila's ``event`` for the call, with Twilio parameters, as the listener
    translates it."""
    base = {"To": "+15551230000", "From": "+19876543210", **params}
    event_: WebhookReceived = webhook_event(sid, event, at, **base)
    return event_


def run(*events: Any, state: State | None = None) -> State:
    state = state or State()
    for event in events:
        state, _ = reduce(state, event)
    return state


def test_an_answered_webhook_puts_the_call_in_progress() -> None:
    state, effects = reduce(
        State(), hook("call.answered", 10.0, AnsweredBy="human", MachineDetectionConfidence="0.92")
    )
    call = state.calls[SID]
    assert call.status is CallStatus.IN_PROGRESS
    assert call.answered_at == 10.0
    assert call.amd is not None
    assert (call.amd.answered_by, call.amd.confidence) == ("human", 0.92)
    assert effects == ()


def test_statuses_only_move_forward() -> None:
    state = run(hook("call.answered", 2.0), hook("call.initiated", 3.0))
    assert state.calls[SID].status is CallStatus.IN_PROGRESS


def test_a_finished_call_never_comes_back_to_life() -> None:
    state = run(hook("call.ended", 5.0), hook("call.answered", 6.0))
    assert state.calls[SID].status is CallStatus.COMPLETED
    assert not state.calls[SID].live


def test_a_duplicate_is_counted_and_changes_nothing_else() -> None:
    once = run(hook("call.answered", 2.0, AnsweredBy="human"))
    twice = run(hook("call.answered", 2.0, AnsweredBy="human"), state=once)
    assert twice.calls[SID].timeline == once.calls[SID].timeline
    assert (twice.calls[SID].duplicates, twice.duplicates) == (1, 1)
    assert twice.calls[SID].status is once.calls[SID].status
    assert twice.log == once.log


def test_a_late_event_takes_its_place_in_time_and_is_marked() -> None:
    state = run(hook("call.answered", 2.0), hook("call.initiated", 1.0))
    timeline = state.calls[SID].timeline
    assert [(e.what, e.late) for e in timeline] == [
        (Happened.RINGING, True),
        (Happened.ANSWERED, False),
    ]
    assert state.log[-1].level == "warning"


def test_a_late_answer_after_the_end_still_fills_in_amd() -> None:
    state = run(hook("call.ended", 9.0), hook("call.answered", 2.0, AnsweredBy="machine"))
    call = state.calls[SID]
    assert call.status is CallStatus.COMPLETED
    assert call.amd is not None
    assert call.amd.answered_by == "machine"
    assert call.answered_at == 2.0


def test_an_unknown_call_appears_as_not_placed_here() -> None:
    state = run(hook("call.initiated", 1.0, sid="9.9"))
    assert state.calls["9.9"].placed_here is False
    assert board_order(state) == ["9.9"]


def test_a_forwarded_leg_of_our_call_counts_as_ours() -> None:
    state = run(
        DialRequested("r1", "+15551230000", "+19876543210", at=0.0),
        DialAccepted("r1", SID, at=0.1),
        hook("call.initiated", 5.0, sid="leg.2", ParentCallSid=SID),
    )
    assert state.calls["leg.2"].placed_here is True


def test_gather_digits_show_live_then_settle() -> None:
    state = run(hook("call.answered", 1.0), hook("gather.started", 2.0))
    assert state.calls[SID].gathering
    state = run(
        hook("dtmf.received", 3.0, Digits="4"),
        hook("gather.progress", 3.0, Digits="4"),
        state=state,
    )
    assert state.calls[SID].digits == "4"
    state = run(hook("gather.complete", 4.0, Digits="42"), state=state)
    call = state.calls[SID]
    assert (call.digits, call.gathering) == ("42", False)


def test_keys_pressed_outside_a_gather_are_kept_as_last_digits() -> None:
    state = run(
        hook("call.answered", 1.0),
        hook("dtmf.received", 2.0, Digits="1"),
        hook("dtmf.received", 3.0, Digits="#"),
    )
    assert state.calls[SID].digits == "1#"


def test_the_end_records_reason_and_forwarding() -> None:
    end = webhook_event(
        SID,
        "call.ended",
        9.0,
        received_at=9.0,
        body={"reason": "forwarded", "forwardedTo": "15557654321", "hangupBy": "caller"},
    )
    state = run(hook("call.answered", 1.0), end)
    call = state.calls[SID]
    assert (call.end_reason, call.forwarded_to, call.ended_at) == ("forwarded", "+15557654321", 9.0)
    last = call.timeline[-1]
    assert (last.what, last.status, last.detail, last.by) == (
        Happened.ENDED,
        CallStatus.COMPLETED,
        "forwarded",
        "caller",
    )


def test_dialing_emits_one_place_call_effect() -> None:
    state, effects = reduce(
        State(),
        DialRequested("r1", "+15551230000", "+19876543210", at=0.0, amd=True, ring_timeout=25),
    )
    assert effects == (PlaceCall("r1", "+15551230000", "+19876543210", True, None, 25),)
    assert state.requests["r1"].state == RequestState.PENDING


def test_nothing_is_dialed_twice() -> None:
    dial = DialRequested("r1", "+15551230000", "+19876543210", at=0.0)
    state, _ = reduce(State(), dial)
    again, effects = reduce(state, dial)
    assert (again, effects) == (state, ())
    # A second click while the first dial is in flight is refused, too.
    other, effects = reduce(state, DialRequested("r2", "+15551230000", "+19876543210", at=0.1))
    assert effects == ()
    assert (other.log[-1].line, other.log[-1].number) == (Note.ALREADY_DIALING, "+15551230000")


def test_an_accepted_dial_creates_the_call_and_records_credits() -> None:
    state = run(
        DialRequested("r1", "+15551230000", "+19876543210", at=0.0),
        DialAccepted("r1", SID, at=0.2, credits=41),
    )
    call = state.calls[SID]
    assert (call.placed_here, call.to, call.status) == (True, "+15551230000", CallStatus.QUEUED)
    assert state.credits == 41
    assert state.requests["r1"].state == RequestState.DONE
    assert board_order(state) == [SID]


def test_webhooks_that_beat_the_api_answer_merge_into_our_call() -> None:
    state = run(
        DialRequested("r1", "+15551230000", "+19876543210", at=0.0),
        hook("call.initiated", 0.1),
        DialAccepted("r1", SID, at=0.2),
    )
    call = state.calls[SID]
    assert call.placed_here
    assert call.status is CallStatus.RINGING


def test_a_failed_dial_keeps_its_message() -> None:
    state = run(
        DialRequested("r1", "+15551230000", "+19876543210", at=0.0),
        DialFailed("r1", "out of credits", at=0.1, code=20429),
    )
    request = state.requests["r1"]
    assert (request.state, request.message, request.code) == (
        RequestState.FAILED,
        "out of credits",
        20429,
    )
    assert state.log[-1].line == state.requests["r1"]
    assert state.log[-1].level == "error"


def test_actions_on_a_live_call_become_effects_and_then_timeline_entries() -> None:
    state = run(hook("call.answered", 1.0))
    speak = ActionRequested("a1", SID, ActionKind.SPEAK, at=2.0, text="Hello", voice="v")
    state, effects = reduce(state, speak)
    assert effects == (RunAction(speak),)
    state = run(ActionSucceeded("a1", at=2.5), state=state)
    assert state.requests["a1"].state == RequestState.DONE
    last = state.calls[SID].timeline[-1]
    assert (last.what, last.detail) == (ActionKind.SPEAK, "Hello")


def test_an_action_on_an_ended_call_fails_without_an_effect() -> None:
    state = run(hook("call.ended", 1.0))
    state, effects = reduce(state, ActionRequested("a1", SID, ActionKind.HANG_UP, at=2.0))
    assert effects == ()
    assert state.requests["a1"].reason is Failure.ENDED


def test_hang_up_is_sent_once_while_pending() -> None:
    state = run(hook("call.answered", 1.0), ActionRequested("a1", SID, ActionKind.HANG_UP, at=2.0))
    state, effects = reduce(state, ActionRequested("a2", SID, ActionKind.HANG_UP, at=2.1))
    assert effects == ()
    assert state.requests["a2"].state == RequestState.FAILED


def test_a_failed_action_is_reported() -> None:
    state = run(
        hook("call.answered", 1.0),
        ActionRequested("a1", SID, ActionKind.FORWARD, at=2.0, text="+15557654321"),
        ActionFailed("a1", "caller ID not verified", at=2.1, code=21210),
    )
    assert state.requests["a1"].state == RequestState.FAILED
    assert state.log[-1].line == state.requests["a1"]
    assert state.requests["a1"].message == "caller ID not verified"


def test_finished_calls_leave_the_board_after_a_while_but_stay_in_the_list() -> None:
    state = run(hook("call.answered", 1.0), hook("call.ended", 5.0))
    ended_here = 5.0 + 0.01  # the board counts from when the console heard of the end
    assert board_order(run(Tick(ended_here + BOARD_LINGER - 1), state=state)) == [SID]
    later = run(Tick(ended_here + BOARD_LINGER + 1), state=state)
    assert board_order(later) == []
    assert later.recent == (SID,)
    assert SID in later.calls


def test_a_check_after_restart_moves_a_live_call_forward() -> None:
    state = run(hook("call.initiated", 1.0), CallChecked(SID, "completed", 50.0))
    call = state.calls[SID]
    assert (call.status, call.ended_at, call.timeline[-1].what) == (
        CallStatus.COMPLETED,
        50.0,
        CheckReason.RESTART,
    )
    assert call.timeline[-1].status is CallStatus.COMPLETED


def test_a_check_never_moves_a_call_backwards() -> None:
    state = run(hook("call.answered", 1.0), CallChecked(SID, "ringing", 50.0))
    assert state.calls[SID].status is CallStatus.IN_PROGRESS


def test_a_call_the_api_no_longer_knows_is_ended_as_failed_with_the_reason() -> None:
    state = run(hook("call.answered", 1.0), CallChecked(SID, None, 50.0))
    call = state.calls[SID]
    assert (call.status, call.end_reason, call.live) == (
        CallStatus.FAILED,
        "unknown to the API after a restart",
        False,
    )
    assert state.log[-1].level == "warning"


def test_a_check_of_a_finished_call_changes_nothing() -> None:
    state = run(hook("call.ended", 1.0))
    assert run(CallChecked(SID, None, 50.0), state=state) is state


def test_the_global_log_is_bounded() -> None:
    state = State()
    for i in range(LOG_LIMIT + 5):
        state, _ = reduce(state, hook("dtmf.received", float(i), Digits=str(i % 10)))
    assert len(state.log) == LOG_LIMIT


def test_reduce_is_pure() -> None:
    state = run(hook("call.answered", 1.0))
    before = (dict(state.calls), dict(state.board), state.log)
    reduce(state, hook("call.ended", 2.0))
    assert (dict(state.calls), dict(state.board), state.log) == before


def test_only_the_last_finished_calls_stay_in_memory() -> None:
    state = State()
    for n in range(RECENT_LIMIT + 30):
        state = run(
            hook("call.answered", float(n), sid=f"c.{n}"),
            hook("call.ended", float(n) + 0.5, sid=f"c.{n}"),
            state=state,
        )
    state = run(Tick(1000.0), state=state)
    assert board_order(state) == []
    assert len(state.calls) == RECENT_LIMIT
    assert len(state.foreign) == 0  # finished: bounded by the recent list
    assert "c.0" not in state.calls
    assert f"c.{RECENT_LIMIT + 29}" in state.calls


def test_calls_not_placed_here_are_bounded_and_the_longest_silent_go_first() -> None:
    state = run(
        DialRequested("r1", "+15551230000", "+19876543210", at=0.0), DialAccepted("r1", SID, at=0.1)
    )
    for n in range(FOREIGN_LIMIT + 50):
        state = run(hook("call.initiated", 1.0 + n, sid=f"x.{n}"), state=state)
    assert len(state.foreign) <= FOREIGN_LIMIT
    assert len(state.calls) <= FOREIGN_LIMIT + 1
    assert SID in state.calls  # our own call is never dropped for them
    assert "x.0" not in state.calls
    assert f"x.{FOREIGN_LIMIT + 49}" in state.calls
    assert state.foreign_dropped >= 50


def test_a_call_not_placed_here_is_dropped_after_an_hour_of_silence() -> None:
    state = run(hook("call.initiated", 1.0, sid="x.1"))
    assert "x.1" in state.calls
    state = run(Tick(1.0 + FOREIGN_MAX_AGE + 10), state=state)
    assert "x.1" not in state.calls
    assert board_order(state) == []


def test_finished_requests_are_bounded_but_one_in_flight_is_kept() -> None:
    state = run(DialRequested("keep", "+15550000000", "+19876543210", at=0.0))
    for n in range(REQUEST_LIMIT + 20):
        state = run(
            DialRequested(f"r{n}", f"+1555123{n:04d}", "+19876543210", at=1.0),
            DialFailed(f"r{n}", "no", at=1.1),
            state=state,
        )
    assert len(state.requests) == REQUEST_LIMIT + 1
    assert state.requests["keep"].state == RequestState.PENDING
    assert "r0" not in state.requests
    # The finished dials no longer block their numbers.
    _, effects = reduce(state, DialRequested("again", "+15551230000", "+19876543210", at=2.0))
    assert len(effects) == 1


def test_a_silent_live_call_is_checked_with_the_api_once_per_silence() -> None:
    state = run(
        DialRequested("r1", "+15551230000", "+19876543210", at=0.0),
        DialAccepted("r1", SID, at=0.0),
        hook("call.answered", 1.0),
    )
    state, effects = reduce(state, Tick(1.0 + SILENCE_CHECK - 2))
    assert effects == ()
    state, effects = reduce(state, Tick(1.0 + SILENCE_CHECK + SCAN_EVERY))
    assert effects == (CheckCall(SID, CheckReason.SILENT),)
    state, effects = reduce(state, Tick(1.0 + SILENCE_CHECK + 10))
    assert effects == ()  # asked already; not again until another silence
    # Still in progress: nothing to show, the call stays as it was.
    checked = run(CallChecked(SID, "in-progress", 40.0, CheckReason.SILENT), state=state)
    assert checked.calls[SID].timeline == state.calls[SID].timeline
    assert checked.log == state.log


def test_an_api_answer_that_a_silent_call_ended_ends_it_on_the_board() -> None:
    state = run(hook("call.answered", 1.0), CallChecked(SID, "completed", 40.0, CheckReason.SILENT))
    call = state.calls[SID]
    assert (call.status, call.live) == (CallStatus.COMPLETED, False)
    assert (call.timeline[-1].what, call.timeline[-1].status) == (
        CheckReason.SILENT,
        CallStatus.COMPLETED,
    )


def test_an_unreachable_api_changes_nothing_on_the_call() -> None:
    state = run(hook("call.answered", 1.0))
    after = run(CallChecked(SID, None, 40.0, CheckReason.SILENT, reachable=False), state=state)
    assert after is state  # it was not being checked: nothing at all changes


def test_after_a_restart_every_live_call_is_checked() -> None:
    state = run(
        hook("call.answered", 1.0),
        hook("call.answered", 1.0, sid="2.2"),
        hook("call.ended", 2.0, sid="3.3"),
    )
    _, effects = reduce(state, ReconcileRequested(5.0))
    assert sorted(effects, key=str) == [
        CheckCall(SID, CheckReason.RESTART),
        CheckCall("2.2", CheckReason.RESTART),
    ]


def test_what_was_spoken_is_a_fact_on_the_call() -> None:
    state = run(
        hook("call.answered", 1.0),
        ActionRequested("a1", SID, ActionKind.SPEAK, at=2.0, text="Hello"),
        ActionSucceeded("a1", at=2.1),
        ActionRequested("a2", SID, ActionKind.SPEAK, at=3.0, text="Spoke: twice"),
        ActionSucceeded("a2", at=3.1),
    )
    assert state.calls[SID].spoken == ("Hello", "Spoke: twice")


def test_every_gathers_digits_are_kept() -> None:
    state = run(
        hook("call.answered", 1.0),
        hook("gather.started", 2.0),
        hook("gather.complete", 3.0, Digits="12"),
        hook("gather.started", 4.0),
        hook("gather.timeout", 5.0),
        hook("gather.started", 6.0),
        hook("gather.complete", 7.0, Digits="9#"),
    )
    call = state.calls[SID]
    assert call.gathers == ("12", "", "9#")
    assert call.all_digits == "12, -, 9#"


def test_a_call_waiting_for_its_check_is_not_asked_again_until_answered() -> None:
    state = run(hook("call.answered", 1.0))
    state, effects = reduce(state, ReconcileRequested(5.0))
    assert effects == (CheckCall(SID, CheckReason.RESTART),)
    # The API is slow: silences pass while that check still waits in the queue.
    for minute in range(1, 10):
        state, effects = reduce(state, Tick(5.0 + 60 * minute))
        assert effects == ()
    state = run(CallChecked(SID, "in-progress", 600.0, CheckReason.RESTART), state=state)
    assert not state.calls[SID].checking
    _, effects = reduce(state, Tick(600.0 + SILENCE_CHECK + SCAN_EVERY))
    assert effects == (CheckCall(SID, CheckReason.SILENT),)


def test_an_unanswered_check_lets_the_next_silence_ask_again() -> None:
    state = run(hook("call.answered", 1.0), ReconcileRequested(5.0))
    state = run(CallChecked(SID, None, 6.0, CheckReason.RESTART, reachable=False), state=state)
    assert state.calls[SID].live
    _, effects = reduce(state, Tick(6.0 + SILENCE_CHECK + SCAN_EVERY))
    assert effects == (CheckCall(SID, CheckReason.SILENT),)
