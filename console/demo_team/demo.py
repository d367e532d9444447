"""The demo put together: the rig, the simulated operators' desks, the
supervisor (a window, else a headless desk), and a status line.

``Demo`` is what ``python -m console.demo_team`` runs and what the test runs
headless for a few seconds: ``await demo.start()``, look at ``demo.operators``
and ``demo.supervisor``, ``await demo.stop()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from console.demo_team import window
from console.demo_team.processes import Child
from console.demo_team.rig import OPERATOR, SUPERVISOR, TeamRig, roster
from console.demo_team.simulated import Pace, SimulatedOperator
from console.sandbox.config import DEMO_CALLER_IDS
from console.services.team_api import PRESENCE, STATS, TeamApi, TeamApiError
from console.services.team_desk import TeamDesk, open_team_desk

log = logging.getLogger("kaphila.demo")

CALLER_IDS = tuple("+" + number for number in DEMO_CALLER_IDS)
STATUS_EVERY = 5.0
CLOSE_TIMEOUT = 10.0


@dataclass(frozen=True)
class Options:
    operators: int = 6
    window: bool = True
    time_scale: float = 1.0  # the sandbox's, and the operators' pace sped up as much
    seed: int | None = None
    status_every: float = STATUS_EVERY
    folder: Path | None = None  # where the temporary folder goes (default: the system's)
    drain_timeout: float = 2.0  # the gateway's, at stop


@dataclass
class Demo:
    options: Options = Options()
    out: Callable[[str], None] = print
    rig: TeamRig = field(init=False)
    operators: list[SimulatedOperator] = field(default_factory=list)
    supervisor: TeamDesk | None = None  # the headless one, when there is no window
    window: Child | None = None
    window_reason: str = ""
    ended: asyncio.Event = field(default_factory=asyncio.Event)  # the window was closed
    _desks: list[TeamDesk] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _http: aiohttp.ClientSession | None = None
    _executor: ThreadPoolExecutor | None = None

    def __post_init__(self) -> None:
        self.rig = TeamRig(
            roster(self.options.operators),
            time_scale=self.options.time_scale,
            folder=self.options.folder,
            drain_timeout=self.options.drain_timeout,
        )

    @property
    def supervisor_name(self) -> str:
        return self.rig.named(SUPERVISOR)[0]

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        await self.rig.start()
        url = self.rig.url
        self._http = aiohttp.ClientSession()
        self._executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="demo-sdk")
        rng = random.Random(self.options.seed)
        pace = Pace().scaled(self.options.time_scale)
        for name in self.rig.named(OPERATOR):
            desk = await self._open(name)
            operator = SimulatedOperator(desk, name, CALLER_IDS, random.Random(rng.random()), pace)
            self.operators.append(operator)
            self._spawn(operator.run(), f"operator-{name}")
        supervisor = self.supervisor_name
        if self.options.window:
            home = self.rig.workdir / "console"
            launched = window.launch(url, self.rig.token(supervisor), home, CALLER_IDS)
            self.window, self.window_reason = launched.child, launched.reason
        if self.window is None:
            self.supervisor = await self._open(supervisor)
        else:
            self._spawn(self._watch(self.window), "window")
        self.out(self.introduction())
        if self.options.status_every > 0:
            self._spawn(self._report(), "status")

    async def _open(self, name: str) -> TeamDesk:
        desk = await open_team_desk(
            self.rig.url, self.rig.token(name), http=self._http, executor=self._executor
        )
        self._desks.append(desk)
        return desk

    def _spawn(self, coro: Any, name: str) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(coro, name=name))

    def introduction(self) -> str:
        supervisor = self.supervisor_name
        names = ", ".join(o.name for o in self.operators)
        if self.window is not None:
            seen = f"the console window, on the gateway as {supervisor} (supervisor)"
        else:
            why = f" ({self.window_reason})" if self.window_reason else ""
            seen = (
                f"no console window{why}: point a console's Team profile at the gateway "
                f"with {supervisor}'s token to watch"
            )
        return "\n".join(
            (
                "Kaphila team demo: a gateway in team mode in front of the Kaphila sandbox",
                f"  gateway     {self.rig.url}",
                f"  supervisor  {supervisor}, token {self.rig.token(supervisor)}",
                f"  operators   {names} (simulated desks, headless)",
                f"  watch       {seen}",
                "Ctrl+C stops everything.",
            )
        )

    async def _watch(self, child: Child) -> None:
        """The window closed (by its user): the demo is over."""
        await asyncio.to_thread(child.proc.wait)  # returns at the latest when stop() stops it
        if child.proc.returncode:
            self.out(
                f"the console window ended (exit {child.proc.returncode}):\n{child.log_tail(1500)}"
            )
        else:
            self.out("the console window was closed")
        self.ended.set()

    async def _report(self) -> None:
        """A status line every ``status_every`` seconds, as the supervisor sees
        the team (the gateway's figures and presence)."""
        api = TeamApi(self.rig.url, self.rig.token(self.supervisor_name), self._http)
        while True:
            await asyncio.sleep(self.options.status_every)
            try:
                stats, presence = await asyncio.gather(api.get(STATS), api.get(PRESENCE))
            except TeamApiError as exc:
                self.out(f"(the gateway did not answer: {exc})")
                continue
            self.out(status_line(stats, presence))

    async def stop(self) -> None:
        """The window, the operators, the desks, then the rig. Safe to call twice."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        child, self.window = self.window, None
        if child is not None:
            await asyncio.to_thread(child.stop)
        desks, self._desks = self._desks, []
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await asyncio.gather(*(d.close() for d in desks), return_exceptions=True)
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        await self.rig.stop()


STATUS_ORDER = ("on-call", "wrap-up", "away", "available", "offline")
STATUS_WORDS = {
    "on-call": "on a call",
    "wrap-up": "wrap-up",
    "away": "away",
    "available": "available",
    "offline": "offline",
}


def status_line(stats: dict[str, Any], presence: dict[str, Any]) -> str:
    """One line: today's figures and who is doing what (supervisors left out)."""
    rate = stats.get("answerRate")
    answered = f"{rate:.0%} answered" if isinstance(rate, int | float) else "none ended yet"
    amd = stats.get("amd") or {}
    figures = (
        f"live {stats.get('live', 0)}, placed {stats.get('placed', 0)}, {answered}, "
        f"{amd.get('human', 0)} people / {amd.get('machine', 0)} machines"
    )
    groups: dict[str, list[str]] = {}
    for entry in presence.get("operators") or ():
        if entry.get("role") != OPERATOR:
            continue
        name = str(entry.get("operator"))
        if entry.get("status") == "away" and entry.get("reason"):
            name += f" ({entry['reason']})"
        groups.setdefault(str(entry.get("status")), []).append(name)
    people = "; ".join(
        f"{STATUS_WORDS.get(status, status)}: {', '.join(sorted(groups[status]))}"
        for status in (*STATUS_ORDER, *sorted(set(groups) - set(STATUS_ORDER)))
        if status in groups
    )
    return f"{figures} | {people}"
