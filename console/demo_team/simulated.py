"""Simulated operators: a headless desk (``TeamDesk``) driven on a schedule, as
a person at that desk would: place a call to the next number of the campaign,
steer it (speak, gather, forward, hang up), wrap up, mark available, now and
then go away for a coffee with a reason.

Everything goes through the desk, so through the gateway with the operator's
token, and every desk on the team sees it on the stream. Times are real
seconds (``Pace``); the benchmark reuses ``steer`` with its own pace.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from console.core.calls import ActionKind, Call
from console.core.reducer import RequestState
from console.core.team import Presence
from console.services.team_desk import TeamDesk

SPECIALIST = "+15557650000"  # where a keen callee is forwarded to
# The campaign's numbers: scenario suffixes (console/sandbox/scenarios.py) and
# how often each comes up. Mostly people, some machines, some nobody.
MIX: tuple[tuple[str, int], ...] = (
    ("", 50),  # a person answers
    ("0007", 12),  # a person who answers every gather with keys
    ("0006", 5),  # a person who hangs up 4 s after answering
    ("0008", 5),  # a person, after ringing 10 s
    ("0001", 12),  # an answering machine
    ("0002", 3),  # AMD not sure
    ("0004", 8),  # no answer
    ("0003", 3),  # busy
    ("0005", 2),  # failed
)
AWAY_REASONS = ("coffee", "lunch", "team huddle", "training", "coffee")
GREETING = "Hello, this is {name} from Kaphila Energy. Have you got a minute?"
PITCH = "We can lower your energy bill by a fifth, with no change of supplier."
VOICEMAIL = "Hello, this is {name} from Kaphila Energy. Please call us back on 555 0100."
NOT_SURE = "Hello? Is anybody there?"
GATHER = "Press 1 to talk to a specialist now, or 2 for a call back."
GOODBYE = "Thank you for your time. Goodbye."


@dataclass(frozen=True)
class Pace:
    """How long things take, in real seconds: (low, high) ranges drawn from."""

    think: tuple[float, float] = (3.0, 10.0)  # between two calls
    pause: tuple[float, float] = (2.0, 4.0)  # between two sentences
    talk: tuple[float, float] = (8.0, 20.0)  # a conversation before the goodbye
    machine: tuple[float, float] = (2.0, 4.0)  # after the voicemail message
    wrap_up: tuple[float, float] = (4.0, 10.0)
    away: tuple[float, float] = (15.0, 40.0)
    away_chance: float = 0.07  # before each call
    forward_chance: float = 0.2  # of the people who listened to the pitch
    ring_wait: float = 40.0  # the longest wait for an answer (ringTimeout 20 s, slow answers)
    request_wait: float = 15.0  # the longest wait for the gateway's answer to a request
    ring_timeout: int = 20  # simulated seconds, as dialled

    def scaled(self, factor: float) -> Pace:
        """Every duration divided by ``factor`` (a sandbox ``factor`` times faster)."""

        def span(value: tuple[float, float]) -> tuple[float, float]:
            return (value[0] / factor, value[1] / factor)

        return replace(
            self,
            think=span(self.think),
            pause=span(self.pause),
            talk=span(self.talk),
            machine=span(self.machine),
            wrap_up=span(self.wrap_up),
            away=span(self.away),
            ring_wait=self.ring_wait / factor + 3.0,  # + the round trips, which do not scale
        )


def draw(rng: random.Random, span: tuple[float, float]) -> float:
    return rng.uniform(*span)


def campaign_number(rng: random.Random, mix: tuple[tuple[str, int], ...] = MIX) -> str:
    """The next number to dial (E.164): its last four digits pick the scenario."""
    suffix = rng.choices([s for s, _ in mix], weights=[w for _, w in mix])[0]
    if not suffix:
        suffix = f"{rng.randrange(1000, 10000)}"  # no scenario: a person answers
    return f"+1555{rng.randrange(100, 1000)}{suffix}"


async def until(predicate: Callable[[], bool], within: float, every: float = 0.1) -> bool:
    """Poll ``predicate`` until true (True) or ``within`` seconds passed (False)."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(every)
    return True


def call_of(desk: TeamDesk, sid: str) -> Call | None:
    return desk.state.calls.get(sid)


def live(desk: TeamDesk, sid: str) -> bool:
    call = call_of(desk, sid)
    return call is not None and call.live


async def request_done(desk: TeamDesk, request_id: str, within: float) -> bool:
    """Wait for the gateway's answer to a request; True when it was done."""

    def answered() -> bool:
        request = desk.state.requests.get(request_id)
        return request is None or request.state != RequestState.PENDING

    await until(answered, within)
    request = desk.state.requests.get(request_id)
    return request is not None and request.state == RequestState.DONE


async def act(
    desk: TeamDesk, sid: str, kind: ActionKind, text: str, pace: Pace, **options: object
) -> bool:
    """One action on a live call, waited for; False if the call is gone or it failed."""
    if not live(desk, sid):
        return False
    return await request_done(desk, desk.act(sid, kind, text, **options), pace.request_wait)


async def steer(
    desk: TeamDesk, sid: str, rng: random.Random, pace: Pace, name: str = "Alex"
) -> None:
    """What the operator does with one call, by who answered: a person hears the
    greeting and the pitch (a keypad user is asked to press 1 and, if they do,
    is forwarded to a specialist; some others are forwarded too), then goodbye
    and a hang-up; a machine gets a voicemail message; a not-sure a question.
    Returns once the call has ended (or after ``ring_wait`` with no answer)."""

    def answered_or_ended() -> bool:
        call = call_of(desk, sid)
        return call is not None and (call.answered_at is not None or not call.live)

    if not await until(answered_or_ended, pace.ring_wait, every=0.2) or not live(desk, sid):
        return
    call = call_of(desk, sid)
    answered_by = call.amd.answered_by if call is not None and call.amd is not None else "human"
    if answered_by == "machine":
        await act(desk, sid, ActionKind.SPEAK, VOICEMAIL.format(name=name), pace)
        await asyncio.sleep(draw(rng, pace.machine))
    elif answered_by == "unknown":
        await act(desk, sid, ActionKind.SPEAK, NOT_SURE, pace)
        await asyncio.sleep(draw(rng, pace.pause))
    else:
        if await _conversation(desk, sid, rng, pace, name):
            return  # forwarded: the call is the specialist's now
    if live(desk, sid):
        await act(desk, sid, ActionKind.HANG_UP, "", pace)
    await until(lambda: not live(desk, sid), pace.request_wait, every=0.2)


async def _conversation(
    desk: TeamDesk, sid: str, rng: random.Random, pace: Pace, name: str
) -> bool:
    """A person on the line; True when the call was forwarded."""
    await act(desk, sid, ActionKind.SPEAK, GREETING.format(name=name), pace)
    await asyncio.sleep(draw(rng, pace.pause))
    call = call_of(desk, sid)
    keypad = call is not None and call.to.endswith("0007")
    if keypad:
        before = len(call.gathers) if call is not None else 0
        if await act(desk, sid, ActionKind.GATHER, GATHER, pace, num_digits=1, timeout=5):

            def gathered() -> bool:
                now = call_of(desk, sid)
                return now is None or not now.live or len(now.gathers) > before

            await until(gathered, pace.ring_wait, every=0.2)
            now = call_of(desk, sid)
            if now is not None and now.live and now.gathers[-1:] == ("1",):
                return await act(desk, sid, ActionKind.FORWARD, SPECIALIST, pace)
    else:
        await act(desk, sid, ActionKind.SPEAK, PITCH, pace)
        await asyncio.sleep(draw(rng, pace.talk))
        if rng.random() < pace.forward_chance and live(desk, sid):
            return await act(desk, sid, ActionKind.FORWARD, SPECIALIST, pace)
    if live(desk, sid):
        await act(desk, sid, ActionKind.SPEAK, GOODBYE, pace)
        await asyncio.sleep(draw(rng, pace.pause))
    return False


@dataclass
class SimulatedOperator:
    """One operator's day: ``await operator.run()`` until cancelled."""

    desk: TeamDesk
    name: str
    caller_ids: tuple[str, ...]
    rng: random.Random
    pace: Pace = Pace()
    placed: list[str] = field(default_factory=list)  # call ids, in order
    dial_failures: int = 0
    breaks: int = 0

    async def run(self) -> None:
        # The stream's greeting tells the desk who it is; its status follows.
        await until(lambda: self.desk.team.me.known, self.pace.request_wait)
        while True:
            if self.rng.random() < self.pace.away_chance:
                await self.take_a_break()
            await asyncio.sleep(draw(self.rng, self.pace.think))
            sid = await self.place(campaign_number(self.rng))
            if sid is None:
                continue
            await steer(self.desk, sid, self.rng, self.pace, self.name.title())
            await self.wrap_up(sid)

    async def place(self, number: str) -> str | None:
        caller_id = self.rng.choice(self.caller_ids)
        request_id = self.desk.dial(number, caller_id, ring_timeout=self.pace.ring_timeout)
        if not await request_done(self.desk, request_id, self.pace.request_wait):
            self.dial_failures += 1
            return None
        request = self.desk.state.requests.get(request_id)
        sid = request.call_sid if request is not None else None
        if sid:
            self.placed.append(sid)
        return sid

    async def take_a_break(self) -> None:
        self.breaks += 1
        self.desk.set_status(Presence.AWAY, self.rng.choice(AWAY_REASONS))
        await asyncio.sleep(draw(self.rng, self.pace.away))
        self.desk.set_status(Presence.AVAILABLE)

    async def wrap_up(self, sid: str) -> None:
        """After the call: notes for a while (the desk says wrap-up), then available."""
        await until(lambda: not live(self.desk, sid), self.pace.ring_wait, every=0.2)
        await asyncio.sleep(draw(self.rng, self.pace.wrap_up))
        self.desk.set_status(Presence.AVAILABLE)
