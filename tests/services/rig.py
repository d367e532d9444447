"""The console's webhook path without the window: a journal, a session that
stores into it and a listener in front (journal and history tests)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import aiohttp

from console.core.events import Tick
from console.services.journal import Journal
from console.services.session import Session
from console.services.webhooks import WebhookListener, new_token
from tests.helpers import TEST_KEY
from twilio.rest import Client


async def no_effects(effect: Any) -> Any:
    """The tests play the API's part themselves (they dispatch DialAccepted,
    ActionSucceeded ...); an effect's own outcome is a no-op."""
    return Tick(0.0)


class Rig:
    """A journal, a session that stores into it and a listener in front: the
    console's webhook path without the window."""

    def __init__(self, path: Path, **journal: Any) -> None:
        self.journal = Journal(path, "Test", **journal)
        self.session = Session(no_effects, journal=self.journal)
        self.client = Client("ACl", TEST_KEY, environment={}, base_url="http://127.0.0.1:9")
        self.listener = WebhookListener(self.client, self.session.record, new_token())
        self.http: aiohttp.ClientSession | None = None

    async def post(self, body: dict[str, Any]) -> int:
        assert self.http is not None
        async with self.http.post(self.listener.url, json=body) as resp:
            return resp.status

    def rows(self, sql: str = "SELECT call_sid, kind FROM events ORDER BY id") -> list[Any]:
        with sqlite3.connect(self.journal.path) as conn:
            return conn.execute(sql).fetchall()


def hook(
    sid: str,
    event: str,
    status: str,
    second: int = 1,
    *,
    day: str = "2026-01-01",
    number: str = "15551230000",
    caller: str = "19876543210",
    **extra: Any,
) -> dict[str, Any]:
    """A Kaphila webhook body, as the sandbox sends them."""
    return {
        "callId": sid,
        "event": event,
        "status": status,
        "timestamp": f"{day}T00:00:{second:02d}.000Z",
        "number": number,
        "callerId": caller,
        **extra,
    }
