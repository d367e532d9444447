"""The call center's operators: names, roles and their tokens, in NATS key-value
storage so that every gateway sees the same list.

A token is shown once, when the operator is added; the store keeps only its
SHA-256 (tokens are 256 random bits, so a plain hash is enough to make a stolen
store useless for logging in). ``kaphila-gateway operators add|list|remove``
manages them, against ``--nats URL`` or a gateway's own store under ``--data``.

A gateway in team mode enforces them: ``authority.Directory`` mirrors this
bucket and decides who may do what (docs/TEAM.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Literal

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import (
    BucketNotFoundError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NoKeysError,
    NoStreamResponseError,
    ServiceUnavailableError,
)
from nats.js.kv import KeyValue

BUCKET = "kgw_operators"
TOKEN_PREFIX = "kgo_"  # noqa: S105 - a prefix that marks operator tokens, not a secret
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
Role = Literal["operator", "supervisor"]
ROLES: tuple[Role, ...] = ("operator", "supervisor")
RETRIES = 20


class OperatorError(ValueError):
    """A request the store refuses; the message is for the person at the terminal."""


@dataclass(frozen=True)
class Operator:
    name: str
    role: Role
    created_at: float


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def bucket(js: JetStreamContext) -> KeyValue:
    """The operators' bucket, made on first use. A server that has just started
    may still be recovering its store: asked again for a few seconds."""
    for attempt in range(RETRIES):
        try:
            return await js.key_value(BUCKET)
        except BucketNotFoundError:
            return await js.create_key_value(
                KeyValueConfig(bucket=BUCKET, history=1, storage=StorageType.FILE)
            )
        except (ServiceUnavailableError, NoStreamResponseError, TimeoutError):
            if attempt == RETRIES - 1:
                raise
            await asyncio.sleep(0.25)
    raise AssertionError("unreachable")


def _checked_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise OperatorError(
            f"{name[:70]!r} is not a usable name: 1-64 letters, digits, '.', '_' or '-'"
        )
    return name


async def add(kv: KeyValue, name: str, role: str) -> str:
    """Add an operator; the new token (shown once)."""
    name = _checked_name(name)
    if role not in ROLES:
        raise OperatorError(f"the role must be operator or supervisor, not {role[:40]!r}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = Operator(name, role, time.time())
    try:
        await kv.create(f"op.{name}", json.dumps(asdict(record)).encode())
    except KeyWrongLastSequenceError:
        raise OperatorError(f"an operator named {name} exists; remove it first") from None
    await kv.put(f"tok.{token_hash(token)}", name.encode())
    return token


async def listing(kv: KeyValue) -> list[Operator]:
    try:
        keys = await kv.keys()
    except NoKeysError:
        return []
    found = []
    for key in sorted(k for k in keys if k.startswith("op.")):
        try:
            entry = await kv.get(key)
        except KeyNotFoundError:
            continue
        if entry.value:
            found.append(Operator(**json.loads(entry.value)))
    return found


async def remove(kv: KeyValue, name: str) -> None:
    name = _checked_name(name)
    try:
        await kv.get(f"op.{name}")
    except KeyNotFoundError:
        raise OperatorError(f"there is no operator named {name}") from None
    for key in await kv.keys():
        if key.startswith("tok."):
            entry = await kv.get(key)
            if entry.value and entry.value.decode() == name:
                await kv.purge(key)
    await kv.purge(f"op.{name}")


async def who(kv: KeyValue, token: str) -> Operator | None:
    """The operator a Bearer token belongs to, or None (unknown or removed)."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    try:
        name = (await kv.get(f"tok.{token_hash(token)}")).value
        if not name:
            return None
        entry = await kv.get(f"op.{name.decode()}")
    except KeyNotFoundError:
        return None
    return Operator(**json.loads(entry.value)) if entry.value else None
