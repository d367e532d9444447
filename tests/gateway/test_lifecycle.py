"""Start and stop: a stop lets requests in flight finish, then closes everything."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from console.gateway.server import GatewayThread
from tests.gateway.conftest import Api, StartGateway


async def test_stopping_lets_a_request_in_flight_finish(
    start_gateway: StartGateway, sandbox_api: Api, http: aiohttp.ClientSession
) -> None:
    gateway = start_gateway()
    api = Api(gateway.url, http)
    await sandbox_api.put("/sandbox/faults", {"stall": {"rate": 1, "count": 1}, "stall_ms": 400})
    slow = asyncio.create_task(api.post("/voice", {"callId": "1", "text": "x"}))
    await asyncio.sleep(0.1)
    stopping = asyncio.create_task(asyncio.to_thread(gateway.stop))
    status, data, _ = await slow
    assert (status, data["error"]) == (400, "unknown callId '1'")  # Kaphila's answer
    await stopping
    with pytest.raises(aiohttp.ClientConnectionError):
        await api.get("/healthz", key=None)


def test_stop_twice_is_harmless(gateway: GatewayThread) -> None:
    gateway.stop()
    gateway.stop()
    with pytest.raises(RuntimeError, match="not running"):
        _ = gateway.ctx


def test_the_context_is_bound_to_the_real_port(gateway: GatewayThread) -> None:
    config = gateway.ctx.config
    assert config.port != 0
    assert config.public_url == gateway.url == f"http://127.0.0.1:{config.port}"
    assert "mac_key" not in repr(gateway.ctx)
    assert "Sealer" not in repr(gateway.ctx)
