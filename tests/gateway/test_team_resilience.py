"""The team stream loses nothing (issue 13, "Done when"): a supervisor's desk
follows the stream while calls run through two gateway processes in team
mode; one gateway is killed with SIGKILL (the desk was connected to it) and
then NATS itself stops and starts again. The desk must end up with every
event the stream holds for it, each exactly once, in order."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import nats
import pytest

from console.gateway import wire
from console.gateway.natsserver import NatsServer
from console.sandbox import SandboxThread
from tests.gateway.processes import Balancer, GatewayProcess, start_gateways
from tests.gateway.team_rig import Follower, add_operators
from tests.gateway.test_resilience import (  # noqa: F401 - pytest fixtures
    balancer,
    patient_sandbox,
    secret,
    spawn,
)
from tests.helpers import CALLER_ID, TEST_KEY

HANGS_UP = "15551230006"  # the callee hangs up 4 s (simulated) after answering
CALLS = 24
DESK_KINDS = ("webhook", "placed", "action", "presence")


async def desk_events(nats_url: str) -> list[int]:
    """The sequences of every stream message a supervisor's desk is sent."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(wire.EVENTS_STREAM)
        found = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(wire.EVENTS_STREAM, seq)
            if json.loads(msg.data or b"{}").get("kind") in DESK_KINDS:
                found.append(seq)
        return found
    finally:
        await nc.close()


async def place(session: aiohttp.ClientSession, url: str, token: str) -> str:
    async with session.post(
        url + "/makecall",
        json={"number": HANGS_UP, "callerId": CALLER_ID},
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:
        data = await resp.json()
        assert resp.status == 200, data
        return str(data["callId"])


@pytest.mark.slow
async def test_a_desk_gets_every_event_once_across_a_killed_gateway_and_a_nats_restart(
    tmp_path: Path,
    patient_sandbox: SandboxThread,  # noqa: F811
    spawn: Callable[..., GatewayProcess],  # noqa: F811
    balancer: Balancer,  # noqa: F811
    secret: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = tmp_path / "nats"
    first = NatsServer(store)
    first.start()
    servers = [first]
    follower: Follower | None = None
    try:
        tokens = await add_operators(first.url, (("alice", "operator"), ("sue", "supervisor")))
        monkeypatch.setitem(os.environ, "KAPHILA_UPSTREAM_KEY", TEST_KEY)
        gateways = [
            spawn(
                upstream=patient_sandbox.url,
                nats_url=first.url,
                secret=secret,
                public_url=balancer.url,
            )
            for _ in range(2)
        ]
        await asyncio.to_thread(start_gateways, gateways)
        balancer.backends[:] = [g.port for g in gateways]
        victim, survivor = gateways

        async with aiohttp.ClientSession() as session:
            follower = Follower([victim.url, survivor.url], tokens["sue"])
            follower.start(session)
            calls = []
            for n in range(CALLS):
                gateway = gateways[n % 2] if victim.alive else survivor
                calls.append(await place(session, gateway.url, tokens["alice"]))
                await asyncio.sleep(0.05)
                if n == CALLS // 3:
                    await asyncio.to_thread(victim.kill)
                    killed_at = follower.last_id
                if n == 2 * CALLS // 3:
                    await asyncio.to_thread(first.stop)
                    await asyncio.sleep(1.0)
                    second = NatsServer(store, port=first.port)
                    await asyncio.to_thread(second.start)
                    servers.append(second)
            # Every call ends by itself (the callee hangs up): wait for the ends.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                ended = {
                    f.data["callId"]
                    for f in follower.frames
                    if f.kind == "webhook" and f.data["payload"]["event"] == "call.ended"
                }
                if ended >= set(calls):
                    break
                await asyncio.sleep(0.1)
            assert ended >= set(calls), (
                f"{len(set(calls) - ended)} call ends never reached the desk"
            )
            await asyncio.sleep(0.5)  # anything stored late reaches it too
            expected = await desk_events(servers[-1].url)
            got = follower.ids()
            assert len(got) == len(set(got)), "an event was applied twice"
            assert got == sorted(got), "events out of order"
            assert set(got) == set(expected), (
                f"missing {sorted(set(expected) - set(got))[:10]}, "
                f"extra {sorted(set(got) - set(expected))[:10]}"
            )
            assert follower.connections >= 2, "the desk never had to reconnect"
            print(
                f"\n{CALLS} calls, {len(got)} events on the desk, "
                f"{follower.connections} connections (gateway killed at event {killed_at})"
            )
    finally:
        if follower is not None:
            await follower.stop()
        for server in servers:
            server.stop()
