"""Who is asking, and what they may do (team mode; docs/TEAM.md).

``Directory`` mirrors the operators' key-value bucket (``operators.BUCKET``) in
memory through a watcher, so every request is authenticated without a round
trip, and a removed operator is refused (and their desk streams closed, by
whoever subscribed with ``on_removed``) as soon as the bucket says so, on
every gateway at once.

The rules, in one place:

- no token, an unknown one, a removed operator's: 401;
- an operator acts on and sees the calls they placed; a call a supervisor
  took from them stays visible to them, read-only;
- a supervisor sees and acts on every call, takes calls over, and reads the
  team's presence and figures.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import nats.errors
from aiohttp import hdrs, web
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from console.gateway import operators, wire
from console.gateway.httpio import ApiError
from twilio import kaphila

log = logging.getLogger("kaphila.gateway.authority")

SUPERVISOR = "supervisor"
WATCH_RETRY = 1.0  # seconds between attempts to watch the bucket again after a loss


@dataclass(frozen=True)
class Caller:
    """An authenticated operator."""

    name: str
    role: str

    @property
    def supervisor(self) -> bool:
        return self.role == SUPERVISOR

    def may_see(self, reg: wire.Registration) -> bool:
        return self.supervisor or self.name in (reg.owner, reg.taken_from)

    def may_act(self, reg: wire.Registration) -> bool:
        return self.supervisor or self.name == reg.owner


def unauthorized(message: str) -> ApiError:
    return ApiError(401, message, {hdrs.WWW_AUTHENTICATE: 'Bearer realm="kaphila-gateway"'})


def forbidden(message: str) -> ApiError:
    return ApiError(403, message)


def refuse_act(caller: Caller, reg: wire.Registration) -> ApiError:
    call = (reg.call_id or "")[:64]
    if caller.name == reg.taken_from:
        return forbidden(
            f"call {call} was taken over by {reg.owner}; you can follow it but not act on it"
        )
    return forbidden(
        f"call {call} belongs to {reg.owner or 'nobody on this team'}; "
        "an operator acts only on calls they placed"
    )


def supervisors_only(caller: Caller, what: str) -> None:
    if not caller.supervisor:
        raise forbidden(f"only a supervisor can {what}; {caller.name} is an operator")


class Directory:
    """The operators, as the bucket says now (kept current by a watcher)."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv
        self._roles: dict[str, str] = {}  # name -> role
        self._tokens: dict[str, str] = {}  # token hash -> name
        self._listeners: list[Callable[[str], None]] = []
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, js: JetStreamContext) -> Directory:
        directory = cls(await operators.bucket(js))
        directory._task = asyncio.get_running_loop().create_task(directory._watch())
        try:
            async with asyncio.timeout(10):
                await directory._ready.wait()
        except TimeoutError:
            log.warning("the operators' list is not loaded yet; requests get 503 until it is")
        return directory

    def on_removed(self, callback: Callable[[str], None]) -> None:
        self._listeners.append(callback)

    @property
    def names(self) -> dict[str, str]:
        """Every operator's role, by name."""
        return dict(self._roles)

    def who(self, token: str) -> Caller | None:
        if not token.startswith(operators.TOKEN_PREFIX):
            return None
        name = self._tokens.get(operators.token_hash(token))
        role = self._roles.get(name or "")
        return Caller(name, role) if name and role else None

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    async def _watch(self) -> None:
        while True:
            try:
                watcher = await self._kv.watchall()
                try:
                    async for entry in watcher:
                        if entry is None:
                            self._ready.set()
                            continue
                        self._apply(entry.key, entry.value, entry.operation)
                finally:
                    await watcher.stop()  # type: ignore[no-untyped-call]
            except asyncio.CancelledError:
                raise
            except (TimeoutError, nats.errors.Error) as exc:
                log.warning("watching the operators' list: %s; trying again", exc)
            await asyncio.sleep(WATCH_RETRY)

    def _apply(self, key: str, value: bytes | None, operation: Any) -> None:
        removed = operation is not None or not value  # DEL or PURGE
        kind, _, rest = key.partition(".")
        if kind == "tok":
            if removed:
                self._tokens.pop(rest, None)
            else:
                assert value is not None
                self._tokens[rest] = value.decode()
        elif kind == "op":
            if removed:
                if self._roles.pop(rest, None) is not None:
                    log.info("operator removed", extra={"operator": rest})
                    for listener in self._listeners:
                        listener(rest)
            else:
                assert value is not None
                try:
                    self._roles[rest] = str(json.loads(value)["role"])
                except (ValueError, KeyError, TypeError):
                    log.warning("an unreadable operator record: ignored")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


DIRECTORY_KEY = web.AppKey("directory", Directory)


def caller_of(request: web.Request) -> Caller:
    """The operator behind this request's Bearer token; 401 otherwise."""
    directory = request.app[DIRECTORY_KEY]
    header = request.headers.get(hdrs.AUTHORIZATION, "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise unauthorized("send your operator token: Authorization: Bearer <token>")
    if not directory.ready:
        raise ApiError(
            503, "the gateway is still loading its operators; try again", {hdrs.RETRY_AFTER: "2"}
        )
    caller = directory.who(token)
    if caller is None:
        if kaphila.valid_key(token) and not token.startswith(operators.TOKEN_PREFIX):
            raise unauthorized(
                "this gateway holds the account's Kaphila key itself; "
                "authenticate with your operator token"
            )
        raise unauthorized("unknown operator token (removed, or never issued)")
    return caller
