"""The team's machinery on loopback: Kaphila (the sandbox), a gateway in team
mode holding the account's key, and the team's operators with their tokens.

The account key is made up for this run (``throwaway_key``): the sandbox is
configured with it as its only account, the gateway gets it in its
environment, and no desk ever sees it; desks hold operator tokens. Everything
lives in one temporary folder (the gateway's ``--data``: its nats-server's
store, its log), removed at ``stop``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nats

from console.demo_team.processes import GatewayProcess
from console.gateway import operators
from console.gateway.natsserver import NatsServer
from console.gateway.secrets import encode_secret
from console.sandbox import Account, Sandbox, SandboxConfig
from console.sandbox.config import DEMO_CALLER_IDS

log = logging.getLogger("kaphila.demo")

CREDITS = 10_000_000  # a demo left running all day never runs dry
STOP_GRACE = 2.0  # seconds a gateway may take beyond its --drain-timeout to stop
SUPERVISOR = "supervisor"
OPERATOR = "operator"
DEMO_OPERATORS = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")
DEMO_SUPERVISOR = "sue"


def throwaway_key() -> str:
    """An account key for this run only (the sandbox's account, the gateway's key)."""
    return f"ak_demo_{secrets.token_hex(16)}"


def roster(operators_: int, supervisors: int = 1) -> list[tuple[str, str]]:
    """(name, role) for a team: the demo's names while they last, then numbered ones."""
    if operators_ <= len(DEMO_OPERATORS) and supervisors == 1:
        names = [(n, OPERATOR) for n in DEMO_OPERATORS[:operators_]]
        return [*names, (DEMO_SUPERVISOR, SUPERVISOR)]
    width = len(str(operators_))
    ops = [(f"op{n:0{width}d}", OPERATOR) for n in range(1, operators_ + 1)]
    return [*ops, *((f"sup{n}", SUPERVISOR) for n in range(1, supervisors + 1))]


async def add_operators(nats_url: str, team: list[tuple[str, str]]) -> dict[str, str]:
    """Add each (name, role) to the gateways' operator store; name -> token."""
    nc = await nats.connect(nats_url, name="kaphila-demo-operators")
    try:
        kv = await operators.bucket(nc.jetstream())
        return {name: await operators.add(kv, name, role) for name, role in team}
    finally:
        await nc.close()


async def add_operators_to_store(data: Path, team: list[tuple[str, str]]) -> dict[str, str]:
    """As ``kaphila-gateway operators add --data DIR``, for a gateway not yet
    started on ``data`` (its nats-server locks the store while it runs)."""
    server = NatsServer(data / "nats")
    await asyncio.to_thread(server.start)
    try:
        return await add_operators(server.url, team)
    finally:
        await asyncio.to_thread(server.stop)


@dataclass
class TeamRig:
    """``await rig.start()``; then ``rig.url`` (the gateway) and ``rig.tokens``.

    ``upstream``/``upstream_key``: a Kaphila (sandbox) already running; else one
    is started on this loop with ``time_scale``, ``rate_limit`` and
    ``max_call_seconds``. ``nats_url``: the gateway uses that NATS; else it
    starts its own under the temporary folder."""

    team: list[tuple[str, str]]
    time_scale: float = 1.0
    rate_limit: float = 50.0
    max_call_seconds: float = 120.0
    upstream: str | None = None
    upstream_key: str | None = None
    nats_url: str | None = None
    drain_timeout: float = 2.0
    folder: Path | None = None
    tokens: dict[str, str] = field(default_factory=dict)
    sandbox: Sandbox | None = None
    gateway: GatewayProcess | None = None
    _tmp: Path | None = None

    @property
    def url(self) -> str:
        assert self.gateway is not None, "start() first"
        return self.gateway.url

    @property
    def workdir(self) -> Path:
        """The run's temporary folder (removed at ``stop``)."""
        assert self._tmp is not None, "start() first"
        return self._tmp

    @property
    def sandbox_url(self) -> str:
        if self.sandbox is not None:
            return self.sandbox.url
        assert self.upstream is not None
        return self.upstream

    def token(self, name: str) -> str:
        return self.tokens[name]

    def named(self, role: str) -> list[str]:
        return [name for name, r in self.team if r == role]

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix="kaphila-team-", dir=self.folder))
        key = self.upstream_key or throwaway_key()
        if self.upstream is None:
            self.sandbox = Sandbox(
                SandboxConfig(
                    port=0,
                    accounts=[Account(key, DEMO_CALLER_IDS, CREDITS, "team")],
                    time_scale=self.time_scale,
                    rate_limit=self.rate_limit,
                    max_call_seconds=self.max_call_seconds,
                )
            )
            await self.sandbox.start()
        data = self._tmp / "gateway"
        if self.nats_url is None:
            self.tokens = await add_operators_to_store(data, self.team)
        else:
            self.tokens = await add_operators(self.nats_url, self.team)
        # Started from this (the main) thread: the kernel's parent-death signal
        # is tied to the thread that forked.
        self.gateway = GatewayProcess(
            upstream=self.sandbox_url,
            upstream_key=key,
            secret=encode_secret(secrets.token_bytes(32)),
            log_path=self._tmp / "gateway.log",
            data=data,
            nats_url=self.nats_url,
            drain_timeout=self.drain_timeout,
        )
        await asyncio.to_thread(self.gateway.wait_ready)

    async def stop(self) -> None:
        """The sandbox, the gateway (it drains, then stops its nats-server), the
        temporary folder. Safe to call twice, and after a failed start."""
        # Kaphila first: no webhook is then left retrying against a gateway
        # that has stopped listening.
        sandbox, self.sandbox = self.sandbox, None
        if sandbox is not None:
            await sandbox.stop()
        gateway, self.gateway = self.gateway, None
        if gateway is not None:
            # A drain that overruns its budget is cut short: a demo's data goes anyway.
            await asyncio.to_thread(gateway.stop, self.drain_timeout + STOP_GRACE)
            if gateway.killed:
                log.info("the gateway had not drained after %g s: stopped", self.drain_timeout)
        tmp, self._tmp = self._tmp, None
        if tmp is not None:
            await asyncio.to_thread(shutil.rmtree, tmp, True)

    def gateway_log(self) -> str:
        return self.gateway.log_tail() if self.gateway is not None else ""
