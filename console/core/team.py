"""The team, as a desk in a Team profile sees it: facts only, no I/O.

A desk in a Team profile talks to a gateway (docs/TEAM.md). Everything it
shows about calls comes from the team's stream, so every desk shows a call
the same way; this module holds what the stream adds to the reducer's
``State`` (``State.team``; ``None`` on a single desk):

- ``Team.me``: the desk's own operator name and ``Role`` (from the stream's
  greeting), and ``Team.status``: the status this desk publishes
  (``OwnStatus``: on-call while one of its own calls is live, wrap-up after
  the last one ends until the operator marks available, away with a reason).
- ``Team.link``: the stream's ``Link`` (connected, reconnecting, rebuilding
  from a snapshot, revoked) and since when: the header's "reconnecting…".
- ``Team.seq``: the newest stream sequence applied; an event at or below it is
  skipped (``Team.skipped``), so every event is applied once across
  reconnects and restarts (the journal stores it with the events).
- ``Team.operators``: each operator's ``OperatorPresence`` (every operator on
  a supervisor's desk, only the desk's own on an operator's), keyed by name.
- ``Team.figures``: the team's ``TeamFigures`` for today, as the gateway
  counted them (``GET /team/stats``; supervisors only).
- ``Team.mine``: the desk's own live calls (an index, so no event walks every
  call to decide on-call or wrap-up).

Every collection is an ``immutables.Map``: a supervisor's desk with 500
operators and 1,000 live calls applies an event in O(log n). Calls stay in
``State.calls`` (live ones, then the bounded recent set, as on a single
desk); a call's owner and whom it was taken from are ``Call.owner`` and
``Call.taken_from``; ``read_only`` says whether this desk may act on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from immutables import Map

if TYPE_CHECKING:  # calls.py names Role and TeamFact in its timeline entries
    from console.core.calls import Call


class Role(Enum):
    OPERATOR = "operator"  # places calls; acts on their own
    SUPERVISOR = "supervisor"  # sees every call, acts on any, takes calls over


class Presence(Enum):
    """An operator's status, as published by their desk (the gateway decides offline)."""

    AVAILABLE = "available"
    ON_CALL = "on-call"
    WRAP_UP = "wrap-up"
    AWAY = "away"
    OFFLINE = "offline"


CHOOSABLE = (Presence.AVAILABLE, Presence.WRAP_UP, Presence.AWAY)  # what an operator may pick
REASON_LIMIT = 80  # characters of an away reason (the gateway's limit)


class Link(Enum):
    """The desk's connection to the team's stream."""

    CONNECTING = "connecting"  # never connected yet in this run
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"  # lost; trying again with backoff
    REBUILDING = "rebuilding"  # away longer than the stream keeps: loading a snapshot
    REVOKED = "revoked"  # the gateway removed this desk's operator (or refuses its token)


class TeamFact(Enum):
    """What the stream says happened to a call that is neither a webhook nor an action."""

    PLACED = "placed"  # timeline: placed by ``by`` (the owner)


@dataclass(frozen=True, slots=True)
class Desk:
    """Who this desk is; empty until the stream's greeting says."""

    operator: str = ""
    role: Role = Role.OPERATOR

    @property
    def known(self) -> bool:
        return bool(self.operator)


@dataclass(frozen=True, slots=True)
class OwnStatus:
    """The status this desk publishes (``PublishPresence``), and since when."""

    status: Presence = Presence.AVAILABLE
    reason: str = ""  # away: why
    since: float = 0.0
    call_sid: str = ""  # on-call: the call


@dataclass(frozen=True, slots=True)
class OperatorPresence:
    """One operator as the gateway last told (``presence`` events, ``/team/presence``)."""

    operator: str
    role: Role = Role.OPERATOR
    status: Presence = Presence.OFFLINE
    reason: str = ""
    since: float = 0.0
    call_sid: str = ""  # their current call, if any


@dataclass(frozen=True, slots=True)
class TeamFigures:
    """Today's figures, as the gateway counted them (``GET /team/stats``).
    ``answer_rate`` is answered / (answered + not answered), None before any
    call ended; ``per_operator`` is calls placed today, by name."""

    day: str = ""
    timezone: str = ""
    live: int = 0
    placed: int = 0
    answered: int = 0
    not_answered: int = 0
    answer_rate: float | None = None
    human: int = 0
    machine: int = 0
    unknown: int = 0
    avg_handle_seconds: float | None = None
    per_operator: tuple[tuple[str, int], ...] = ()
    at: float = 0.0  # local time they were loaded


_NO_OPERATORS: Map[str, OperatorPresence] = Map()
_NO_SIDS: Map[str, float] = Map()


@dataclass(frozen=True, slots=True)
class Team:
    me: Desk = Desk()
    status: OwnStatus = OwnStatus()
    link: Link = Link.CONNECTING
    link_since: float = 0.0
    seq: int = 0  # newest stream sequence applied
    applied: int = 0  # stream events applied in this run (replayed ones included)
    skipped: int = 0  # stream events skipped as already applied
    operators: Map[str, OperatorPresence] = _NO_OPERATORS
    figures: TeamFigures | None = None
    mine: Map[str, float] = _NO_SIDS  # this desk's own live calls -> when they became its
    rebuilt: Map[str, float] = _NO_SIDS  # calls seen in the snapshot being loaded
    presence_failed: bool = False  # the last status post did not reach the gateway

    @property
    def supervisor(self) -> bool:
        return self.me.role is Role.SUPERVISOR

    @property
    def away(self) -> bool:
        """The stream is not live (the header says "reconnecting…")."""
        return self.link is not Link.CONNECTED


def owned_by(team: Team, call: Call) -> bool:
    """Is ``call`` this desk's own (placed by it, or taken over by it)?"""
    return team.me.known and call.owner == team.me.operator


def read_only(team: Team | None, call: Call) -> bool:
    """Can this desk only watch ``call``? An operator's call a supervisor took
    over stays on the operator's desk, read-only; supervisors act on any call."""
    if team is None or team.supervisor or not call.owner or not team.me.known:
        return False
    return call.owner != team.me.operator
