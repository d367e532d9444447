"""Sandbox configuration: accounts, limits, time scale and fault rates.

Configuration comes from three places, later ones winning: built-in defaults,
an optional TOML file, and command-line flags. With no account configured the
sandbox creates one demo account with a fresh random key, so a new user can
dial at once.
"""

from __future__ import annotations

import re
import secrets
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from console.sandbox.faults import FaultConfig

# Kaphila numbers: 10-15 digits, no '+' (API document, "Make a Call").
NUMBER_RE = re.compile(r"^[0-9]{10,15}$")

DEMO_CALLER_IDS = ("19876543210", "15550001000")
DEMO_CREDITS = 1000


class ConfigError(ValueError):
    """A configuration file or flag that cannot be used, with the reason."""


@dataclass(slots=True)
class Account:
    """One API key with the caller IDs it may use and its credit balance."""

    key: str
    caller_ids: tuple[str, ...]
    credits: int
    name: str = "account"

    def __post_init__(self) -> None:
        if not self.key or any(ch.isspace() for ch in self.key):
            raise ConfigError(f"account {self.name!r}: the API key must be non-empty, no spaces")
        for number in self.caller_ids:
            if not NUMBER_RE.match(number):
                raise ConfigError(
                    f"account {self.name!r}: caller ID {number!r} is not 10-15 digits without '+'"
                )
        if self.credits < 0:
            raise ConfigError(f"account {self.name!r}: credits cannot be negative")


@dataclass(slots=True)
class SandboxConfig:
    """Everything that shapes one sandbox run. Times are in simulated seconds
    unless the name says otherwise; ``time_scale`` simulated seconds pass per
    real second (tests use 100)."""

    host: str = "127.0.0.1"
    port: int = 8787
    # Host header names served besides loopback names and ``host`` (DNS
    # rebinding defence: any other name is refused).
    allowed_hosts: tuple[str, ...] = ()
    accounts: list[Account] = field(default_factory=list)
    time_scale: float = 1.0
    call_cost: int = 1
    # Requests per second per key (token bucket, burst = 2x); 0 turns it off.
    rate_limit: float = 50.0
    max_body_bytes: int = 64 * 1024
    # Real seconds a connection may sit idle or take to send a request's
    # headers or body before the sandbox closes it.
    request_timeout: float = 10.0
    # A call nobody hangs up ends by itself after this long (simulated seconds).
    max_call_seconds: float = 600.0
    # Finished calls kept for inspection; the oldest are forgotten past this.
    max_finished_calls: int = 10_000
    # Webhook delivery: real seconds, not simulated ones (it is real HTTP).
    webhook_timeout: float = 5.0
    webhook_attempts: int = 5
    webhook_backoff: float = 0.5
    webhook_concurrency: int = 64
    # A local sandbox posts webhooks to loopback addresses only, unless told
    # otherwise: a demo must never reach out to a host named in someone's example.
    allow_remote_webhooks: bool = False
    faults: FaultConfig = field(default_factory=FaultConfig)
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.time_scale <= 0:
            raise ConfigError("time_scale must be greater than 0")
        if self.webhook_attempts < 1:
            raise ConfigError("webhook_attempts must be at least 1")
        if self.max_body_bytes < 256:
            raise ConfigError("max_body_bytes must be at least 256")
        if not 0 < self.request_timeout <= 3600:
            raise ConfigError("request_timeout must be more than 0 and at most 3600 seconds")
        for name in self.allowed_hosts:
            if not name or any(ch.isspace() or ch in "/@" for ch in name):
                raise ConfigError(f"allowed_hosts: {name!r} is not a host name or address")
        if self.rate_limit < 0:
            raise ConfigError("rate_limit cannot be negative")
        if self.max_finished_calls < 1:
            raise ConfigError("max_finished_calls must be at least 1")
        if self.call_cost < 0:
            raise ConfigError("call_cost cannot be negative")
        keys = [a.key for a in self.accounts]
        if len(keys) != len(set(keys)):
            raise ConfigError("two accounts share one API key")

    def with_demo_account(self) -> SandboxConfig:
        """This config, plus a demo account when none is configured."""
        if self.accounts:
            return self
        return replace(self, accounts=[demo_account()])


def demo_account() -> Account:
    """A fresh demo account. The key is random per run: the sandbox may be
    bound to a non-loopback host, and a fixed key would then be an open door."""
    return Account(
        key=f"ak_sandbox_{secrets.token_hex(12)}",
        caller_ids=DEMO_CALLER_IDS,
        credits=DEMO_CREDITS,
        name="demo",
    )


def parse_account_flag(text: str) -> Account:
    """``KEY:CALLERID[,CALLERID...][:CREDITS]`` as given to ``--account``."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise ConfigError(f"--account {text!r}: expected KEY:CALLERID[,CALLERID...][:CREDITS]")
    credits = DEMO_CREDITS
    if len(parts) == 3:
        try:
            credits = int(parts[2])
        except ValueError:
            raise ConfigError(
                f"--account {text!r}: credits {parts[2]!r} is not a whole number"
            ) from None
    caller_ids = tuple(c.strip() for c in parts[1].split(",") if c.strip())
    return Account(key=parts[0], caller_ids=caller_ids, credits=credits, name=parts[0][:12])


_SCALAR_FIELDS = {
    f.name: f.type for f in fields(SandboxConfig) if f.name not in {"accounts", "faults"}
}


def load_toml(path: Path, base: SandboxConfig | None = None) -> SandboxConfig:
    """Read a sandbox TOML file (see README: "Sandbox configuration")."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    return from_mapping(data, base or SandboxConfig(), source=str(path))


def from_mapping(data: dict[str, Any], base: SandboxConfig, source: str) -> SandboxConfig:
    settings = data.get("sandbox", {})
    if not isinstance(settings, dict):
        raise ConfigError(f"{source}: [sandbox] must be a table")
    changes: dict[str, Any] = {}
    for name, value in settings.items():
        if name not in _SCALAR_FIELDS:
            raise ConfigError(f"{source}: unknown setting [sandbox].{name}")
        changes[name] = _coerce(name, value, source)
    accounts = list(base.accounts)
    raw_accounts = data.get("accounts", [])
    if not isinstance(raw_accounts, list):
        raise ConfigError(f"{source}: accounts must be an array of tables ([[accounts]])")
    for index, raw in enumerate(raw_accounts):
        accounts.append(_account_from_mapping(raw, f"{source}: accounts[{index}]"))
    faults = base.faults
    if "faults" in data:
        try:
            faults = FaultConfig.from_mapping(data["faults"])
        except ValueError as exc:
            raise ConfigError(f"{source}: [faults]: {exc}") from exc
    return replace(base, accounts=accounts, faults=faults, **changes)


def _coerce(name: str, value: Any, source: str) -> Any:
    expected = _SCALAR_FIELDS[name]
    if expected == "str" and isinstance(value, str):
        return value
    if expected == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if expected == "float" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if expected == "int | None" and (value is None or isinstance(value, int)):
        return value
    if expected == "bool" and isinstance(value, bool):
        return value
    if (
        expected == "tuple[str, ...]"
        and isinstance(value, list)
        and all(isinstance(v, str) for v in value)
    ):
        return tuple(value)
    raise ConfigError(f"{source}: [sandbox].{name} must be of type {expected}, not {value!r}")


def _account_from_mapping(raw: Any, where: str) -> Account:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table")
    key = raw.get("key")
    caller_ids = raw.get("caller_ids", [])
    credits = raw.get("credits", DEMO_CREDITS)
    if not isinstance(key, str):
        raise ConfigError(f"{where}: key must be a string")
    if not isinstance(caller_ids, list) or not all(isinstance(c, str) for c in caller_ids):
        raise ConfigError(f"{where}: caller_ids must be a list of strings")
    if not isinstance(credits, int) or isinstance(credits, bool):
        raise ConfigError(f"{where}: credits must be a whole number")
    name = raw.get("name", key[:12])
    if not isinstance(name, str):
        raise ConfigError(f"{where}: name must be a string")
    return Account(key=key, caller_ids=tuple(caller_ids), credits=credits, name=name)
