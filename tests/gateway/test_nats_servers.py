"""``--nats`` takes a cluster as a comma-separated list (README, "Deploying it"):
it crashed on ``urlsplit(...).port`` before. One server answering is enough."""

from __future__ import annotations

import pytest

from console.gateway.config import ConfigError, GatewayConfig
from tests.gateway.conftest import StartGateway


def test_a_list_of_servers_is_accepted_and_a_bad_one_named() -> None:
    listed = "nats://n1.example:4222, nats://n2.example:4222,nats://n3.example:4222"
    assert GatewayConfig(upstream="https://k.example", nats_url=listed).validated()
    with pytest.raises(ConfigError, match="comma-separated list"):
        GatewayConfig(upstream="https://k.example", nats_url="nats://a:1,http://b").validated()
    with pytest.raises(ConfigError, match="comma-separated list"):
        GatewayConfig(upstream="https://k.example", nats_url="nats://a:port").validated()


def test_a_gateway_connects_when_one_server_of_the_list_answers(
    start_gateway: StartGateway, nats_url: str
) -> None:
    gateway = start_gateway(nats_url=f"nats://127.0.0.1:9,{nats_url}")
    assert gateway.ctx.nc.is_connected
