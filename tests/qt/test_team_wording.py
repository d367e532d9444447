"""A team's timeline facts in the operator's words (the same on every desk)."""

from __future__ import annotations

from dataclasses import replace

from console.core.calls import ActionKind, CheckReason, Failure, TimelineEntry
from console.core.reducer import Request, RequestState
from console.core.team import Role, TeamFact
from console.qt import wording


def test_a_supervisors_forward_says_who_and_that_the_document_was_ended() -> None:
    entry = TimelineEntry(
        1.0,
        ActionKind.FORWARD,
        detail="+15550001111",
        by="bob",
        role=Role.SUPERVISOR,
        ended_document=True,
    )
    assert wording.timeline(entry) == (
        "Forwarded to +15550001111 by bob, supervisor; ended the TwiML document first"
    )


def test_a_take_over_names_whom_it_was_taken_from() -> None:
    entry = TimelineEntry(1.0, ActionKind.TAKE_OVER, detail="alice", by="bob", role=Role.SUPERVISOR)
    assert wording.timeline(entry) == "bob, supervisor, took over from alice"


def test_placing_names_the_operator_and_the_number() -> None:
    entry = TimelineEntry(1.0, TeamFact.PLACED, detail="+15551230000", by="alice")
    assert wording.timeline(entry) == "Placed by alice to +15551230000"


def test_a_team_speak_names_who_first_and_quotes_the_words() -> None:
    """Words may run long or end in a full stop: "Spoke: Hello. by alice" read badly."""
    entry = TimelineEntry(1.0, ActionKind.SPEAK, detail="Hello, this is Acme.", by="alice")
    entry = replace(entry, role=Role.OPERATOR)
    assert wording.timeline(entry) == "alice, operator, spoke: “Hello, this is Acme.”"
    gather = TimelineEntry(
        1.0, ActionKind.GATHER, detail="Your PIN?", by="sue", role=Role.SUPERVISOR
    )
    assert wording.timeline(gather) == "sue, supervisor, sent a gather: “Your PIN?”"


def test_a_single_desks_action_reads_as_before() -> None:
    assert wording.timeline(TimelineEntry(1.0, ActionKind.SPEAK, detail="Hi")) == "Spoke: Hi"


def test_a_check_after_a_rebuild_says_so() -> None:
    entry = TimelineEntry(1.0, CheckReason.REBUILD)
    assert (
        wording.timeline(entry) == "Checked after a long absence: the API no longer knows this call"
    )


def test_the_gateways_refusal_is_shown_with_its_reason() -> None:
    request = Request(
        "r1",
        ActionKind.HANG_UP,
        1.0,
        call_sid="CA1",
        state=RequestState.FAILED,
        reason=Failure.FORBIDDEN,
        message="call CA1 belongs to alice; an operator acts only on calls they placed",
        code=20003,
        status=403,
    )
    assert wording.request(request) == (
        "Hang up failed: refused: call CA1 belongs to alice; an operator acts only on calls "
        "they placed"
    )


def test_a_refused_token_is_not_called_an_api_key() -> None:
    request = Request("r1", "dial", 1.0, state=RequestState.FAILED, reason=Failure.UNAUTHORIZED)
    assert "operator token" in wording.request(request)
