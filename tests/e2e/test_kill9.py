"""``kill -9`` a real console process while webhooks pour in: every webhook it
acknowledged must be in its journal, and a new console must bring the calls
back."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import pytest
import requests

from console import config
from console.app import start_console
from console.config import Profile, Settings
from console.core.calls import CallStatus
from console.services.history import HistoryFilter
from console.services.journal import FILE_NAME
from console.services.secrets import MemoryStore

ROOT = Path(__file__).resolve().parents[2]
SENDERS = 4
CALLS_AT_ONCE = 10
KILL_AFTER_ACKS = 700
TOKEN = "kill9-test-webhook-token"  # the console's log shows only its first 4 characters
EVENTS = (("call.initiated", "RINGING"), ("call.answered", "ANSWERED"), ("call.ended", "COMPLETED"))


class Sender(threading.Thread):
    """Posts each call's three webhooks in order and remembers which were acknowledged."""

    def __init__(self, url: str, number: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.url, self.number, self.stop = url, number, stop
        self.acked: list[tuple[str, str]] = []

    def run(self) -> None:
        # Calls go in waves of CALLS_AT_ONCE (all ring, all answer, all end), so
        # at the kill many calls are live at different stages.
        with requests.Session() as http:
            wave = 0
            while not self.stop.is_set():
                wave += 1
                sids = [f"{self.number}.{wave}.{n}" for n in range(CALLS_AT_ONCE)]
                for second, (event, status) in enumerate(EVENTS, 1):
                    for sid in sids:
                        body = {
                            "callId": sid,
                            "event": event,
                            "status": status,
                            "timestamp": f"2026-01-01T00:00:{second:02d}.000Z",
                            "number": "15551230000",
                            "callerId": "19876543210",
                        }
                        try:
                            answer = http.post(self.url, json=body, timeout=5)
                        except requests.RequestException:
                            return  # the console is gone
                        if answer.status_code == 204:
                            self.acked.append((sid, event))


def drain(stream: IO[str]) -> None:
    """Keep reading the console's log so it never blocks on a full pipe."""
    with contextlib.suppress(ValueError, OSError):
        for _ in stream:
            pass


def start_console_process(home: Path) -> tuple[subprocess.Popen[str], str]:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "console"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    for line in process.stderr:
        if match := re.search(r"webhook listener at (http://[^/\s]+)/hooks/", line):
            threading.Thread(target=drain, args=(process.stderr,), daemon=True).start()
            return process, f"{match.group(1)}/hooks/{TOKEN}"
        if time.monotonic() > deadline:
            break
    process.kill()
    raise AssertionError("the console did not start its webhook listener")


def load_then_kill(home: Path) -> set[tuple[str, str]]:
    """Start the console, post webhooks from several threads, ``kill -9`` it
    mid-stream; return the webhooks it acknowledged."""
    process, url = start_console_process(home)
    stop = threading.Event()
    senders = [Sender(url, n, stop) for n in range(1, SENDERS + 1)]
    try:
        for sender in senders:
            sender.start()
        deadline = time.monotonic() + 60
        while sum(len(s.acked) for s in senders) < KILL_AFTER_ACKS:
            assert time.monotonic() < deadline, "the console did not take webhooks"
            assert process.poll() is None, "the console died by itself"
            time.sleep(0.005)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        stop.set()
        if process.poll() is None:  # a failed assertion above: do not leave it running
            process.kill()
        process.wait(10)
        assert process.stderr is not None
        process.stderr.close()
        for sender in senders:
            sender.join(10)
    assert process.returncode == -signal.SIGKILL

    return {pair for s in senders for pair in s.acked}


@pytest.mark.e2e
async def test_kill_9_under_webhook_load_loses_no_acknowledged_event(tmp_path: Path) -> None:
    # A live profile whose API is down: the console runs, the restarted one
    # cannot reach the API either, so rebuilt calls stay as the journal left them.
    settings_path = tmp_path / "config" / config.APP_NAME / "settings.json"
    config.save(
        Settings(
            profiles=(Profile("Live", base_url="http://127.0.0.1:9", webhook_token=TOKEN),),
            active="Live",
        ),
        settings_path,
    )
    acked = await asyncio.to_thread(load_then_kill, tmp_path)
    data_dir = tmp_path / "data" / config.APP_NAME
    with sqlite3.connect(data_dir / FILE_NAME) as conn:
        stored = {
            (sid, json.loads(body)["event"])
            for sid, body in conn.execute(
                "SELECT call_sid, json_extract(body, '$.raw') FROM events "
                "WHERE kind = 'WebhookReceived'"
            )
        }
    print(f"\nkill -9: {len(acked)} webhooks acknowledged, {len(stored)} stored")
    assert acked <= stored, f"lost: {sorted(acked - stored)[:10]}"

    # What comes back: a new console rebuilds every call the journal left live.
    console = await start_console(settings_path, MemoryStore(), data_dir)
    try:
        state = console.session.state
        ended = {sid for sid, event in stored if event == "call.ended"}
        live = {sid for sid, _ in stored} - ended
        assert set(state.calls) == live
        for sid in live:
            answered = (sid, "call.answered") in stored
            assert state.calls[sid].status is (
                CallStatus.IN_PROGRESS if answered else CallStatus.INITIATED
            )
        assert console.history is not None
        rows = await console.history.page(HistoryFilter(status="completed"), limit=100_000)
        assert {r.sid for r in rows} == ended
        print(f"kill -9: {len(live)} live calls rebuilt, {len(ended)} finished in history")
    finally:
        await console.close()
