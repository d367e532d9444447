"""Take the README's screenshots of the real window under Xvfb.

    xvfb-run -a -s "-screen 0 1700x1100x24" .venv/bin/python packaging/screenshots.py

Runs the console against its embedded sandbox (in a throw-away config dir),
drives it like an operator and saves PNGs to resources/screenshots/: the
window with three calls in the light and the dark theme at 1024x700 and
1600x1000 (``main-<theme>-<width>.png``), the settings and history windows in
both themes, and the rest in the light theme.

Then a Team profile's window, in both themes at both sizes: a supervisor's
board over a busy team (``team-supervisor-<theme>-<width>.png``: 300
operators, 500 live calls) and an operator's desk whose call a supervisor took
over (``team-operator-<theme>-<width>.png``). Their state is built from the
team stream's own events (``tests/qt/busy_team.py``), as a desk would apply
them: a busy team of hundreds of operators is not something a demo on this
machine can drive by hand, and the picture must be the same on every run.

And the team demo for real (``make demo-team``'s sandbox, gateway and simulated
operators, ``console.demo_team``; it needs its nats-server): sue's console on
the supervisor board after she took one of alice's calls over through the
gateway (``team-demo-supervisor-<theme>-<width>.png``) and alice's console
watching it (``team-demo-operator-<theme>-<width>.png``).

    --only single|team|demo   take only that part's pictures
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import qasync
from PySide6.QtWidgets import QApplication

from console.app import build_window, start_console
from console.qt.theme import apply_theme
from console.services.secrets import MemoryStore

if TYPE_CHECKING:
    from tests.qt.busy_team import BusyTeam

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "resources" / "screenshots"
SIZES = ((1024, 700), (1600, 1000))  # a small laptop, a common desktop
THEMES = ("light", "dark")


async def in_each_theme(shoot: Callable[[str], Awaitable[None]]) -> None:
    """Run ``shoot(theme)`` in each theme, then go back to light."""
    for theme in THEMES:
        apply_theme(theme)
        await asyncio.sleep(0.2)
        await shoot(theme)
    apply_theme("light")


async def take() -> None:
    console = await start_console(store=MemoryStore())
    window = build_window(console)
    window.show()
    await asyncio.sleep(0.5)
    OUT.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(OUT / "main-idle.png"))
    for number in ("+15551230001", "+15551230008", "+15551230000"):
        window.number.setText(number)
        window.dial()
        await asyncio.sleep(0.3)
    await asyncio.sleep(2.5)
    window.table.selectRow(2)
    await asyncio.sleep(0.1)
    window.speak_text.setText("Hello, this is Acme support.")
    window.speak()
    await asyncio.sleep(0.6)
    window.gather_prompt.setText("Enter your account number")
    window.gather_digits.setValue(4)
    window.gather()
    await asyncio.sleep(2.5)
    await console.callee_press(window.selected or "", "12")
    await asyncio.sleep(1.0)
    console.tick()
    window.tick()
    await asyncio.sleep(0.2)
    window.grab().save(str(OUT / "main-three-calls.png"))

    async def main_window(theme: str) -> None:
        for width, height in SIZES:
            window.resize(width, height)
            await asyncio.sleep(0.3)
            window.tick()
            if window.size().toTuple() != (width, height):  # its minimum size is larger
                print(
                    f"main window: asked for {width}x{height}, got "
                    f"{window.width()}x{window.height()}",
                    file=sys.stderr,
                )
            window.grab().save(str(OUT / f"main-{theme}-{width}.png"))

    await in_each_theme(main_window)
    window.resize(1280, 800)

    from console.config import Profile
    from console.qt.settings_dialog import SettingsDialog

    settings = console.settings.with_profile(
        Profile(
            "Acme live",
            base_url="https://kaphila.com",
            caller_ids=("+14155550134",),
            public_webhook_base="https://acme-tunnel.example",
        )
    )
    dialog = SettingsDialog(
        settings, console.store.description, {p.name: True for p in settings.profiles}, window
    )
    dialog.profile_picker.setCurrentIndex(1)
    dialog.show()
    await asyncio.sleep(0.4)

    async def settings_dialog(theme: str) -> None:
        dialog.theme.setCurrentIndex(dialog.theme.findData(theme))
        await asyncio.sleep(0.1)
        dialog.grab().save(
            str(OUT / ("settings.png" if theme == "light" else f"settings-{theme}.png"))
        )

    await in_each_theme(settings_dialog)
    dialog.close()

    # History: end the three calls, add a few more outcomes, then search.
    assert console.sandbox is not None
    console.sandbox.simulator.clock.scale = 20.0
    for sid in list(console.session.state.board):
        await console.callee_hangup(sid)
    for number in (
        "+15551230003",
        "+15551230005",
        "+15551230006",
        "+15551230004",
        "+15551230002",
        "+15551230003",
    ):
        window.number.setText(number)
        window.ring_timeout.setValue(5)
        window.dial()
        await asyncio.sleep(0.2)
    await asyncio.sleep(6)
    assert console.journal is not None
    await console.journal.flush()
    from console.qt.history_view import HistoryWindow, TimelineDialog

    assert window.services.open_history is not None
    window.services.open_history()
    history = window.findChild(HistoryWindow)
    await asyncio.sleep(0.8)
    history.table.selectRow(1)
    await asyncio.sleep(0.2)

    async def history_window(theme: str) -> None:
        history.grab().save(
            str(OUT / ("history.png" if theme == "light" else f"history-{theme}.png"))
        )

    await in_each_theme(history_window)
    history.open_selected()
    await asyncio.sleep(0.6)
    timeline = history.findChild(TimelineDialog)
    if timeline is not None:
        timeline.entries.setCurrentCell(1, 0)
        await asyncio.sleep(0.2)
        timeline.grab().save(str(OUT / "history-timeline.png"))
        timeline.accept()
    await console.close()
    print(f"saved to {OUT}")


async def take_team() -> None:
    """The Team profile's windows: a supervisor's board, an operator's desk."""
    sys.path.insert(0, str(ROOT))  # the team is built with the tests' stream builder
    from console.config import Profile
    from console.qt.main_window import MainWindow, WindowServices

    OUT.mkdir(parents=True, exist_ok=True)
    profile = Profile("Acme call center", base_url="https://gateway.acme.example")

    async def shoot(team: BusyTeam, name: str, arrange: Callable[[MainWindow], None]) -> None:
        window = MainWindow(profile, WindowServices(dispatch=lambda e: None), "")
        window.show()
        window.apply_state(team.state)
        arrange(window)

        async def sizes(theme: str) -> None:
            for width, height in SIZES:
                window.resize(width, height)
                await asyncio.sleep(0.3)
                arrange(window)  # again: the selected call in sight at this size
                window.tick()
                await asyncio.sleep(0.05)
                window.grab().save(str(OUT / f"team-{name}-{theme}-{width}.png"))

        await in_each_theme(sizes)
        window.close()

    supervisor, selected = supervisor_team()

    def on_the_board(window: MainWindow) -> None:
        assert window.team_board is not None
        table = window.team_board.call_table
        table.select_key(selected)
        table.scrollTo(table.currentIndex(), table.ScrollHint.PositionAtCenter)

    await shoot(supervisor, "supervisor", on_the_board)
    operator, taken = operator_team()
    await shoot(operator, "operator", lambda window: window.select(taken))
    print(f"team screenshots saved to {OUT}")


async def take_demo() -> None:
    """``make demo-team`` for real: the sandbox, a gateway in team mode and eight
    simulated operator desks (``console.demo_team``), and two real consoles on
    Team profiles pointed at that gateway: sue's (the supervisor board) and
    alice's (an operator's desk). Sue takes one of alice's live calls over
    through the gateway, so alice's desk shows it read-only."""
    from PySide6.QtCore import QTimer

    from console import config
    from console.core.calls import Call
    from console.core.events import ActionKind, ActionRequested
    from console.demo_team.demo import CALLER_IDS, Demo, Options
    from console.qt.main_window import MainWindow

    OUT.mkdir(parents=True, exist_ok=True)
    demo = Demo(Options(operators=8, window=False, seed=13), out=lambda _: None)
    await demo.start()
    home = Path(tempfile.mkdtemp(prefix="kaphila-demo-shots-"))
    consoles = []
    try:
        for name in (demo.supervisor_name, "alice"):
            profile = config.Profile(
                f"Team demo ({name})", base_url=demo.rig.url, team=True, caller_ids=CALLER_IDS
            )
            settings = home / name / "settings.json"
            config.save(config.Settings(profiles=(profile,), active=profile.name), settings)
            store = MemoryStore()
            store.set(profile.name, demo.rig.token(name))
            consoles.append(
                await start_console(settings_path=settings, store=store, data_dir=home / name)
            )
        sue = consoles[0]
        windows = [build_window(console) for console in consoles]
        clock = QTimer(interval=1000)
        for console, window in zip(consoles, windows, strict=True):
            clock.timeout.connect(console.tick)
            clock.timeout.connect(window.tick)
            window.resize(1280, 800)
            window.show()
        clock.start()
        await asyncio.sleep(20)  # the team gets busy
        mine: list[Call] = []
        for _ in range(120):  # then one of alice's calls, answered, to take over
            state = sue.session.state
            mine = [c for c in state.calls.values() if c.owner == "alice" and c.answered_at]
            if any(c.live for c in mine):
                break
            await asyncio.sleep(0.5)
        live = [c for c in mine if c.live]
        if not live:
            print("demo: alice had no live call to take over", file=sys.stderr)
        else:
            taken = live[-1].sid
            sue_window, alice_window = windows
            sue_window.select(taken)
            # What Take over… does once sue says yes: through the gateway, for real.
            sue.session.dispatch(
                ActionRequested("shot-take-over", taken, ActionKind.TAKE_OVER, time.time())
            )
            await asyncio.sleep(1.5)
            alice_window.select(taken)
        for window, name in zip(windows, ("supervisor", "operator"), strict=True):

            async def sizes(theme: str, window: MainWindow = window, name: str = name) -> None:
                for width, height in SIZES:
                    window.resize(width, height)
                    await asyncio.sleep(0.4)
                    window.grab().save(str(OUT / f"team-demo-{name}-{theme}-{width}.png"))

            await in_each_theme(sizes)
        clock.stop()
    finally:
        for console in consoles:
            await console.close()
        await demo.stop()
    print(f"demo screenshots saved to {OUT}")


def story(team: BusyTeam, owner: str, at: float, to: str) -> str:
    """One call with a history worth reading: answered, spoken to, digits
    gathered, taken over by sue, who speaks to the callee."""
    from console.core.calls import ActionKind, CallStatus, Happened
    from console.core.team import Role

    sid = team.place(owner, at, to=to)
    team.hook(sid, Happened.RINGING, CallStatus.RINGING, at + 1, owner)
    team.hook(sid, Happened.ANSWERED, CallStatus.IN_PROGRESS, at + 6, owner, "human")
    hello, prompt = "Hello, this is Acme support", "Enter your account number"
    team.act(sid, ActionKind.SPEAK, owner, owner, at + 8, hello, Role.OPERATOR)
    team.act(sid, ActionKind.GATHER, owner, owner, at + 12, prompt, Role.OPERATOR)
    team.hook(sid, Happened.GATHER_STARTED, CallStatus.IN_PROGRESS, at + 12.5, owner)
    team.hook(sid, Happened.GATHER_COMPLETE, CallStatus.IN_PROGRESS, at + 19, owner, digits="4417")
    team.act(sid, ActionKind.TAKE_OVER, "sue", "sue", at + 40, owner)
    team.act(sid, ActionKind.SPEAK, "sue", "sue", at + 44, "A supervisor is with you now")
    return sid


def supervisor_team() -> tuple[BusyTeam, str]:
    """Sue's desk over 300 operators and 500 live calls; the call to look at."""
    from tests.qt.busy_team import busy

    team, _, _ = busy(operators=300, calls=500)
    return team, story(team, "alice", team.now - 95, "+14155550177")


def operator_team() -> tuple[BusyTeam, str]:
    """Alice's desk: two calls of her own and one sue took over."""
    from console.core.calls import CallStatus, Happened
    from console.core.team import Role
    from tests.qt.busy_team import BusyTeam

    team = BusyTeam(me="alice", role=Role.OPERATOR)
    team.join()
    now = team.now
    taken = story(team, "alice", now - 95, "+14155550177")
    ringing = team.place("alice", now - 8, to="+14155550123")
    team.hook(ringing, Happened.RINGING, CallStatus.RINGING, now - 7, "alice")
    answered = team.place("alice", now - 62, to="+14155550188")
    team.hook(answered, Happened.RINGING, CallStatus.RINGING, now - 61, "alice")
    team.hook(answered, Happened.ANSWERED, CallStatus.IN_PROGRESS, now - 55, "alice", "machine")
    return team, taken


def main() -> int:
    parser = argparse.ArgumentParser(description="Take the README's screenshots under Xvfb.")
    parser.add_argument("--only", choices=("single", "team", "demo"), help="one part only")
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        print(
            "run under Xvfb: xvfb-run -a .venv/bin/python packaging/screenshots.py", file=sys.stderr
        )
        return 2
    home = tempfile.mkdtemp(prefix="kaphila-shots-")  # never the user's own settings
    os.environ["XDG_CONFIG_HOME"] = f"{home}/config"
    os.environ["XDG_DATA_HOME"] = f"{home}/data"
    QApplication(sys.argv[:1])
    apply_theme("light")

    async def both() -> None:
        if args.only in (None, "single"):
            await take()
        if args.only in (None, "team"):
            await take_team()
        if args.only in (None, "demo"):
            await take_demo()

    qasync.run(both())
    return 0


if __name__ == "__main__":
    sys.exit(main())
