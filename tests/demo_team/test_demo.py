"""``make demo-team`` from outside: the demo's simulated operators place and
steer calls through a real gateway in team mode (real NATS, the sandbox as
Kaphila), a supervisor's desk sees every one of them, and stopping it, with
Ctrl+C too, leaves no process and no folder behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import keyring.core
import pytest
import requests

from console import config
from console.core.calls import ActionKind
from console.core.team import Presence
from console.demo_team import window
from console.demo_team.demo import Demo, Options, status_line
from console.demo_team.handed_keyring import HANDED_FILE, HandedKeyring
from console.services.secrets import SERVICE, open_secret_store
from tests.helpers import until

ROOT = Path(__file__).resolve().parents[2]
FAST = 8.0  # the sandbox and the operators' pace, sped up


def processes_mentioning(text: str) -> list[str]:
    """Command lines of running processes that name ``text`` (a test's folder)
    in their command line or their environment."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            line = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
            seen = line + (proc / "environ").read_bytes()
            zombie = (proc / "stat").read_text().rsplit(")", 1)[-1].split()[:1] == ["Z"]
        except OSError:
            continue
        if text.encode() in seen and not zombie:
            found.append(line.decode(errors="replace"))
    return found


def leftovers(folder: Path) -> tuple[list[Path], list[str]]:
    """What a stopped demo left in ``folder`` (its TMPDIR), and processes naming it."""
    return list(folder.iterdir()), processes_mentioning(str(folder))


async def test_operators_place_and_steer_calls_and_the_supervisor_sees_each_one(
    tmp_path: Path,
) -> None:
    lines: list[str] = []
    demo = Demo(
        Options(
            window=False,
            time_scale=FAST,
            seed=7,
            status_every=0.5,
            folder=tmp_path,
            drain_timeout=1.0,
        ),
        out=lines.append,
    )
    await demo.start()
    try:
        assert demo.supervisor is not None, "no window: a headless supervisor desk"
        supervisor = demo.supervisor
        assert len(demo.operators) == 6
        await until(
            lambda: all(op.placed for op in demo.operators), within=8, what="every desk's call"
        )
        placed = {sid: op.name for op in demo.operators for sid in op.placed}
        await until(
            lambda: all(sid in supervisor.state.calls for sid in placed),
            within=5,
            what="the supervisor's desk to have every call",
        )
        for sid, name in placed.items():
            assert supervisor.state.calls[sid].owner == name

        def spoken_by_owner() -> bool:  # steering: an operator's words, on the supervisor's desk
            return any(
                entry.what is ActionKind.SPEAK and entry.by == call.owner
                for call in supervisor.state.calls.values()
                for entry in call.timeline
            )

        await until(spoken_by_owner, within=5, what="an operator's speak on the supervisor's desk")
        # Each operator as the supervisor's desk sees them, and the operators'
        # own desks agree that they are working.
        seen = supervisor.team.operators
        assert all(op.name in seen for op in demo.operators)
        assert all(seen[op.name].status is not Presence.OFFLINE for op in demo.operators)
        assert any(op.desk.team.status.status is Presence.ON_CALL for op in demo.operators)
        await until(lambda: any("placed" in line for line in lines), 3, "a status line")
    finally:
        await demo.stop()
    assert "Ctrl+C" in lines[0]
    assert leftovers(tmp_path) == ([], []), "no folder, no nats-server or gateway left"


def test_the_status_line_groups_operators_by_status_with_the_away_reason() -> None:
    stats = {"live": 2, "placed": 9, "answerRate": 0.75, "amd": {"human": 5, "machine": 1}}
    presence = {
        "operators": [
            {"operator": "bob", "role": "operator", "status": "on-call"},
            {"operator": "alice", "role": "operator", "status": "on-call"},
            {"operator": "erin", "role": "operator", "status": "away", "reason": "coffee"},
            {"operator": "sue", "role": "supervisor", "status": "available"},
        ]
    }
    assert status_line(stats, presence) == (
        "live 2, placed 9, 75% answered, 5 people / 1 machines"
        " | on a call: alice, bob; away: erin (coffee)"
    )


def sue_is(gateway: str, token: str) -> str:
    """The supervisor's status as the gateway has it (the window's desk posts it)."""
    answer = requests.get(
        gateway + "/team/presence", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    answer.raise_for_status()
    return next(str(o["status"]) for o in answer.json()["operators"] if o["operator"] == "sue")


def test_the_supervisor_console_connects_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    # QT_QPA_PLATFORM=offscreen (tests/conftest.py) is the window's display here.
    demo = subprocess.Popen(
        [sys.executable, "-m", "console.demo_team", "--time-scale", str(FAST)],
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(tmp_path), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert demo.stdout is not None
    out: list[str] = []
    try:
        for line in demo.stdout:
            out.append(line)
            if line.startswith("Ctrl+C"):
                break
        text = "".join(out)
        gateway = re.search(r"gateway +(http://127\.0\.0\.1:\d+)", text)
        token = re.search(r"supervisor +sue, token (kgo_\S+)", text)
        assert gateway, text
        assert token, text
        assert "the console window" in text, text
        deadline = time.monotonic() + 15
        while sue_is(gateway[1], token[1]) != "available":  # the window's heartbeat
            assert time.monotonic() < deadline, "the console window never connected"
            time.sleep(0.2)
        assert processes_mentioning(str(tmp_path)), "the gateway, its nats-server, the window"
        demo.send_signal(signal.SIGINT)
        rest, _ = demo.communicate(timeout=15)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.communicate()
    assert demo.returncode == 0, "".join(out) + rest
    assert rest.rstrip().endswith("stopped"), rest
    assert leftovers(tmp_path) == ([], [])


def test_the_window_gets_a_team_profile_and_its_token_in_memory_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = window.prepare(tmp_path, "http://127.0.0.1:9", "kgo_handed", ("+19876543210",))
    saved = Path(env["XDG_CONFIG_HOME"]) / config.APP_NAME / "settings.json"
    profile = config.load(saved).profile()
    assert profile is not None
    assert (profile.team, profile.base_url) == (True, "http://127.0.0.1:9")
    assert "kgo_handed" not in saved.read_text()
    handed = Path(env[HANDED_FILE])
    assert handed.stat().st_mode & 0o077 == 0
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    backend = keyring.core.load_env()  # as the console's keyring finds it
    assert isinstance(backend, HandedKeyring)
    assert backend.get_password(SERVICE, window.PROFILE) == "kgo_handed"
    assert not handed.exists(), "read once, then only in memory"
    opened = open_secret_store(backend)
    assert opened.warning is None
    assert opened.store.get(window.PROFILE) == "kgo_handed"
