"""The reducer in a Team profile, rule by rule (pure: no gateway, no I/O)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from console.core.calls import CallStatus, Failure, Happened
from console.core.events import (
    ActionKind,
    ActionRecorded,
    ActionRequested,
    ActionSucceeded,
    CallPlaced,
    CallSeen,
    CheckCall,
    CheckReason,
    DialAccepted,
    DialRequested,
    FiguresLoaded,
    Identified,
    LinkChanged,
    PresenceChanged,
    PresencePosted,
    PublishPresence,
    Rebuilt,
    ReconcileRequested,
    RunAction,
    StatusRequested,
    Tick,
    WebhookReceived,
)
from console.core.reducer import (
    FOREIGN_LIMIT,
    SCAN_EVERY,
    SILENCE_CHECK,
    RequestState,
    State,
    reduce,
)
from console.core.team import (
    REASON_LIMIT,
    Link,
    Presence,
    Role,
    Team,
    TeamFact,
    TeamFigures,
    read_only,
)
from tests.helpers import webhook_event

SID = "CA1"
TO = "+15551230000"
FROM = "+19876543210"


def team_state(me: str = "alice", role: Role = Role.OPERATOR) -> State:
    state, _ = reduce(State(team=Team()), Identified(me, role, at=1.0))
    return state


def run(state: State, *events: Any) -> State:
    for event in events:
        state, _ = reduce(state, event)
    return state


def effects_of(state: State, event: Any) -> tuple[Any, ...]:
    return reduce(state, event)[1]


def placed(seq: int, sid: str = SID, owner: str = "alice", at: float = 10.0) -> CallPlaced:
    return CallPlaced(seq, sid, owner, TO, FROM, at)


def hook(seq: int, event: str, at: float, sid: str = SID, owner: str = "alice") -> WebhookReceived:
    base: WebhookReceived = webhook_event(sid, event, at, To=TO, From=FROM)
    return replace(base, seq=seq, owner=owner, received_at=at + 0.5)


def action(
    seq: int,
    kind: ActionKind,
    detail: str = "",
    by: str = "alice",
    role: Role = Role.OPERATOR,
    owner: str = "alice",
    at: float = 20.0,
    ended_document: bool = False,
) -> ActionRecorded:
    return ActionRecorded(seq, SID, owner, by, role, kind, at, detail, ended_document)


# ------------------------------------------------------------------ once each


def test_a_stream_event_at_or_below_the_applied_sequence_is_skipped_and_counted() -> None:
    state = run(team_state(), placed(5), hook(6, "call.answered", 11.0))
    again = run(state, placed(5), hook(6, "call.answered", 11.0), hook(4, "call.ended", 12.0))
    assert again.team is not None
    assert state.team is not None
    assert again.team.skipped == 3
    assert again.team.seq == 6
    assert again.calls[SID] == state.calls[SID]
    assert again.calls[SID].status is CallStatus.IN_PROGRESS


def test_the_applied_sequence_only_grows_and_counts_each_event() -> None:
    state = run(
        team_state(), placed(3), hook(9, "call.initiated", 11.0), action(12, ActionKind.SPEAK)
    )
    assert state.team is not None
    assert (state.team.seq, state.team.applied, state.team.skipped) == (12, 3, 0)


def test_a_presence_snapshot_entry_is_applied_whatever_the_sequence() -> None:
    state = run(team_state(), placed(50))
    state = run(state, PresenceChanged("bob", Role.OPERATOR, Presence.AWAY, 3.0, reason="lunch"))
    assert state.team is not None
    assert state.team.operators["bob"].status is Presence.AWAY
    assert state.team.seq == 50


# ------------------------------------------------------------------ timelines


def test_placed_puts_the_owner_and_number_on_the_timeline() -> None:
    state = run(team_state("bob", Role.SUPERVISOR), placed(1, owner="alice"))
    call = state.calls[SID]
    assert (call.owner, call.to, call.from_, call.placed_here) == ("alice", TO, FROM, True)
    (entry,) = call.timeline
    assert (entry.what, entry.by, entry.detail) == (TeamFact.PLACED, "alice", TO)


def test_stream_webhooks_build_the_timeline_in_the_order_of_their_own_times() -> None:
    state = run(
        team_state(),
        placed(1, at=10.0),
        hook(2, "call.answered", 12.0),
        hook(3, "call.initiated", 11.0),  # Kaphila delivered it late
    )
    whats = [e.what for e in state.calls[SID].timeline]
    assert whats == [TeamFact.PLACED, Happened.RINGING, Happened.ANSWERED]


def test_a_webhook_before_placed_makes_a_team_call_with_its_owner() -> None:
    state = run(team_state("boss", Role.SUPERVISOR), hook(2, "call.initiated", 11.0, owner="carol"))
    call = state.calls[SID]
    assert (call.owner, call.placed_here) == ("carol", True)
    assert state.foreign.get(SID) is None


def test_a_supervisor_keeps_every_live_team_call_beyond_the_strangers_limit() -> None:
    state = team_state("boss", Role.SUPERVISOR)
    count = FOREIGN_LIMIT + 200
    for n in range(count):
        state = run(state, hook(n + 1, "call.initiated", 11.0, sid=f"CA{n}", owner="carol"))
    assert len(state.board) == count
    assert state.foreign_dropped == 0


def test_the_desks_own_action_success_adds_no_timeline_entry() -> None:
    state = run(team_state(), placed(1))
    state = run(
        state,
        ActionRequested("r1", SID, ActionKind.SPEAK, at=13.0, text="Hello"),
        ActionSucceeded("r1", at=13.5),
    )
    assert state.requests["r1"].state == RequestState.DONE
    assert [e.what for e in state.calls[SID].timeline] == [TeamFact.PLACED]
    assert state.calls[SID].spoken == ()


def test_a_recorded_action_names_who_acted_their_role_and_an_ended_document() -> None:
    state = run(
        team_state(),
        placed(1),
        action(
            2,
            ActionKind.FORWARD,
            "+15550001111",
            by="bob",
            role=Role.SUPERVISOR,
            ended_document=True,
        ),
    )
    entry = state.calls[SID].timeline[-1]
    assert (entry.what, entry.detail, entry.by, entry.role, entry.ended_document) == (
        ActionKind.FORWARD,
        "+15550001111",
        "bob",
        Role.SUPERVISOR,
        True,
    )


def test_a_recorded_speak_is_what_the_call_had_spoken_on_every_desk() -> None:
    state = run(team_state(), placed(1), action(2, ActionKind.SPEAK, "Hello there"))
    assert state.calls[SID].spoken == ("Hello there",)


def test_an_action_on_a_call_no_longer_in_memory_is_logged_only() -> None:
    state = run(team_state(), action(2, ActionKind.HANG_UP))
    assert SID not in state.calls
    assert state.log[-1].call_sid == SID


def test_own_dial_accepted_makes_the_call_the_desks_own_without_a_timeline_entry() -> None:
    state = run(
        team_state(),
        DialRequested("d1", TO, FROM, at=9.0),
        DialAccepted("d1", SID, at=9.5),
    )
    call = state.calls[SID]
    assert (call.owner, call.timeline) == ("alice", ())
    state = run(state, placed(1))
    assert [e.what for e in state.calls[SID].timeline] == [TeamFact.PLACED]


# ------------------------------------------------------------------ take-over


def test_a_take_over_makes_the_supervisor_the_owner_and_remembers_whose_it_was() -> None:
    state = run(
        team_state(),
        placed(1),
        action(2, ActionKind.TAKE_OVER, "alice", by="bob", role=Role.SUPERVISOR, owner="bob"),
    )
    call = state.calls[SID]
    assert (call.owner, call.taken_from) == ("bob", "alice")
    assert state.team is not None
    assert read_only(state.team, call)


def test_a_supervisor_never_watches_read_only_and_a_single_desk_never_does() -> None:
    state = run(team_state("bob", Role.SUPERVISOR), placed(1, owner="alice"))
    assert not read_only(state.team, state.calls[SID])
    assert not read_only(None, state.calls[SID])


def test_an_action_on_a_call_taken_over_from_this_operator_fails_at_once() -> None:
    state = run(
        team_state(),
        placed(1),
        action(2, ActionKind.TAKE_OVER, "alice", by="bob", role=Role.SUPERVISOR, owner="bob"),
    )
    state, effects = reduce(state, ActionRequested("r1", SID, ActionKind.HANG_UP, at=30.0))
    assert effects == ()
    assert state.requests["r1"].reason is Failure.TAKEN_OVER


def test_an_operator_cannot_take_a_call_over() -> None:
    state = run(team_state(), placed(1))
    state, effects = reduce(state, ActionRequested("r1", SID, ActionKind.TAKE_OVER, at=30.0))
    assert effects == ()
    assert state.requests["r1"].reason is Failure.FORBIDDEN


def test_a_supervisors_take_over_is_sent_and_its_timeline_entry_comes_from_the_stream() -> None:
    state = run(team_state("bob", Role.SUPERVISOR), placed(1))
    request = ActionRequested("r1", SID, ActionKind.TAKE_OVER, at=30.0)
    state, effects = reduce(state, request)
    assert effects == (RunAction(request),)
    state = run(state, ActionSucceeded("r1", at=30.5))
    assert [e.what for e in state.calls[SID].timeline] == [TeamFact.PLACED]


def test_a_desk_runs_no_documents_itself() -> None:
    state = run(team_state("bob", Role.SUPERVISOR), placed(1))
    state, effects = reduce(state, ActionRequested("r1", SID, ActionKind.DOCUMENT, at=30.0))
    assert effects == ()
    assert state.requests["r1"].reason is Failure.NOT_SUPPORTED


# ------------------------------------------------------------------ own status


def status_of(state: State) -> Presence:
    assert state.team is not None
    return state.team.status.status


def test_the_desks_own_live_call_puts_it_on_call_and_says_so() -> None:
    state = team_state()
    state, effects = reduce(state, placed(1))
    assert status_of(state) is Presence.ON_CALL
    assert effects == (PublishPresence(Presence.ON_CALL, "", SID),)


def test_someone_elses_call_leaves_the_status_alone() -> None:
    state, effects = reduce(team_state("boss", Role.SUPERVISOR), placed(1, owner="alice"))
    assert status_of(state) is Presence.AVAILABLE
    assert effects == ()


def test_the_end_of_the_last_own_call_is_wrap_up_until_the_operator_marks_available() -> None:
    state = run(team_state(), placed(1), placed(2, sid="CA2"))
    state = run(state, hook(3, "call.ended", 30.0))
    assert status_of(state) is Presence.ON_CALL  # CA2 is still live
    state, effects = reduce(state, hook(4, "call.ended", 31.0, sid="CA2"))
    assert status_of(state) is Presence.WRAP_UP
    assert effects == (PublishPresence(Presence.WRAP_UP, "", ""),)
    state, effects = reduce(state, StatusRequested(Presence.AVAILABLE, at=40.0))
    assert status_of(state) is Presence.AVAILABLE
    assert effects == (PublishPresence(Presence.AVAILABLE),)


def test_a_call_taken_over_from_the_operator_ends_their_on_call() -> None:
    state = run(team_state(), placed(1))
    state = run(
        state,
        action(2, ActionKind.TAKE_OVER, "alice", by="bob", role=Role.SUPERVISOR, owner="bob"),
    )
    assert status_of(state) is Presence.WRAP_UP


def test_a_supervisor_who_takes_a_call_over_is_on_call() -> None:
    state = run(team_state("bob", Role.SUPERVISOR), placed(1))
    state = run(
        state,
        action(2, ActionKind.TAKE_OVER, "alice", by="bob", role=Role.SUPERVISOR, owner="bob"),
    )
    assert status_of(state) is Presence.ON_CALL


def test_a_picked_status_waits_while_an_own_call_is_live() -> None:
    state = run(team_state(), placed(1))
    state, effects = reduce(state, StatusRequested(Presence.AWAY, at=20.0, reason="lunch"))
    assert (status_of(state), effects) == (Presence.ON_CALL, ())


def test_away_keeps_a_trimmed_reason_of_bounded_length() -> None:
    state, effects = reduce(team_state(), StatusRequested(Presence.AWAY, 5.0, "  x" * 100))
    assert state.team is not None
    assert len(state.team.status.reason) == REASON_LIMIT
    assert effects == (PublishPresence(Presence.AWAY, state.team.status.reason),)


def test_on_call_and_offline_are_not_the_operators_to_pick() -> None:
    state = team_state()
    for status in (Presence.ON_CALL, Presence.OFFLINE):
        assert reduce(state, StatusRequested(status, at=5.0)) == (state, ())


def test_identity_finds_the_desks_own_live_calls_restored_before_it() -> None:
    state = run(State(team=Team()), placed(1), hook(2, "call.answered", 11.0))
    assert status_of(state) is Presence.AVAILABLE  # not known yet whose desk this is
    state, effects = reduce(state, Identified("alice", Role.OPERATOR, at=20.0))
    assert status_of(state) is Presence.ON_CALL
    assert effects == (PublishPresence(Presence.ON_CALL, "", SID),)


def test_a_failed_status_post_is_remembered_until_one_goes_through() -> None:
    state = run(team_state(), PresencePosted(Presence.AVAILABLE, 2.0, ok=False))
    assert state.team is not None
    assert state.team.presence_failed
    state = run(state, PresencePosted(Presence.AVAILABLE, 7.0))
    assert state.team is not None
    assert not state.team.presence_failed


# ------------------------------------------------------------------ team view


def test_presence_events_keep_each_operator_once() -> None:
    state = run(
        team_state("boss", Role.SUPERVISOR),
        PresenceChanged("alice", Role.OPERATOR, Presence.AVAILABLE, 1.0, seq=1),
        PresenceChanged("alice", Role.OPERATOR, Presence.ON_CALL, 2.0, seq=2, current_call=SID),
    )
    assert state.team is not None
    assert len(state.team.operators) == 1
    alice = state.team.operators["alice"]
    assert (alice.status, alice.since, alice.call_sid) == (Presence.ON_CALL, 2.0, SID)


def test_the_link_state_is_kept_with_since_when() -> None:
    state = run(team_state(), LinkChanged(Link.CONNECTED, 2.0), LinkChanged(Link.RECONNECTING, 9.0))
    assert state.team is not None
    assert (state.team.link, state.team.link_since, state.team.away) == (
        Link.RECONNECTING,
        9.0,
        True,
    )


def test_the_teams_figures_are_the_gateways() -> None:
    figures = TeamFigures(day="2026-01-01", live=3, placed=10, answer_rate=0.5)
    state = run(team_state("boss", Role.SUPERVISOR), FiguresLoaded(figures, at=5.0))
    assert state.team is not None
    assert state.team.figures == figures


def test_a_rebuild_continues_from_the_snapshot_and_checks_calls_it_lacks() -> None:
    state = run(team_state("boss", Role.SUPERVISOR), placed(3), placed(4, sid="CA2"))
    state = run(
        state,
        LinkChanged(Link.REBUILDING, 100.0),
        CallSeen(
            "CA2",
            "carol",
            CallStatus.IN_PROGRESS,
            at=100.0,
            taken_from="alice",
            answered_by="human",
            answered_at=50.0,
        ),
    )
    state, effects = reduce(state, Rebuilt(900, at=100.5))
    assert effects == (CheckCall(SID, CheckReason.REBUILD),)
    assert state.team is not None
    assert state.team.seq == 900
    call = state.calls["CA2"]
    assert (call.owner, call.taken_from, call.status) == ("carol", "alice", CallStatus.IN_PROGRESS)
    assert call.amd is not None
    assert call.amd.answered_by == "human"


def test_a_snapshot_never_moves_a_status_back() -> None:
    state = run(team_state(), placed(1), hook(2, "call.answered", 11.0))
    state = run(state, CallSeen(SID, "alice", CallStatus.RINGING, at=30.0))
    assert state.calls[SID].status is CallStatus.IN_PROGRESS


def test_nothing_is_checked_for_silence_or_after_a_restart_in_a_team() -> None:
    state = run(team_state(), placed(1), hook(2, "call.answered", 11.0))
    later = 11.0 + SILENCE_CHECK + SCAN_EVERY + 1
    assert reduce(state, Tick(later))[1] == ()
    assert reduce(state, ReconcileRequested(later))[1] == ()


def test_a_single_desk_ignores_team_events() -> None:
    state = State()
    for event in (
        placed(1),
        Identified("alice", Role.OPERATOR, 1.0),
        StatusRequested(Presence.AWAY, 2.0),
    ):
        assert reduce(state, event) == (state, ())


def test_a_rebuild_from_a_stream_started_afresh_goes_on_from_its_lower_sequence() -> None:
    state = run(team_state(), placed(500), Rebuilt(2, at=30.0), placed(3, sid="CA3"))
    assert state.team is not None
    assert state.team.seq == 3
    assert "CA3" in state.calls
