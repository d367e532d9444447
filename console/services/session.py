"""The running console: state, the reducer, the journal, and effects carried out.

``dispatch(event)`` reduces, stores the event in the journal (when there is
one), tells every subscriber (the Qt layer coalesces repaints), and starts
each effect as a task on the loop; the effect's outcome (an event) is
dispatched in turn. Subscribers run on the loop thread.

``restore(events)`` is the other way in: events read back from the journal
after a restart, reduced in order with no effects (they were carried out, or
failed, before the restart) and not stored again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import assert_never

from console.core.events import (
    ActionFailed,
    CallChecked,
    CheckCall,
    DialFailed,
    Effect,
    Event,
    Failure,
    FiguresLoaded,
    Identified,
    LinkChanged,
    PlaceCall,
    PresencePosted,
    PublishPresence,
    ReconcileRequested,
    RunAction,
    Tick,
    WebhookReceived,
)
from console.core.reducer import RequestState, State, reduce
from console.services.journal import Journal, call_row

log = logging.getLogger("kaphila.console.session")

Runner = Callable[[Effect], Awaitable[Event]]

CHECKERS = 4  # tasks asking the API about calls (telephony paces them)
INTERRUPTED = "interrupted"  # the message of a request the console stopped waiting for


def failure(effect: Effect, message: str, now: float) -> Event:
    """The event that ends an effect which produced no outcome of its own: every
    request comes back, so nothing stays pending."""
    match effect:
        case PlaceCall():
            return DialFailed(effect.request_id, message, now, reason=Failure.INTERNAL)
        case RunAction():
            return ActionFailed(effect.request.request_id, message, now, reason=Failure.INTERNAL)
        case CheckCall():
            return CallChecked(effect.call_sid, None, now, effect.reason, reachable=False)
        case PublishPresence():
            return PresencePosted(effect.status, now, ok=False)
        case _:
            assert_never(effect)


class Session:
    def __init__(
        self, run_effect: Runner, state: State | None = None, journal: Journal | None = None
    ) -> None:
        self._run_effect = run_effect
        self.state = state or State()
        self.journal = journal
        self._subscribers: list[Callable[[State], None]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._checks: deque[CheckCall] = deque()
        self._checkers: set[asyncio.Task[None]] = set()

    def subscribe(self, callback: Callable[[State], None]) -> None:
        self._subscribers.append(callback)

    def dispatch(self, event: Event) -> asyncio.Future[bool] | None:
        """Apply ``event``; the future (if the journal is in use) says when it is stored."""
        before = self.state
        self.state, effects = reduce(before, event)
        stored = None
        if self.journal is not None and _journaled(event):
            stored = self._store(before, event)
        for callback in self._subscribers:
            callback(self.state)
        for effect in effects:
            if isinstance(effect, CheckCall):
                self._checks.append(effect)
                continue
            task = asyncio.get_running_loop().create_task(self._carry_out(effect))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._start_checkers()
        return stored

    def _start_checkers(self) -> None:
        """Checks wait in one queue served by ``CHECKERS`` tasks: 10,000 live calls
        after a restart are 10,000 queue entries, not 10,000 tasks (each task costs
        a Qt timer under qasync, and Qt's timer bookkeeping is quadratic)."""
        while self._checks and len(self._checkers) < min(CHECKERS, len(self._checks)):
            task = asyncio.get_running_loop().create_task(self._check_worker())
            self._checkers.add(task)
            task.add_done_callback(self._checkers.discard)

    async def _check_worker(self) -> None:
        while self._checks:
            await self._carry_out(self._checks.popleft())

    def stop_checks(self) -> None:
        """Forget the checks still queued (shutdown: a restart asks again)."""
        self._checks.clear()
        for task in self._checkers:
            task.cancel()

    async def record(self, event: WebhookReceived) -> bool:
        """Dispatch a webhook and wait until it is stored: True when the sender
        may be told it arrived (stored, or no journal is in use)."""
        stored = self.dispatch(event)
        return True if stored is None else await stored

    def _store(self, before: State, event: Event) -> asyncio.Future[bool]:
        assert self.journal is not None
        request_id: str | None = getattr(event, "request_id", None)
        sid: str | None = getattr(event, "call_sid", None)
        if sid is None:
            request = self.state.requests.get(request_id or "")
            sid = request.call_sid if request is not None else None
        call = self.state.calls.get(sid) if sid else None
        row = (
            call_row(call, self.journal.profile)
            if call is not None and call is not before.calls.get(sid or "")
            else None
        )
        return self.journal.append(event, sid, request_id, row)

    def restore(self, events: Iterable[Event]) -> None:
        """Rebuild state from journaled events (no effects, not stored again)."""
        state = self.state
        for event in events:
            state, _ = reduce(state, event)
        self.state = state
        for callback in self._subscribers:
            callback(self.state)

    def fail_interrupted(self, now: float) -> int:
        """Requests that were waiting for the API when the console stopped fail
        now, with a message that says their outcome is unknown."""
        pending = [r for r in self.state.requests.values() if r.state == RequestState.PENDING]
        for request in pending:
            outcome: Event = (
                DialFailed(request.request_id, INTERRUPTED, now, reason=Failure.INTERRUPTED)
                if request.kind == "dial"
                else ActionFailed(request.request_id, INTERRUPTED, now, reason=Failure.INTERRUPTED)
            )
            self.dispatch(outcome)
        return len(pending)

    async def _carry_out(self, effect: Effect) -> None:
        try:
            outcome = await self._run_effect(effect)
        except Exception as exc:  # a bug in a service: keep the console running, say so
            log.exception("carrying out %s failed", type(effect).__name__)
            outcome = failure(effect, type(exc).__name__, time.time())
        self.dispatch(outcome)

    @property
    def busy(self) -> bool:
        return bool(self._tasks or self._checkers)

    async def drain(self) -> None:
        """Wait for every effect in flight and every check queued (shutdown, tests)."""
        while self._tasks or self._checkers:
            await asyncio.gather(*self._tasks, *self._checkers, return_exceptions=True)

    async def cancel(self) -> None:
        self.stop_checks()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, *self._checkers, return_exceptions=True)


# Facts of this run only: a restart learns them afresh (the clock, the stream's
# link and greeting, the team's figures, whether a status post went through).
UNJOURNALED = (Tick, ReconcileRequested, LinkChanged, Identified, FiguresLoaded, PresencePosted)


def _journaled(event: Event) -> bool:
    """What a restart would not need is not stored: ``UNJOURNALED``, and an
    unanswered check."""
    if isinstance(event, UNJOURNALED):
        return False
    return not (isinstance(event, CallChecked) and not event.reachable)
