"""The listener with real HTTP: what it accepts, what it refuses, and why."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from console.core.calls import CallStatus
from console.core.events import WebhookReceived
from console.core.reducer import State, reduce
from console.services.webhooks import WebhookListener, new_token
from tests.helpers import TEST_KEY
from twilio.rest import Client


class Harness:
    def __init__(self) -> None:
        self.events: list[WebhookReceived] = []
        self.client = Client("ACl", TEST_KEY, environment={}, base_url="http://127.0.0.1:9")
        self.token = new_token()
        self.listener = WebhookListener(self.client, self.events.append, self.token,
                                        max_body=2048)
        self.session: aiohttp.ClientSession | None = None

    async def post(self, body: Any, *, path: str | None = None,
                   raw: bytes | None = None) -> tuple[int, dict[str, Any]]:
        assert self.session is not None
        base = self.listener.url.rsplit("/hooks/", 1)[0]
        url = self.listener.url if path is None else base + path
        data = raw if raw is not None else json.dumps(body).encode()
        async with self.session.post(url, data=data,
                                     headers={"Content-Type": "application/json"}) as resp:
            text = await resp.text()
            return resp.status, (json.loads(text) if text else {})


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    h = Harness()
    await h.listener.start()
    async with aiohttp.ClientSession() as session:
        h.session = session
        yield h
    await h.listener.stop()


def payload(event: str, status: str, ts: str = "2026-01-01T00:00:01.000Z",
            **extra: Any) -> dict[str, Any]:
    return {"callId": "5.1", "event": event, "status": status, "timestamp": ts,
            "number": "15551230000", "callerId": "19876543210", **extra}


async def test_the_url_is_a_loopback_capability_url(harness: Harness) -> None:
    url = harness.listener.url
    assert url.startswith("http://127.0.0.1:")
    assert url.endswith(f"/hooks/{harness.token}")
    assert len(harness.token) >= 22  # 128 bits, base64url
    assert new_token() != new_token()


async def test_the_log_names_the_listener_but_not_its_token(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kaphila")
    h = Harness()
    await h.listener.start()
    try:
        assert f"{h.listener.url.rsplit('/', 1)[0]}/{h.token[:4]}…" in caplog.text
        assert h.token not in caplog.text
    finally:
        await h.listener.stop()


async def test_an_event_is_translated_once_and_handed_on(harness: Harness) -> None:
    status, _ = await harness.post(payload("call.answered", "answered",
                                           amd={"status": "HUMAN", "confidence": 0.9}))
    assert status == 204
    [event] = harness.events
    assert (event.call_sid, event.event) == ("5.1", "call.answered")
    assert event.params["CallStatus"] == "in-progress"
    assert event.params["AnsweredBy"] == "human"
    assert event.at == 1767225601.0
    assert harness.listener.last_received_at is not None


async def test_a_wrong_token_is_404_and_applies_nothing(harness: Harness) -> None:
    status, body = await harness.post(payload("call.answered", "answered"),
                                      path="/hooks/not-the-token")
    assert (status, body) == (404, {"error": "not found"})
    assert harness.events == []
    assert harness.client.call_store.get("5.1") is None


async def test_an_oversized_body_is_413(harness: Harness) -> None:
    status, body = await harness.post(payload("call.answered", "answered", pad="x" * 5000))
    assert status == 413
    assert body["error"] == "body larger than 2048 bytes"
    assert harness.events == []


@pytest.mark.parametrize(("raw", "reason"), [
    (b"{nope", "body is not valid JSON"),
    (b"[1]", "a Kaphila webhook must be a JSON object, not list"),
    (b'{"event": "call.answered"}', "the webhook has no callId"),
    (b'{"callId": "5.1", "event": "call.melted"}',
     "unknown Kaphila webhook event 'call.melted' for call 5.1"),
])
async def test_malformed_or_unknown_input_is_400_with_the_reason(harness: Harness, raw: bytes,
                                                                 reason: str) -> None:
    status, body = await harness.post(None, raw=raw)
    assert status == 400
    assert body["error"].startswith(reason)
    assert harness.events == []
    assert harness.listener.rejected == 1


async def test_duplicate_and_out_of_order_deliveries_reach_a_correct_state(
        harness: Harness) -> None:
    ended = payload("call.ended", "completed", ts="2026-01-01T00:00:09.000Z", duration=7)
    answered = payload("call.answered", "answered", ts="2026-01-01T00:00:02.000Z")
    for body in (ended, answered, ended, answered):
        assert (await harness.post(body))[0] == 204
    state = State()
    for event in harness.events:
        state, _ = reduce(state, event)
    call = state.calls["5.1"]
    assert call.status is CallStatus.COMPLETED
    assert [(e.kind, e.duplicate, e.late) for e in call.timeline] == [
        ("call.answered", False, True), ("call.answered", True, False),
        ("call.ended", False, False), ("call.ended", True, False)]


async def test_other_methods_and_paths_are_refused(harness: Harness) -> None:
    assert harness.session is not None
    async with harness.session.get(harness.listener.url) as resp:
        assert resp.status == 405
    base = harness.listener.url.rsplit("/hooks/", 1)[0]
    async with harness.session.post(base + "/elsewhere", json={}) as resp:
        assert resp.status == 404
    assert harness.events == []
