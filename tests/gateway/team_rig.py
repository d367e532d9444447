"""A team for tests: a gateway in team mode on the sandbox, its operators, and
a reader of the team stream (server-sent events) as a desk would read it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import nats

from console.gateway import operators
from console.gateway.server import GatewayThread
from tests.gateway.conftest import Api

TEAM = (("alice", "operator"), ("bob", "operator"), ("sue", "supervisor"))


async def add_operators(nats_url: str, team: tuple[tuple[str, str], ...] = TEAM) -> dict[str, str]:
    """The operators added, name -> token."""
    nc = await nats.connect(nats_url)
    try:
        kv = await operators.bucket(nc.jetstream())
        return {name: await operators.add(kv, name, role) for name, role in team}
    finally:
        await nc.close()


async def remove_operator(nats_url: str, name: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        await operators.remove(await operators.bucket(nc.jetstream()), name)
    finally:
        await nc.close()


@dataclass
class Team:
    gateway: GatewayThread
    tokens: dict[str, str]
    session: aiohttp.ClientSession

    def api(self, name: str) -> Api:
        return Api(self.gateway.url, self.session, key=self.tokens[name])


@dataclass
class Frame:
    kind: str
    data: dict[str, Any]
    id: int | None = None


@dataclass
class Reader:
    """A desk's stream: frames as they come, in ``frames``."""

    frames: list[Frame] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    status: int = 0
    task: asyncio.Task[None] | None = None

    @property
    def last_id(self) -> int:
        ids = [f.id for f in self.frames if f.id is not None]
        return max(ids) if ids else 0

    def of(self, kind: str, call_id: str | None = None) -> list[Frame]:
        return [
            f
            for f in self.frames
            if f.kind == kind and (call_id is None or f.data.get("callId") == call_id)
        ]

    async def wait_for(self, predicate: Any, within: float = 10.0, what: str = "a frame") -> Frame:
        try:
            async with asyncio.timeout(within):
                while True:
                    for frame in self.frames:
                        if predicate(frame):
                            return frame
                    await asyncio.sleep(0.02)
        except TimeoutError:
            kinds = [
                (f.kind, f.data.get("action") or f.data.get("payload", {}).get("event"))
                for f in self.frames
            ]
            raise AssertionError(f"timed out waiting for {what}; got {kinds}") from None

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


async def frames_of(resp: aiohttp.ClientResponse) -> AsyncIterator[Frame]:
    """The server-sent events of a ``/team/events`` answer, as they come."""
    kind, data, ident = "message", "", None
    async for raw in resp.content:
        line = raw.decode().rstrip("\n")
        if line.startswith(":"):
            continue
        if line == "":
            if data:
                yield Frame(kind, json.loads(data), ident)
            kind, data, ident = "message", "", None
            continue
        name, _, value = line.partition(": ")
        if name == "event":
            kind = value
        elif name == "data":
            data += value
        elif name == "id":
            ident = int(value)


async def read_stream(
    session: aiohttp.ClientSession,
    url: str,
    token: str,
    after: int | None = None,
) -> Reader:
    """Open ``GET /team/events`` and read frames in the background; returns
    once the ``hello`` frame has come (or the answer was not a stream)."""
    reader = Reader()
    started = asyncio.Event()
    headers = {"Authorization": f"Bearer {token}"}
    if after is not None:
        headers["Last-Event-ID"] = str(after)

    async def run() -> None:
        try:
            async with session.get(
                url + "/team/events", headers=headers, timeout=aiohttp.ClientTimeout(total=None)
            ) as resp:
                reader.status = resp.status
                if resp.status != 200:
                    return
                async for frame in frames_of(resp):
                    reader.frames.append(frame)
                    if frame.kind == "hello":
                        started.set()
        except aiohttp.ClientError:
            pass
        finally:
            reader.ended.set()
            started.set()

    reader.task = asyncio.get_running_loop().create_task(run())
    async with asyncio.timeout(10):
        await started.wait()
    return reader


@dataclass
class Follower:
    """A desk that stays on the team stream: when a connection ends it connects
    again (to the next URL, as a desk behind a load balancer would land on
    another gateway) with ``Last-Event-ID``, and counts what it was sent."""

    urls: list[str]
    token: str
    frames: list[Frame] = field(default_factory=list)
    connections: int = 0
    task: asyncio.Task[None] | None = None

    @property
    def last_id(self) -> int:
        ids = [f.id for f in self.frames if f.id is not None]
        return max(ids) if ids else 0

    def ids(self) -> list[int]:
        return [f.id for f in self.frames if f.id is not None]

    def start(self, session: aiohttp.ClientSession, after: int = 0) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run(session, after))

    async def _run(self, session: aiohttp.ClientSession, after: int) -> None:
        turn = 0
        while True:
            url = self.urls[turn % len(self.urls)]
            headers = {
                "Authorization": f"Bearer {self.token}",
                "Last-Event-ID": str(max(after, self.last_id)),
            }
            try:
                async with session.get(
                    url + "/team/events",
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=None, sock_read=15),
                ) as resp:
                    if resp.status == 200:
                        self.connections += 1
                        await self._read(resp)
            except (aiohttp.ClientError, TimeoutError):
                pass
            turn += 1
            await asyncio.sleep(0.2)

    async def _read(self, resp: aiohttp.ClientResponse) -> None:
        async for frame in frames_of(resp):
            self.frames.append(frame)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
