"""The desk's side of the team stream, protocol by protocol, against a small real
SSE server on loopback (the gateway's own tests are in tests/gateway; the
end-to-end ones with a real gateway are in tests/services/test_team_desk.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from console.core.calls import CallStatus, Happened
from console.core.events import Event, Tick
from console.core.reducer import State
from console.core.team import Link, Presence, Role, Team, TeamFact
from console.services.journal import Journal
from console.services.session import Session
from console.services.team_api import TeamApi
from console.services.team_stream import Frame, TeamStream, frames
from tests.helpers import TEST_KEY, until
from twilio.rest import Client

TOKEN = "kgo_test-token"


def frame(seq: int | None, kind: str, data: dict[str, Any]) -> bytes:
    head = f"id: {seq}\n" if seq is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data)}\n\n".encode()


def hello(seq: int = 0, gap: bool = False, role: str = "operator") -> bytes:
    return frame(
        None, "hello", {"operator": "alice", "role": role, "seq": seq, "first": 1, "gap": gap}
    )


def placed(seq: int, sid: str | None = None) -> bytes:
    data = {"callId": sid or f"CA{seq}", "owner": "alice", "to": "15551230000"}
    return frame(seq, "placed", {**data, "from": "19876543210", "at": 1000.0 + seq})


def webhook(seq: int, sid: str, event: str, status: str, second: int) -> bytes:
    payload = {
        "callId": sid,
        "event": event,
        "status": status,
        "timestamp": f"2026-01-01T00:00:{second:02d}.000Z",
        "number": "15551230000",
        "callerId": "19876543210",
    }
    body = {"callId": sid, "owner": "alice", "receivedAt": 1000.5 + seq, "payload": payload}
    return frame(seq, "webhook", body)


Script = Callable[[web.StreamResponse, int], Awaitable[None]]


@dataclass
class FakeGateway:
    """``GET /team/events`` runs ``script(response, connection number)``; the
    snapshots answer what the test put in ``calls`` / ``operators``."""

    script: Script
    seq: int = 0
    calls: list[dict[str, Any]] = field(default_factory=list)
    operators: list[dict[str, Any]] = field(default_factory=list)
    resumes: list[str | None] = field(default_factory=list)  # Last-Event-ID of each connection
    tokens: list[str] = field(default_factory=list)
    posted: list[dict[str, Any]] = field(default_factory=list)
    snapshots: int = 0
    refuse: bool = False
    url: str = ""

    async def events(self, request: web.Request) -> web.StreamResponse:
        self.tokens.append(request.headers.get("Authorization", ""))
        if self.refuse:
            return web.json_response({"success": False, "error": "no", "code": 20003}, status=401)
        self.resumes.append(request.headers.get("Last-Event-ID"))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await self.script(response, len(self.resumes))
        return response

    async def live_calls(self, request: web.Request) -> web.Response:
        self.snapshots += 1
        return web.json_response({"success": True, "seq": self.seq, "calls": self.calls})

    async def presence(self, request: web.Request) -> web.Response:
        if request.method == "POST":
            self.posted.append(await request.json())
            return web.json_response({"success": True})
        return web.json_response({"success": True, "operators": self.operators})


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[FakeGateway], Awaitable[FakeGateway]]]:
    runners: list[web.AppRunner] = []

    async def start(gateway: FakeGateway) -> FakeGateway:
        app = web.Application()
        app.router.add_get("/team/events", gateway.events)
        app.router.add_get("/team/calls", gateway.live_calls)
        app.router.add_route("*", "/team/presence", gateway.presence)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        host, port = runner.addresses[0][:2]
        gateway.url = f"http://{host}:{port}"
        return gateway

    yield start
    for runner in runners:
        await runner.cleanup()


async def no_effects(effect: Any) -> Event:
    return Tick(0.0)


def desk(
    gateway: FakeGateway,
    journal: Journal | None = None,
    after: int = 0,
    idle_timeout: float = 5.0,
) -> tuple[TeamStream, Session, TeamApi]:
    session = Session(no_effects, State(team=Team()), journal)
    api = TeamApi(gateway.url, TOKEN)
    client = Client("AC" + "0" * 32, TEST_KEY, environment={}, base_url=gateway.url)
    stream = TeamStream(
        api,
        session,
        client,
        after=after,
        idle_timeout=idle_timeout,
        backoff_first=0.01,
        backoff_max=0.05,
    )
    return stream, session, api


def team(session: Session) -> Team:
    assert session.state.team is not None
    return session.state.team


async def stop(stream: TeamStream, api: TeamApi) -> None:
    await stream.stop()
    await api.close()


# ------------------------------------------------------------------ the parser


async def test_frames_follow_the_event_stream_rules() -> None:
    async def lines() -> AsyncIterator[bytes]:
        for line in (
            b": keepalive\n",
            b"\n",
            b"id: 7\r\n",
            b"event: placed\n",
            b'data: {"a":\n',
            b"data: 1}\n",
            b"\n",
            b"data:plain\n",
            b"\n",
        ):
            yield line

    got = [f async for f in frames(lines())]
    assert got == [Frame("7", "placed", '{"a":\n1}'), Frame(None, "message", "plain")]


# ------------------------------------------------------------------ once each


async def test_a_new_desk_starts_from_the_snapshot_and_streams_after_its_sequence(
    serve: Callable[[FakeGateway], Awaitable[FakeGateway]],
) -> None:
    async def script(response: web.StreamResponse, n: int) -> None:
        await response.write(hello(12) + placed(12) + placed(13))
        await asyncio.sleep(5)

    gateway = await serve(FakeGateway(script, seq=12, calls=[_snapshot_call("CA5")]))
    stream, session, api = desk(gateway)
    stream.start()
    await until(lambda: "CA13" in session.state.calls)
    assert gateway.resumes == ["12"]
    assert gateway.tokens == [f"Bearer {TOKEN}"]
    assert "CA12" not in session.state.calls  # in the snapshot's view already
    assert session.state.calls["CA5"].status is CallStatus.IN_PROGRESS
    assert team(session).link is Link.CONNECTED
    assert team(session).me.operator == "alice"
    await stop(stream, api)


async def test_a_reconnect_resumes_after_the_last_applied_and_skips_what_came_again(
    serve: Callable[[FakeGateway], Awaitable[FakeGateway]],
) -> None:
    async def script(response: web.StreamResponse, n: int) -> None:
        if n == 1:
            await response.write(hello(3) + placed(1) + placed(2) + placed(3))
            return  # the connection drops
        await response.write(hello(5) + placed(2) + placed(3) + placed(4) + placed(5))
        await asyncio.sleep(5)

    gateway = await serve(FakeGateway(script))
    stream, session, api = desk(gateway, after=0)
    stream.last = 0
    stream.rebuilds = 1  # as if it had streamed before: no snapshot first
    stream.start()
    await until(lambda: "CA5" in session.state.calls)
    assert gateway.resumes == ["0", "3"]
    assert stream.skipped == 2
    assert team(session).applied == 5
    assert team(session).skipped == 0  # the reducer never saw them twice
    assert [e.what for e in session.state.calls["CA3"].timeline] == [TeamFact.PLACED]
    await stop(stream, api)


async def test_webhooks_from_the_stream_build_the_timeline_with_the_gateways_times(
    serve: Callable[[FakeGateway], Awaitable[FakeGateway]],
) -> None:
    async def script(response: web.StreamResponse, n: int) -> None:
        await response.write(
            hello(1)
            + placed(1, "CAx")
            + webhook(2, "CAx", "call.initiated", "ringing", 1)
            + webhook(3, "CAx", "call.answered", "answered", 2)
        )
        await asyncio.sleep(5)

    gateway = await serve(FakeGateway(script))
    stream, session, api = desk(gateway, after=1)
    stream.start()
    await until(lambda: len(session.state.calls.get("CAx", _EMPTY).timeline) == 2)
    call = session.state.calls["CAx"]
    assert call.status is CallStatus.IN_PROGRESS
    assert [e.what for e in call.timeline] == [Happened.RINGING, Happened.ANSWERED]
    assert session.state.log[-1].at == 1003.5  # the gateway's receivedAt, not this desk's clock
    await stop(stream, api)


async def test_a_gap_rebuilds_from_the_snapshot_and_loads_everyones_presence(
    serve: Callable[[FakeGateway], Awaitable[FakeGateway]],
) -> None:
    async def script(response: web.StreamResponse, n: int) -> None:
        await response.write(hello(90, gap=True, role="supervisor") + placed(50) + placed(91))
        await asyncio.sleep(5)

    operators = [
        {"operator": "bob", "role": "operator", "status": "away", "reason": "lunch", "since": 5.0},
    ]
    gateway = await serve(
        FakeGateway(script, seq=90, calls=[_snapshot_call("CA7")], operators=operators)
    )
    stream, session, api = desk(gateway, after=20)
    stream.start()
    await until(lambda: "CA91" in session.state.calls)
    assert gateway.snapshots == 1
    assert "CA50" not in session.state.calls  # before the snapshot's sequence
    assert "CA7" in session.state.calls
    assert team(session).operators["bob"].status is Presence.AWAY
    assert team(session).me.role is Role.SUPERVISOR
    assert stream.rebuilds == 1
    await stop(stream, api)


# ------------------------------------------------------------------ endings


async def test_revoked_stops_the_stream_and_says_so(
    serve: Callable[[FakeGateway], Awaitable[FakeGateway]],
) -> None:
    async def script(response: web.StreamResponse, n: int) -> None:
        await response.write(hello(1) + frame(None, "revoked", {}))

    gateway = await serve(FakeGateway(script))
    stream, session, api = desk(gateway, after=1)
    stream.start()
    await until(lambda: team(session).link is Link.REVOKED)
    await asyncio.sleep(0.1)
    assert not stream.running
    assert len(gateway.resumes) == 1
    await stop(stream, api)


async def test_a_refused_token_stops_the_stream_as_revoked(
    serve: Callable[[FakeGateway], Awaitable[FakeGateway]],
) -> None:
    async def script(response: web.StreamResponse, n: int) -> None:
        raise AssertionError("never streamed")

    gateway = await serve(FakeGateway(script, refuse=True))
    stream, session, api = desk(gateway, after=1)
    stream.start()
    await until(lambda: team(session).link is Link.REVOKED)
    assert stream.revoked
    await stop(stream, api)


async def test_bye_reconnects_at_once_and_says_reconnecting_meanwhile(
    serve: Callable[[FakeGateway], Awaitable[FakeGateway]],
) -> None:
    links: list[Link] = []

    async def script(response: web.StreamResponse, n: int) -> None:
        if n == 1:
            await response.write(hello(1) + placed(2) + frame(None, "bye", {}))
            return
        await response.write(hello(2) + placed(3))
        await asyncio.sleep(5)

    gateway = await serve(FakeGateway(script))
    stream, session, api = desk(gateway, after=1)
    session.subscribe(lambda s: s.team is not None and _changed(links, s.team.link))
    stream.start()
    await until(lambda: "CA3" in session.state.calls)
    assert gateway.resumes == ["1", "2"]
    assert links == [Link.CONNECTING, Link.CONNECTED, Link.RECONNECTING, Link.CONNECTED]
    await stop(stream, api)


async def test_a_silent_connection_is_given_up_and_resumed(
    serve: Callable[[FakeGateway], Awaitable[FakeGateway]],
) -> None:
    async def script(response: web.StreamResponse, n: int) -> None:
        await response.write(hello(n) + placed(n + 1))
        await asyncio.sleep(5)  # no keepalive: a dead network looks like this

    gateway = await serve(FakeGateway(script))
    stream, session, api = desk(gateway, after=1, idle_timeout=0.3)
    stream.start()
    await until(lambda: "CA3" in session.state.calls, within=5)
    assert gateway.resumes[:2] == ["1", "2"]
    await stop(stream, api)


async def test_keepalives_keep_a_quiet_connection(
    serve: Callable[[FakeGateway], Awaitable[FakeGateway]],
) -> None:
    async def script(response: web.StreamResponse, n: int) -> None:
        await response.write(hello(1))
        for _ in range(8):
            await asyncio.sleep(0.1)
            await response.write(b": keepalive\n\n")
        await response.write(placed(2))
        await asyncio.sleep(5)

    gateway = await serve(FakeGateway(script))
    stream, session, api = desk(gateway, after=1, idle_timeout=0.4)
    stream.start()
    await until(lambda: "CA2" in session.state.calls, within=5)
    assert len(gateway.resumes) == 1
    await stop(stream, api)


async def test_the_stream_goes_through_an_http_proxy(
    serve: Callable[[FakeGateway], Awaitable[FakeGateway]], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def script(response: web.StreamResponse, n: int) -> None:
        await response.write(hello(1) + placed(2))
        await asyncio.sleep(5)

    gateway = await serve(FakeGateway(script))
    proxied: list[str] = []
    proxy = await _start_proxy(proxied)
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy[1])
    stream, session, api = desk(gateway, after=1)
    stream.start()
    await until(lambda: "CA2" in session.state.calls)
    assert proxied == [f"{gateway.url}/team/events"]
    await stop(stream, api)
    await proxy[0].cleanup()


# ------------------------------------------------------------------ journal


async def test_a_restarted_desk_resumes_after_the_sequence_its_journal_stored(
    serve: Callable[[FakeGateway], Awaitable[FakeGateway]], tmp_path: Path
) -> None:
    async def script(response: web.StreamResponse, n: int) -> None:
        start = 1 if n == 1 else 5
        await response.write(hello(start) + b"".join(placed(s) for s in range(start, start + 4)))
        await asyncio.sleep(5)

    gateway = await serve(FakeGateway(script))
    journal = Journal(tmp_path / "journal.sqlite3", "Team")
    await journal.open()
    stream, session, api = desk(gateway, journal, after=0)
    stream.rebuilds = 1  # has streamed before
    stream.start()
    await until(lambda: "CA4" in session.state.calls)
    await stop(stream, api)
    await journal.close()

    journal = Journal(tmp_path / "journal.sqlite3", "Team")
    await journal.open()
    after = await journal.stream_seq()
    stream, session2, api = desk(gateway, journal, after=after)
    session2.restore(await journal.replay())
    stream.start()
    await until(lambda: "CA8" in session2.state.calls)
    assert after == 4
    assert gateway.resumes == ["0", "4"]
    assert all(f"CA{n}" in session2.state.calls for n in range(1, 9))
    await stop(stream, api)
    await journal.close()


async def test_a_stream_started_afresh_is_rebuilt_from_and_followed_again(
    serve: Callable[[FakeGateway], Awaitable[FakeGateway]], tmp_path: Path
) -> None:
    async def script(response: web.StreamResponse, n: int) -> None:
        if n == 1:
            await response.write(hello(50) + placed(50))
            return  # the gateway's store is wiped and the stream starts again
        gateway.seq = 2
        await response.write(hello(2) + placed(3))
        await asyncio.sleep(5)

    gateway = await serve(FakeGateway(script))
    journal = Journal(tmp_path / "journal.sqlite3", "Team")
    await journal.open()
    stream, session, api = desk(gateway, journal, after=49)
    stream.start()
    await until(lambda: "CA3" in session.state.calls)
    assert gateway.resumes == ["49", "50"]
    assert stream.last == 3
    await stop(stream, api)
    assert await journal.stream_seq() == 3
    await journal.close()


# ------------------------------------------------------------------ helpers

_EMPTY = type("Empty", (), {"timeline": ()})()


def _changed(seen: list[Link], link: Link) -> bool:
    if not seen or seen[-1] is not link:
        seen.append(link)
    return True


def _snapshot_call(sid: str) -> dict[str, Any]:
    return {
        "callId": sid,
        "owner": "alice",
        "takenFrom": "",
        "to": "15551230000",
        "from": "19876543210",
        "status": "in-progress",
        "answeredBy": "human",
        "placedAt": 990.0,
        "answeredAt": 995.0,
    }


async def _start_proxy(seen: list[str]) -> tuple[web.AppRunner, str]:
    """A forward proxy for plain http:// (what HTTP_PROXY names): it streams the
    answer through as it comes."""
    upstream = aiohttp.ClientSession(trust_env=False, timeout=aiohttp.ClientTimeout(total=None))

    async def forward(request: web.Request) -> web.StreamResponse:
        seen.append(str(request.url))
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host",)}
        async with upstream.request(request.method, str(request.url), headers=headers) as resp:
            out = web.StreamResponse(
                status=resp.status, headers={"Content-Type": resp.content_type}
            )
            await out.prepare(request)
            async for chunk in resp.content.iter_any():
                await out.write(chunk)
            return out

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    app.on_cleanup.append(lambda _: upstream.close())
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"
