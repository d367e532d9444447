"""The listener with real HTTP: what it accepts, what it refuses, and why."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from console.core.calls import CallStatus, Happened
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
        self.listener = WebhookListener(
            self.client,
            self.events.append,
            self.token,
            max_body=8192,
            allowed_hosts=("hooks.example.test",),
            idle_timeout=0.5,
            body_timeout=0.5,
        )
        self.session: aiohttp.ClientSession | None = None

    async def post(
        self,
        body: Any,
        *,
        path: str | None = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        assert self.session is not None
        base = self.listener.url.rsplit("/hooks/", 1)[0]
        url = self.listener.url if path is None else base + path
        data = raw if raw is not None else json.dumps(body).encode()
        async with self.session.post(
            url, data=data, headers={"Content-Type": "application/json", **(headers or {})}
        ) as resp:
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


def payload(
    event: str, status: str, ts: str = "2026-01-01T00:00:01.000Z", **extra: Any
) -> dict[str, Any]:
    return {
        "callId": "5.1",
        "event": event,
        "status": status,
        "timestamp": ts,
        "number": "15551230000",
        "callerId": "19876543210",
        **extra,
    }


async def test_the_url_is_a_loopback_capability_url(harness: Harness) -> None:
    url = harness.listener.url
    assert url.startswith("http://127.0.0.1:")
    assert url.endswith(f"/hooks/{harness.token}")
    assert len(harness.token) >= 22  # 128 bits, base64url
    assert new_token() != new_token()


async def test_the_log_names_the_listener_but_not_its_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="kaphila")
    h = Harness()
    await h.listener.start()
    try:
        assert f"{h.listener.url.rsplit('/', 1)[0]}/{h.token[:4]}…" in caplog.text
        assert h.token not in caplog.text
    finally:
        await h.listener.stop()


async def test_an_event_is_translated_once_and_handed_on(harness: Harness) -> None:
    status, _ = await harness.post(
        payload("call.answered", "answered", amd={"status": "HUMAN", "confidence": 0.9})
    )
    assert status == 204
    [event] = harness.events
    assert (event.call_sid, event.happened) == ("5.1", Happened.ANSWERED)
    assert event.status is CallStatus.IN_PROGRESS
    assert (event.answered_by, event.confidence) == ("human", 0.9)
    assert (event.to, event.from_) == ("+15551230000", "+19876543210")
    assert event.at == 1767225601.0
    assert harness.listener.last_received_at is not None


async def test_a_wrong_token_is_404_and_applies_nothing(harness: Harness) -> None:
    status, body = await harness.post(
        payload("call.answered", "answered"), path="/hooks/not-the-token"
    )
    assert (status, body) == (404, {"error": "not found"})
    assert harness.events == []
    assert harness.client.call_store.get("5.1") is None


async def test_an_oversized_body_is_413(harness: Harness) -> None:
    status, body = await harness.post(payload("call.answered", "answered", pad="x" * 9000))
    assert status == 413
    assert body["error"] == "body larger than 8192 bytes"
    assert harness.events == []


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{nope", "body is not valid JSON"),
        (b"[1]", "a Kaphila webhook must be a JSON object, not list"),
        (b'{"event": "call.answered"}', "the webhook has no callId"),
        (
            b'{"callId": "5.1", "event": "call.melted"}',
            "unknown Kaphila webhook event 'call.melted' for call 5.1",
        ),
    ],
)
async def test_malformed_or_unknown_input_is_400_with_the_reason(
    harness: Harness, raw: bytes, reason: str
) -> None:
    status, body = await harness.post(None, raw=raw)
    assert status == 400
    assert body["error"].startswith(reason)
    assert harness.events == []
    assert harness.listener.rejected == 1


async def test_duplicate_and_out_of_order_deliveries_reach_a_correct_state(
    harness: Harness,
) -> None:
    ended = payload("call.ended", "completed", ts="2026-01-01T00:00:09.000Z", duration=7)
    answered = payload("call.answered", "answered", ts="2026-01-01T00:00:02.000Z")
    for body in (ended, answered, ended, answered):
        assert (await harness.post(body))[0] == 204
    state = State()
    for event in harness.events:
        state, _ = reduce(state, event)
    call = state.calls["5.1"]
    assert call.status is CallStatus.COMPLETED
    assert [(e.what, e.late) for e in call.timeline] == [
        (Happened.ANSWERED, True),
        (Happened.ENDED, False),
    ]
    assert call.duplicates == 2


async def test_other_methods_and_paths_are_refused(harness: Harness) -> None:
    assert harness.session is not None
    async with harness.session.get(harness.listener.url) as resp:
        assert resp.status == 405
    base = harness.listener.url.rsplit("/hooks/", 1)[0]
    async with harness.session.post(base + "/elsewhere", json={}) as resp:
        assert resp.status == 404
    assert harness.events == []


# ------------------------------------------------ what a web page or a bad peer sends


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Host": "evil.example"}, 421),  # DNS rebinding: a page's name pointed at 127.0.0.1
        ({"Host": "evil.example:8080"}, 421),
        ({"Origin": "https://evil.example"}, 403),
        ({"Origin": "null"}, 403),
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Content-Type": "text/plain"}, 415),  # a page's no-preflight form post
        ({"Content-Type": "application/x-www-form-urlencoded"}, 415),
    ],
)
async def test_requests_a_web_page_can_make_are_refused(
    harness: Harness, headers: dict[str, str], status: int
) -> None:
    got, body = await harness.post(payload("call.answered", "answered"), headers=headers)
    assert got == status, body
    assert harness.events == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "hooks.example.test:443"])
async def test_our_own_host_names_are_taken(harness: Harness, host: str) -> None:
    got, _ = await harness.post(payload("call.answered", "answered"), headers={"Host": host})
    assert got == 204
    assert len(harness.events) == 1


@pytest.mark.parametrize(
    "number",
    [
        "1e400",
        "-1e400",
        "NaN",
        "Infinity",
        "1" + "0" * 400,
        "9" * 5000,
    ],
)
async def test_absurd_numbers_are_a_400_never_a_500(harness: Harness, number: str) -> None:
    raw = (
        json.dumps(payload("call.answered", "answered"))
        .replace(
            '"status": "answered"',
            f'"status": "answered", "amd": {{"status": "HUMAN", "confidence": {number}}}',
        )
        .encode()
    )
    status, body = await harness.post(None, raw=raw)
    assert status == 400, body
    assert harness.events == []


@pytest.mark.parametrize(
    "ts",
    [
        "0001-01-01T00:00:00+23:59",  # raised later, in the window
        "9999-12-31T23:59:59-23:59",
        "1970-01-01T00:00:00Z",
        "yesterday",
        "2026-13-01T00:00:00Z",
    ],
)
async def test_a_timestamp_that_is_not_a_sane_time_is_refused_at_the_edge(
    harness: Harness, ts: str
) -> None:
    status, body = await harness.post(payload("call.answered", "answered", ts=ts))
    assert status == 400
    assert "timestamp" in body["error"]
    assert harness.events == []


async def _closed_within(port: int, send: bytes, within: float) -> bool:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(send)
        await writer.drain()
        async with asyncio.timeout(within):
            while await reader.read(1024):
                pass
        return True
    except TimeoutError:
        return False
    finally:
        writer.close()


async def test_an_idle_connection_is_closed(harness: Harness) -> None:
    assert await _closed_within(harness.listener.port, b"", within=3.0)


async def test_a_connection_trickling_its_headers_is_closed(harness: Harness) -> None:
    assert await _closed_within(
        harness.listener.port, b"POST /hooks/x HTTP/1.1\r\nHost: 127.0.0.1\r\n", within=3.0
    )


async def test_a_body_that_never_arrives_is_refused_and_the_connection_closed(
    harness: Harness,
) -> None:
    head = (
        f"POST /hooks/{harness.token} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{"
    ).encode()
    assert await _closed_within(harness.listener.port, head, within=3.0)
    assert harness.events == []
