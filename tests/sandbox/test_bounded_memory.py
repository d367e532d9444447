"""Requests from strangers leave nothing behind: no per-key, per-path or
per-address state grows with them."""

from __future__ import annotations

import asyncio
import secrets

import aiohttp

from console.sandbox import Sandbox
from console.sandbox.api import LIMITER_KEY, RateLimiter
from tests.helpers import CALLER_ID, HUMAN, TEST_KEY, SandboxApi
from tests.sandbox.conftest import make_config


async def test_requests_with_bad_keys_and_unknown_paths_add_no_lasting_state() -> None:
    config = make_config(rate_limit=50.0)
    async with (
        Sandbox(config) as sandbox,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=20)) as session,
    ):

        async def one(i: int) -> None:
            noise = secrets.token_hex(8)
            path = (f"/calls/{noise}", f"/x{noise}", "/makecall")[i % 3]
            method = "POST" if path == "/makecall" else "GET"
            async with session.request(
                method,
                sandbox.url + path,
                json={"n": i} if method == "POST" else None,
                headers={"Authorization": f"Bearer ak_{noise}"},
            ) as resp:
                assert resp.status in (401, 404), await resp.text()

        for start in range(0, 5000, 100):
            await asyncio.gather(*(one(i) for i in range(start, start + 100)))
        counted = sandbox.simulator.requests_received
        assert len(counted) <= 10, len(counted)
        assert counted["/makecall"] == sum(1 for i in range(5000) if i % 3 == 2)
        assert len(sandbox.app[LIMITER_KEY]) <= len(config.accounts)
        # ...and the sandbox still answers, and still counts real endpoints.
        api = SandboxApi(sandbox.url, TEST_KEY, session)
        status, _ = await api.post("/makecall", {"number": HUMAN, "callerId": CALLER_ID})
        assert status == 200
        await api.get("/calls/1.1")
        _, stats = await api.get("/sandbox/stats")
        assert stats["requests"]["/makecall"] == counted["/makecall"]
        assert stats["requests"]["/calls/1.1"] == 1


def test_the_rate_limiter_forgets_the_longest_unused_keys_past_its_bound() -> None:
    limiter = RateLimiter(0.01, max_keys=100)  # one request, then one per 100 s
    assert limiter.allow("kept")
    assert not limiter.allow("kept")
    for i in range(5000):
        limiter.allow(f"ak_{i}")
        if i % 50 == 0:
            assert not limiter.allow("kept")  # used recently: its empty bucket stays
    assert len(limiter) <= 100
