"""Gateways keep nothing a sibling needs: two on one --data and one NATS start
together, share the secret, and serve each other's calls."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from console.gateway import registry, wire
from console.gateway.server import GatewayThread, StartError
from console.sandbox import SandboxThread
from tests.gateway.conftest import Api, gateway_config


@pytest.fixture
def pair(sandbox: SandboxThread, nats_url: str, tmp_path: Path) -> Iterator[list[GatewayThread]]:
    threads = [
        GatewayThread(gateway_config(sandbox.url, nats_url, data=tmp_path / "data"))
        for _ in range(2)
    ]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def start(gateway: GatewayThread) -> None:
        barrier.wait()  # streams, buckets and the secret file are made at the same moment
        try:
            gateway.start()
        except BaseException as exc:
            errors.append(exc)

    starters = [threading.Thread(target=start, args=(g,)) for g in threads]
    for starter in starters:
        starter.start()
    for starter in starters:
        starter.join()
    yield threads
    for gateway in threads:
        gateway.stop()
    assert errors == []


async def test_two_gateways_on_one_data_dir_and_nats_serve_each_others_calls(
    pair: list[GatewayThread], http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    first, second = pair
    assert first.ctx.mac_key == second.ctx.mac_key
    assert (tmp_path / "data" / "gateway.secret").is_file()
    call_id = await Api(first.url, http).place_call()
    _, data, _ = await Api(second.url, http).get("/calls")
    assert [c["callId"] for c in data["calls"]] == [call_id]
    token = second.run(registry.token_for(second.ctx, call_id))
    assert token is not None
    reg = second.run(registry.get(second.ctx, token))
    assert reg is not None
    assert second.ctx.sealer.open(reg.key) == first.ctx.sealer.open(reg.key)
    # Kaphila may post the first gateway's intake URL to either (a load balancer).
    segment = wire.sign_token(token, first.ctx.mac_key)
    event = {"callId": call_id, "event": "call.ended", "timestamp": "2026-01-01T00:00:00Z"}
    status, _, _ = await Api(second.url, http).post(f"/hooks/{segment}", event, key=None)
    assert status == 200


def test_a_second_own_nats_on_the_same_data_is_refused(
    sandbox: SandboxThread, tmp_path: Path
) -> None:
    config = gateway_config(sandbox.url, None, data=tmp_path)
    with GatewayThread(config) as first:
        assert first.gateway.nats_url.startswith("nats://127.0.0.1:")
        second = GatewayThread(config)
        with pytest.raises(StartError, match="in use by another gateway's nats-server"):
            second.start()
    assert (tmp_path / "nats" / "jetstream").is_dir()
