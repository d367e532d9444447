from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from console.sandbox import Account, Sandbox, SandboxConfig
from tests.helpers import (
    CALLER_ID,
    OTHER_CALLER_ID,
    OTHER_KEY,
    TEST_KEY,
    SandboxApi,
    WebhookReceiver,
)

# Simulated seconds per real second: a 2 s ring takes 20 ms.
TEST_TIME_SCALE = 100.0


def make_config(**overrides: object) -> SandboxConfig:
    settings: dict[str, object] = {
        "port": 0,
        "time_scale": TEST_TIME_SCALE,
        "rate_limit": 0.0,
        "webhook_backoff": 0.01,
        "webhook_timeout": 1.0,
        "webhook_attempts": 3,
        "seed": 7,
        "accounts": [
            Account(TEST_KEY, (CALLER_ID,), 100, "test"),
            Account(OTHER_KEY, (OTHER_CALLER_ID,), 100, "other"),
        ],
    }
    settings.update(overrides)
    return SandboxConfig(**settings)  # type: ignore[arg-type]


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return make_config()


@pytest.fixture
async def sandbox(sandbox_config: SandboxConfig) -> AsyncIterator[Sandbox]:
    async with Sandbox(sandbox_config) as running:
        yield running


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    hook = WebhookReceiver()
    await hook.start()
    yield hook
    await hook.stop()


@pytest.fixture
async def api(sandbox: Sandbox) -> AsyncIterator[SandboxApi]:
    async with aiohttp.ClientSession() as session:
        yield SandboxApi(sandbox.url, TEST_KEY, session)
