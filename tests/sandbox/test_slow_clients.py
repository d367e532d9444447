"""A client that opens a connection and stalls is cut off in bounded time.

Each test speaks raw HTTP over a socket and waits for the server to close it;
the sandbox runs with a 1 s request timeout (10 s by default).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from console.sandbox import Sandbox
from tests.helpers import CALLER_ID, HUMAN, TEST_KEY
from tests.sandbox.conftest import make_config

TIMEOUT = 1.0
# Generous: the bound under test is a second or two; without it, the wait is an hour.
WITHIN = 6.0


@pytest.fixture
async def slow_sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(make_config(request_timeout=TIMEOUT)) as running:
        yield running


async def closed_after(sandbox: Sandbox, sent: bytes) -> tuple[float, bytes]:
    """Send ``sent``, then stall; return how long until the server closed the
    connection and everything it wrote before closing."""
    reader, writer = await asyncio.open_connection(sandbox.host, sandbox.port)
    started = time.monotonic()
    try:
        writer.write(sent)
        await writer.drain()
        received = b""
        async with asyncio.timeout(WITHIN):
            while chunk := await reader.read(65536):
                received += chunk
        return time.monotonic() - started, received
    except TimeoutError:
        raise AssertionError(
            f"the server kept a stalled connection open for {WITHIN} s; it sent {received[:200]!r}"
        ) from None
    finally:
        writer.close()


def head(method: str, path: str, *extra: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *extra]
    return ("\r\n".join(lines) + "\r\n").encode()


async def test_a_connection_that_sends_nothing_is_closed(slow_sandbox: Sandbox) -> None:
    elapsed, received = await closed_after(slow_sandbox, b"")
    assert received == b""
    assert elapsed < TIMEOUT + 2


async def test_a_request_line_and_half_the_headers_are_cut_off(slow_sandbox: Sandbox) -> None:
    elapsed, _ = await closed_after(
        slow_sandbox, head("POST", "/makecall", "Content-Type: application/json")
    )
    assert elapsed < TIMEOUT + 2


async def test_a_body_that_stops_halfway_is_cut_off_with_a_408(slow_sandbox: Sandbox) -> None:
    body = f'{{"number": "{HUMAN}", "callerId": "{CALLER_ID}"}}'.encode()
    sent = head(
        "POST",
        "/makecall",
        f"Authorization: Bearer {TEST_KEY}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "",
        "",
    )
    elapsed, received = await closed_after(slow_sandbox, sent + body[:10])
    assert received.startswith(b"HTTP/1.1 408 "), received
    assert b'"success": false' in received
    assert elapsed < TIMEOUT + 2
    assert slow_sandbox.simulator.calls == {}


async def test_a_stalled_body_on_a_control_endpoint_is_cut_off(slow_sandbox: Sandbox) -> None:
    sent = (
        head(
            "PUT",
            "/sandbox/faults",
            "Content-Type: application/json",
            "Content-Length: 100",
            "",
            "",
        )
        + b'{"drop": '
    )
    elapsed, received = await closed_after(slow_sandbox, sent)
    assert received.startswith(b"HTTP/1.1 408 "), received
    assert elapsed < TIMEOUT + 2


async def test_a_stalled_body_nobody_reads_is_cut_off(slow_sandbox: Sandbox) -> None:
    # No key: the answer is a 401 before the body is read; the rest never comes.
    sent = (
        head("POST", "/makecall", "Content-Type: application/json", "Content-Length: 1000", "", "")
        + b"{"
    )
    elapsed, received = await closed_after(slow_sandbox, sent)
    assert received.startswith(b"HTTP/1.1 401 "), received
    assert elapsed < TIMEOUT + 2


async def test_an_idle_kept_alive_connection_is_closed(slow_sandbox: Sandbox) -> None:
    elapsed, received = await closed_after(slow_sandbox, head("GET", "/sandbox/health", ""))
    assert received.startswith(b"HTTP/1.1 200 "), received
    assert elapsed < TIMEOUT + 2


async def test_a_prompt_client_is_not_hurried(slow_sandbox: Sandbox) -> None:
    # Two requests on one connection, the second after most of the timeout.
    reader, writer = await asyncio.open_connection(slow_sandbox.host, slow_sandbox.port)
    try:
        for _ in range(2):
            writer.write(head("GET", "/sandbox/health", ""))
            await writer.drain()
            status = await reader.readline()
            assert status.startswith(b"HTTP/1.1 200 "), status
            length = 0
            while (line := await reader.readline()) != b"\r\n":
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
            await asyncio.sleep(TIMEOUT * 0.6)  # a pause under the limit, on purpose
    finally:
        writer.close()


def test_the_default_request_timeout_is_bounded() -> None:
    assert 5 <= make_config().request_timeout <= 15
