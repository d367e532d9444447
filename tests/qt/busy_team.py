"""A busy team as the stream would tell a desk about it: core events only (no
gateway), so Qt tests and screenshots can build a desk with 500 operators and
1,000 live calls in a fraction of a second and then change it event by event."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from console.core.calls import ActionKind, CallStatus, Happened
from console.core.events import (
    ActionRecorded,
    CallPlaced,
    Event,
    FiguresLoaded,
    Identified,
    LinkChanged,
    PresenceChanged,
    WebhookReceived,
)
from console.core.reducer import State, reduce
from console.core.team import Link, Presence, Role, Team, TeamFigures

FIRST = (
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "mallory",
    "niaj",
    "olivia",
    "peggy",
    "rupert",
    "sybil",
    "trent",
    "victor",
    "walter",
    "yusuf",
    "zoe",
    "amara",
    "bruno",
    "chen",
    "dmitri",
)
CALLER_ID = "+14155550134"


SURNAMES = (
    "adams",
    "baker",
    "chen",
    "diaz",
    "evans",
    "fox",
    "garcia",
    "hill",
    "ito",
    "jones",
    "khan",
    "lee",
    "moore",
    "ng",
    "ortiz",
    "park",
    "quinn",
    "rossi",
    "smith",
    "tanaka",
    "ueda",
    "vega",
    "wong",
    "xu",
    "young",
)


def operator_names(count: int) -> list[str]:
    """Readable names: first names alone, then with a surname (625 at most)."""
    names = list(FIRST[:count])
    for surname in SURNAMES:
        names += [f"{first}.{surname}" for first in FIRST]
    assert len(names) >= count
    return names[:count]


def number(n: int) -> str:
    return f"+1555{n:07d}"


@dataclass
class BusyTeam:
    """Builds a desk's state from stream events, keeping the stream's sequence."""

    me: str = "sue"
    role: Role = Role.SUPERVISOR
    now: float = field(default_factory=time.time)
    state: State = field(default_factory=lambda: State(team=Team()))
    seq: int = 0
    _sids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def apply(self, event: Event) -> State:
        self.state, _ = reduce(self.state, event)
        return self.state

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def join(self) -> State:
        self.apply(Identified(self.me, self.role, at=self.now - 3600))
        return self.apply(LinkChanged(Link.CONNECTED, at=self.now - 3600))

    def presence(
        self, operator: str, status: Presence, since: float, reason: str = "", call: str = ""
    ) -> State:
        return self.apply(
            PresenceChanged(
                operator,
                Role.SUPERVISOR if operator == self.me else Role.OPERATOR,
                status,
                since,
                self.next_seq(),
                reason,
                call,
            )
        )

    def place(self, owner: str, at: float, to: str | None = None) -> str:
        n = next(self._sids)
        sid = f"CA{n:032x}"
        self.apply(CallPlaced(self.next_seq(), sid, owner, to or number(n), CALLER_ID, at))
        return sid

    def hook(
        self,
        sid: str,
        happened: Happened,
        status: CallStatus,
        at: float,
        owner: str,
        answered_by: str | None = None,
        digits: str = "",
    ) -> State:
        return self.apply(
            WebhookReceived(
                sid,
                happened,
                at,
                at,
                status,
                answered_by=answered_by,  # type: ignore[arg-type]
                confidence=0.93 if answered_by else None,
                digits=digits,
                seq=self.next_seq(),
                owner=owner,
            )
        )

    def act(
        self,
        sid: str,
        kind: ActionKind,
        by: str,
        owner: str,
        at: float,
        detail: str = "",
        role: Role = Role.SUPERVISOR,
    ) -> State:
        return self.apply(
            ActionRecorded(self.next_seq(), sid, owner, by, role, kind, at, detail=detail)
        )

    def figures(self, operators: list[str], live: int) -> State:
        per = tuple((name, 3 + (i * 7) % 11) for i, name in enumerate(operators))
        placed = sum(count for _, count in per)
        return self.apply(
            FiguresLoaded(
                TeamFigures(
                    day=time.strftime("%Y-%m-%d", time.localtime(self.now)),
                    timezone="Europe/Paris",
                    live=live,
                    placed=placed,
                    answered=int(placed * 0.62),
                    not_answered=int(placed * 0.3),
                    answer_rate=0.62 / 0.92,
                    human=int(placed * 0.45),
                    machine=int(placed * 0.15),
                    unknown=int(placed * 0.02),
                    avg_handle_seconds=161.0,
                    per_operator=per,
                    at=self.now,
                ),
                at=self.now,
            )
        )


def busy(
    operators: int = 500, calls: int = 1000, me: str = "sue", role: Role = Role.SUPERVISOR
) -> tuple[BusyTeam, list[str], list[str]]:
    """A team of ``operators`` (``me`` among them) with ``calls`` live calls spread
    over them: most answered, some ringing, a few taken over by ``me``; every
    operator's presence as the gateway would publish it, and today's figures.
    Returns the builder, the operator names and the call ids (oldest first)."""
    team = BusyTeam(me=me, role=role)
    team.join()
    agents = operator_names(operators - 1)
    names = sorted([*agents, me])
    busy_ones = agents[: max(1, len(agents) * 3 // 5)]  # the rest: available, away, ...
    now = team.now
    sids: list[str] = []
    for n in range(calls):
        owner = busy_ones[n % len(busy_ones)]
        at = now - 600 + n * 0.5
        sid = team.place(owner, at)
        sids.append(sid)
        if n % 5 == 4:
            team.hook(sid, Happened.RINGING, CallStatus.RINGING, at + 1, owner)
            continue
        team.hook(sid, Happened.RINGING, CallStatus.RINGING, at + 1, owner)
        amd = "machine" if n % 7 == 3 else "human"
        team.hook(sid, Happened.ANSWERED, CallStatus.IN_PROGRESS, at + 4, owner, amd)
        if n % 97 == 11:
            team.act(sid, ActionKind.TAKE_OVER, me, me, at + 9, detail=owner)
    on_call = {team.state.calls[s].owner: s for s in sids}
    for i, name in enumerate(names):
        if name == me:
            team.presence(name, Presence.AVAILABLE, now - 1800)
        elif name in on_call:
            team.presence(name, Presence.ON_CALL, now - 30 - i % 300, call=on_call[name])
        elif i % 4 == 1:
            team.presence(name, Presence.WRAP_UP, now - 15 - i % 60)
        elif i % 4 == 2:
            team.presence(name, Presence.AWAY, now - 300 - i, reason="lunch")
        elif i % 4 == 3:
            team.presence(name, Presence.OFFLINE, now - 3000)
        else:
            team.presence(name, Presence.AVAILABLE, now - 5 - i % 120)
    team.figures(names, live=calls)
    return team, names, sids


class TeamWindow:
    """The real window over a real reducer, fed by a ``BusyTeam``: what the window
    dispatches is reduced too, and the test plays the stream."""

    def __init__(self, qtbot: Any, team: BusyTeam) -> None:
        from console.config import Profile
        from console.qt.main_window import MainWindow, WindowServices

        self.team = team
        self.sent: list[Event] = []
        self.window = MainWindow(
            Profile("Acme team", base_url="https://gateway.example", caller_ids=(CALLER_ID,)),
            WindowServices(dispatch=self.dispatch),
            "",
        )
        qtbot.addWidget(self.window)
        self.window.show()
        self.window.apply_state(team.state)

    def dispatch(self, event: Event) -> None:
        self.sent.append(event)
        self.team.apply(event)
        self.window.apply_state(self.team.state)

    def show(self) -> None:
        """Hand the window the newest state (what the coalescing timer does)."""
        self.window.apply_state(self.team.state)
