"""Fault injection: what can go wrong on purpose, and how often.

Each fault has a ``rate`` (0..1, the chance per webhook or per API request)
and an optional ``count`` (at most this many times, then it switches itself
off), so a test can say "the next two makecalls answer 500" exactly.

Webhook faults act on one delivery: ``drop`` never sends the event,
``duplicate`` sends it twice, ``reorder`` holds it back until the call's next
event has gone out, ``delay`` holds it for ``delay_ms`` first. API faults act
on one request to the public API (never on ``/sandbox/``): ``error`` answers
500, ``throttle`` answers 429, ``stall`` waits ``stall_ms`` before handling.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

# delay_ms and stall_ms: at most 10 minutes (a longer hold outlasts every client).
MAX_HOLD_MS = 600_000
WEBHOOK_FAULTS = ("drop", "duplicate", "reorder", "delay")
API_FAULTS = ("error", "throttle", "stall")
ALL_FAULTS = WEBHOOK_FAULTS + API_FAULTS


@dataclass(slots=True)
class Fault:
    rate: float = 0.0
    count: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"rate must be between 0 and 1, not {self.rate}")
        if self.count is not None and self.count < 0:
            raise ValueError(f"count cannot be negative, not {self.count}")

    def fires(self, rng: random.Random) -> bool:
        """Roll once; a fired fault with a count uses one of its shots."""
        if self.rate <= 0.0 or self.count == 0:
            return False
        if self.rate < 1.0 and rng.random() >= self.rate:
            return False
        if self.count is not None:
            self.count -= 1
        return True

    def to_json(self) -> dict[str, Any]:
        return {"rate": self.rate, "count": self.count}


@dataclass(slots=True)
class FaultConfig:
    drop: Fault = field(default_factory=Fault)
    duplicate: Fault = field(default_factory=Fault)
    reorder: Fault = field(default_factory=Fault)
    delay: Fault = field(default_factory=Fault)
    error: Fault = field(default_factory=Fault)
    throttle: Fault = field(default_factory=Fault)
    stall: Fault = field(default_factory=Fault)
    delay_ms: int = 500
    stall_ms: int = 2000

    @classmethod
    def from_mapping(cls, data: Any) -> FaultConfig:
        """Build from JSON/TOML: ``{"drop": 0.1, "error": {"rate": 1, "count": 2},
        "delay_ms": 300}``. Unknown names and bad values raise ValueError."""
        config = cls()
        config.update(data)
        return config

    def update(self, data: Any) -> None:
        """Apply a partial mapping in place; all-or-nothing on error."""
        if not isinstance(data, dict):
            raise ValueError("faults must be an object")
        staged: dict[str, Any] = {}
        for name, value in data.items():
            if name in ALL_FAULTS:
                staged[name] = _parse_fault(name, value)
            elif name in ("delay_ms", "stall_ms"):
                if (
                    not isinstance(value, int)
                    or isinstance(value, bool)
                    or not 0 <= value <= MAX_HOLD_MS
                ):
                    raise ValueError(
                        f"{name} must be a whole number of milliseconds >= 0 "
                        f"and at most {MAX_HOLD_MS}"
                    )
                staged[name] = value
            else:
                known = ", ".join((*ALL_FAULTS, "delay_ms", "stall_ms"))
                raise ValueError(f"unknown fault {name!r} (known: {known})")
        for name, value in staged.items():
            setattr(self, name, value)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name).to_json() for name in ALL_FAULTS}
        out["delay_ms"] = self.delay_ms
        out["stall_ms"] = self.stall_ms
        return out


def _parse_fault(name: str, value: Any) -> Fault:
    if isinstance(value, bool):
        raise ValueError(f"{name}: expected a rate (0..1) or {{rate, count}}, not a boolean")
    if isinstance(value, int | float):
        rate: Any = value
        count: Any = None
    elif isinstance(value, dict):
        unknown = set(value) - {"rate", "count"}
        if unknown:
            raise ValueError(f"{name}: unknown keys {sorted(unknown)}")
        rate = value.get("rate", 1.0)
        count = value.get("count")
    else:
        raise ValueError(f"{name}: expected a rate (0..1) or {{rate, count}}")
    if isinstance(rate, bool) or not isinstance(rate, int | float):
        raise ValueError(f"{name}: rate must be a number between 0 and 1")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
        raise ValueError(f"{name}: count must be a whole number")
    try:
        return Fault(rate=float(rate), count=count)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
