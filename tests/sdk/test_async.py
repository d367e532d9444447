"""The *_async methods: through AsyncTwilioHttpClient (aiohttp) on the caller's
loop, or, with the default blocking client, in a worker thread. Against the
threaded sandbox over loopback."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.helpers import CALLER_ID, HUMAN, TEST_KEY
from tests.sdk.conftest import SandboxHandle
from twilio.base.exceptions import (
    TwilioConnectionError,
    TwilioException,
    TwilioRestException,
    TwilioTimeoutError,
)
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

TO, FROM = "+" + HUMAN, "+" + CALLER_ID


def async_sdk(url: str, http: AsyncTwilioHttpClient, key: str = TEST_KEY, **kwargs: Any) -> Client:
    return Client(
        "AC1", key, base_url=url, environment={}, backoff=0.01, http_client=http, **kwargs
    )


@pytest.fixture
async def http() -> AsyncIterator[AsyncTwilioHttpClient]:
    async with AsyncTwilioHttpClient() as client:
        yield client


def test_importing_the_sdk_never_loads_aiohttp() -> None:
    code = (
        "import sys, twilio, twilio.rest, twilio.jwt.access_token.grants, "
        "twilio.twiml.messaging_response, twilio.rest.api.v2010.account.call\n"
        "from twilio.rest import Client\n"
        "c = Client('AC1', 'ak_x', environment={}); c.calls; c.api.account.calls; c.messages\n"
        "before = 'aiohttp' in sys.modules\n"
        "import twilio.http.async_http_client\n"
        "print(before, 'aiohttp' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


# ------------------------------------------------ the default (blocking) client, in a thread


async def test_create_fetch_and_update_async_with_the_default_client(
    client: Client, sandbox: SandboxHandle
) -> None:
    call = await client.calls.create_async(to=TO, from_=FROM, url="http://127.0.0.1:9/hook")
    assert sandbox.call(call.sid)["webhookUrl"] == "http://127.0.0.1:9/hook"
    assert (await client.calls(call.sid).fetch_async()).status == "ringing"
    assert (await call.fetch_async()).sid == call.sid
    ended = await call.update_async(status="completed")
    assert ended.status in ("canceled", "completed")
    assert sandbox.call(call.sid)["status"] in ("canceled", "completed")


async def test_the_loop_keeps_running_while_a_blocking_request_waits(
    client: Client, sandbox: SandboxHandle
) -> None:
    sid = client.calls.create(to=TO, from_=FROM).sid
    sandbox.faults(stall={"rate": 1, "count": 1}, stall_ms=400)
    ticks = 0

    async def heartbeat() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    beating = asyncio.create_task(heartbeat())
    try:
        assert (await client.calls(sid).fetch_async()).sid == sid
    finally:
        beating.cancel()
    assert ticks >= 5


async def test_list_async_and_stream_async_give_the_known_calls(client: Client) -> None:
    placed = await client.calls.create_async(to=TO, from_=FROM)
    assert [c.sid for c in await client.calls.list_async()] == [placed.sid]
    assert [c.sid async for c in await client.calls.stream_async(to=TO)] == [placed.sid]
    assert await client.calls.list_async(to="+15550009999") == []


# ------------------------------------------------ AsyncTwilioHttpClient (aiohttp)


async def test_the_async_http_client_places_fetches_and_ends_a_call(
    sandbox: SandboxHandle, http: AsyncTwilioHttpClient
) -> None:
    client = async_sdk(sandbox.url, http)
    call = await client.calls.create_async(to=TO, from_=FROM, machine_detection="Enable")
    assert http.last_request is not None
    assert http.last_request["url"] == sandbox.url + "/makecall"
    assert sandbox.call(call.sid)["amdEnabled"] is True
    fetched = await client.calls(call.sid).fetch_async()
    assert (fetched.sid, fetched.status) == (call.sid, "ringing")
    assert http.last_request["url"] == f"{sandbox.url}/calls/{call.sid}"
    ended = await fetched.update_async(status="completed")
    assert ended.status in ("canceled", "completed")
    assert http.last_request["url"] == sandbox.url + "/hangup"


async def test_twiml_sent_with_update_async_runs_through_the_async_client(
    sandbox: SandboxHandle, http: AsyncTwilioHttpClient
) -> None:
    client = async_sdk(sandbox.url, http)
    call = await client.calls.create_async(to=TO, from_=FROM)
    await asyncio.to_thread(sandbox.wait_status, call.sid, "answered")
    response = VoiceResponse()
    response.say("Hello from asyncio")
    await client.calls(call.sid).update_async(twiml=response)
    assert [s["text"] for s in sandbox.call(call.sid)["spoken"]] == ["Hello from asyncio"]
    assert http.last_request is not None
    assert http.last_request["url"] == sandbox.url + "/voice"


async def test_async_errors_carry_twilios_codes(
    sandbox: SandboxHandle, http: AsyncTwilioHttpClient
) -> None:
    with pytest.raises(TwilioRestException) as raised:
        await async_sdk(sandbox.url, http, key="ak_wrong_key").calls.create_async(to=TO, from_=FROM)
    assert (raised.value.status, raised.value.code, raised.value.msg) == (
        401,
        20003,
        "unknown API key",
    )
    assert (raised.value.method, raised.value.uri) == ("POST", sandbox.url + "/makecall")


async def test_an_async_makecall_that_failed_is_not_sent_again(
    sandbox: SandboxHandle, http: AsyncTwilioHttpClient
) -> None:
    sandbox.faults(error={"rate": 1, "count": 1})
    with pytest.raises(TwilioRestException) as raised:
        await async_sdk(sandbox.url, http).calls.create_async(to=TO, from_=FROM)
    assert (raised.value.status, raised.value.code) == (500, 20500)
    assert sandbox.requests_received("/makecall") == 1


async def test_an_async_get_is_retried_through_server_errors_and_throttling(
    sandbox: SandboxHandle, http: AsyncTwilioHttpClient
) -> None:
    client = async_sdk(sandbox.url, http)
    sid = (await client.calls.create_async(to=TO, from_=FROM)).sid
    sandbox.faults(error={"rate": 1, "count": 1}, throttle={"rate": 1, "count": 1})
    assert (await client.calls(sid).fetch_async()).sid == sid
    assert sandbox.requests_received(f"/calls/{sid}") == 3


async def test_a_stalled_async_makecall_times_out_and_is_not_sent_again(
    sandbox: SandboxHandle, http: AsyncTwilioHttpClient
) -> None:
    sandbox.faults(stall={"rate": 1, "count": 1}, stall_ms=1500)
    with pytest.raises(TwilioTimeoutError) as raised:
        await async_sdk(sandbox.url, http, timeout=0.3).calls.create_async(to=TO, from_=FROM)
    assert raised.value.request_sent is True
    assert raised.value.msg == (
        f"cannot reach the Kaphila API at POST {sandbox.url}/makecall: no answer within 0.3 s"
    )
    await asyncio.sleep(1.6)  # past the stall: a retry would have arrived by now
    assert sandbox.requests_received("/makecall") == 1


async def test_a_dead_server_is_a_connection_error_that_was_never_sent(
    http: AsyncTwilioHttpClient,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(TwilioConnectionError) as raised:
        await async_sdk(dead, http).calls.create_async(to=TO, from_=FROM)
    assert raised.value.msg == (
        f"cannot reach the Kaphila API at POST {dead}/makecall: connection refused"
    )
    assert raised.value.request_sent is False


async def test_the_key_never_appears_in_async_errors_or_logs(
    serve: Any, http: AsyncTwilioHttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    from flask import Flask, request

    app = Flask("echo")
    key = 'ak_live_"quoted\\back'

    @app.post("/makecall")
    def makecall() -> Any:
        return app.response_class(
            json.dumps({"success": False, "error": f"bad {request.headers['Authorization']}"}),
            status=401,
            mimetype="application/json",
        )

    server = serve(app)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(TwilioRestException) as raised:
        await async_sdk(server.url, http, key=key).calls.create_async(to=TO, from_=FROM)
    assert "[redacted]" in raised.value.msg
    everything = [raised.value.msg, str(raised.value), *(r.getMessage() for r in caplog.records)]
    for text in everything:
        for form in (key, json.dumps(key)[1:-1], repr(key)[1:-1]):
            assert form not in text


async def test_a_blocking_call_on_the_loop_with_an_async_client_says_to_await(
    sandbox: SandboxHandle, http: AsyncTwilioHttpClient
) -> None:
    client = async_sdk(sandbox.url, http)
    with pytest.raises(TwilioException, match=r"await the \*_async methods"):
        client.calls.create(to=TO, from_=FROM)
    assert sandbox.requests_received("/makecall") == 0


async def test_closing_the_client_leaves_the_async_session_to_its_owner(
    sandbox: SandboxHandle, http: AsyncTwilioHttpClient
) -> None:
    client = async_sdk(sandbox.url, http)
    await client.calls.create_async(to=TO, from_=FROM)
    client.close()
    assert http.session is not None
    assert not http.session.closed
    await http.close()
    assert http.session is None
