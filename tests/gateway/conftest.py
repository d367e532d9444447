"""Real peers for the gateway's tests: a nats-server on loopback, a sandbox in a
thread as the upstream Kaphila, a gateway in a thread, an HTTP session and a
NATS client on the test's own loop to look at what the gateway stored."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import nats
import pytest
from nats.aio.client import Client as Nats
from nats.js import JetStreamContext

from console.gateway import wire
from console.gateway.config import GatewayConfig
from console.gateway.natsserver import NatsServer
from console.gateway.server import GatewayThread
from console.sandbox import SandboxThread
from tests.helpers import CALLER_ID, HUMAN, TEST_KEY
from tests.sandbox.conftest import make_config


def gateway_config(upstream: str, nats_url: str | None, **overrides: Any) -> GatewayConfig:
    """A gateway for tests: any free port, loopback apps allowed, short timeouts."""
    config = GatewayConfig(
        upstream=upstream,
        nats_url=nats_url,
        port=0,
        allow_loopback=True,
        publish_timeout=1.0,
        upstream_timeout=5.0,
        body_timeout=2.0,
    )
    return replace(config, **overrides)


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A real nats-server (JetStream, file store) for one test; stop it to test outages."""
    with NatsServer(tmp_path / "nats") as server:
        yield server


@pytest.fixture
def nats_url(nats_server: NatsServer) -> str:
    return nats_server.url


@pytest.fixture
def sandbox() -> Iterator[SandboxThread]:
    with SandboxThread(make_config()) as thread:
        yield thread


StartGateway = Callable[..., GatewayThread]


@pytest.fixture
def start_gateway(sandbox: SandboxThread, nats_url: str) -> Iterator[StartGateway]:
    """``start_gateway(**config_overrides)``: more gateways, stopped at the end."""
    started: list[GatewayThread] = []

    def start(**overrides: Any) -> GatewayThread:
        overrides.setdefault("upstream", sandbox.url)
        overrides.setdefault("nats_url", nats_url)
        thread = GatewayThread(gateway_config(**overrides))
        thread.start()
        started.append(thread)
        return thread

    yield start
    for thread in reversed(started):
        thread.stop()


@pytest.fixture
def gateway(start_gateway: StartGateway) -> GatewayThread:
    """A gateway on the sandbox, with the test's nats-server, loopback apps allowed."""
    return start_gateway()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[Nats]:
    client = await nats.connect(nats_url, allow_reconnect=False)
    yield client
    await client.close()


@dataclass
class Api:
    """JSON over HTTP to a gateway (or a sandbox): status, JSON body, headers."""

    base_url: str
    session: aiohttp.ClientSession
    key: str | None = TEST_KEY

    def _headers(self, key: str | None, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {} if key is None else {"Authorization": f"Bearer {key}"}
        return {**headers, **(extra or {})}

    async def post(
        self,
        path: str,
        body: Any = None,
        *,
        key: str | None = "",
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        sent = {"Content-Type": "application/json", **(headers or {})}
        data = raw if raw is not None else json.dumps(body).encode()
        async with self.session.post(
            self.base_url + path,
            data=data,
            headers=self._headers(self.key if key == "" else key, sent),
        ) as resp:
            return resp.status, await resp.json(), dict(resp.headers)

    async def get(
        self, path: str, *, key: str | None = ""
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        async with self.session.get(
            self.base_url + path, headers=self._headers(self.key if key == "" else key, None)
        ) as resp:
            return resp.status, await resp.json(), dict(resp.headers)

    async def put(self, path: str, body: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
        async with self.session.put(self.base_url + path, json=body) as resp:
            return resp.status, await resp.json(), dict(resp.headers)

    async def place_call(self, number: str = HUMAN, **extra: Any) -> str:
        status, data, _ = await self.post(
            "/makecall", {"number": number, "callerId": CALLER_ID, **extra}
        )
        assert status == 200, data
        return str(data["callId"])


@pytest.fixture
def api(gateway: GatewayThread, http: aiohttp.ClientSession) -> Api:
    return Api(gateway.url, http)


@pytest.fixture
def sandbox_api(sandbox: SandboxThread, http: aiohttp.ClientSession) -> Api:
    return Api(sandbox.url, http)


# ------------------------------------------------------------------ the stream


async def stored_events(js: JetStreamContext, call_id: str | None = None) -> list[dict[str, Any]]:
    """Every message in the events stream (optionally one call's), oldest first."""
    info = await js.stream_info(wire.EVENTS_STREAM)
    out: list[dict[str, Any]] = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        if info.state.messages == 0:
            break
        msg = await js.get_msg(wire.EVENTS_STREAM, seq)
        message = json.loads(msg.data or b"{}")
        payload = message.get("payload") or {}
        if call_id is None or payload.get("callId", message.get("callId")) == call_id:
            out.append(message)
    return out


async def wait_for_event(
    js: JetStreamContext, call_id: str, event: str, within: float = 10.0
) -> list[str]:
    """The call's stored event names, once ``event`` is among them."""
    try:
        async with asyncio.timeout(within):
            while True:
                stored = await stored_events(js, call_id)
                names = [m["payload"]["event"] for m in stored if m["kind"] == "webhook"]
                if event in names:
                    return names
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {event} on {call_id}") from None


def hook_path(gateway: GatewayThread, token: str | None = None) -> str:
    """An intake path this gateway signed (for a fresh token unless given)."""
    return wire.HOOK_PATH.format(
        token=wire.sign_token(token or wire.new_token(), gateway.ctx.mac_key)
    )
