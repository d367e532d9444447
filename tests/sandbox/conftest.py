from __future__ import annotations

from console.sandbox import Account, SandboxConfig
from tests.helpers import CALLER_ID, OTHER_CALLER_ID, OTHER_KEY, TEST_KEY

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
