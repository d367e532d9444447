"""The running console: state, the reducer, and effects carried out.

``dispatch(event)`` reduces, tells every subscriber (the Qt layer coalesces
repaints), and starts each effect as a task on the loop; the effect's outcome
(an event) is dispatched in turn. Subscribers run on the loop thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from console.core.events import Effect, Event
from console.core.reducer import State, reduce

log = logging.getLogger("kaphila.console.session")

Runner = Callable[[Effect], Awaitable[Event]]


class Session:
    def __init__(self, run_effect: Runner, state: State | None = None) -> None:
        self._run_effect = run_effect
        self.state = state or State()
        self._subscribers: list[Callable[[State], None]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def subscribe(self, callback: Callable[[State], None]) -> None:
        self._subscribers.append(callback)

    def dispatch(self, event: Event) -> None:
        self.state, effects = reduce(self.state, event)
        for callback in self._subscribers:
            callback(self.state)
        for effect in effects:
            task = asyncio.get_running_loop().create_task(self._carry_out(effect))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _carry_out(self, effect: Effect) -> None:
        try:
            outcome = await self._run_effect(effect)
        except Exception:  # a bug in a service: keep the console running, say so
            log.exception("carrying out %r failed", effect)
            return
        self.dispatch(outcome)

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    async def drain(self) -> None:
        """Wait for every effect in flight (shutdown, tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
