"""No key, token, intake URL, auth token or gateway secret in any log line, at any
level, through a whole call (placed, driven, listed, ended) and its refusals; in
team mode, no operator token and not the account's key. The records are looked at
as logged and as the JSON format writes them (one object a line, with its extra
fields), without the redaction filter: the code itself must not log them."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import traceback
from collections.abc import Iterator

import aiohttp
import pytest
from nats.aio.client import Client as Nats

from console.gateway import logs, registry, wire
from console.gateway.secrets import ENV_VAR, encode_secret
from console.sandbox import SandboxThread
from tests.gateway.conftest import Api, StartGateway, wait_for_event
from tests.gateway.team_rig import add_operators, remove_operator
from tests.helpers import CALLER_ID, HUMAN, TEST_KEY

SECRET = encode_secret(b"gateway-secret-for-the-log-test!")
AUTH_TOKEN = "app-auth-token-9f8e7d6c"
STRANGER = "kgo_" + "S7r4nG3r-_" * 4  # an operator token no gateway issued


@contextlib.contextmanager
def json_lines() -> Iterator[io.StringIO]:
    """The gateway's records as ``--log-format json`` writes them (no redaction)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.setLevel(logging.DEBUG)
    gateway_logger = logging.getLogger("kaphila.gateway")
    gateway_logger.addHandler(handler)
    try:
        yield stream
    finally:
        gateway_logger.removeHandler(handler)


def check(records: list[logging.LogRecord], lines: str, secrets: dict[str, str]) -> None:
    records = [r for r in records if not r.name.startswith("kaphila.sandbox")]
    assert any(r.name.startswith("kaphila.gateway") for r in records)
    assert any(r.levelno == logging.DEBUG for r in records)
    for record in records:
        text = _text(record)
        for what, value in secrets.items():
            assert value not in text, f"{what} in a {record.name} log line: {text[:200]}"
    assert lines.strip()
    for line in lines.splitlines():
        record = json.loads(line)  # one object a line, tracebacks included
        assert {"time", "level", "logger", "message"} <= record.keys()
        for what, value in secrets.items():
            assert value not in line, f"{what} in a JSON log line: {line[:200]}"


def _text(record: logging.LogRecord) -> str:
    parts = [record.getMessage()]
    if record.exc_info:
        parts.append("".join(traceback.format_exception(*record.exc_info)))
    return "\n".join(parts)


async def test_a_whole_call_logs_no_secret(
    start_gateway: StartGateway,
    sandbox: SandboxThread,
    http: aiohttp.ClientSession,
    nc: Nats,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(ENV_VAR, SECRET)
    with json_lines() as lines:
        secrets = await a_whole_call(start_gateway, http, nc)
    check(caplog.records, lines.getvalue(), secrets)


async def a_whole_call(
    start_gateway: StartGateway, http: aiohttp.ClientSession, nc: Nats
) -> dict[str, str]:
    gateway = start_gateway()
    api = Api(gateway.url, http)
    # A Twilio app that cannot be reached: the interpreter's error path is logged too.
    app_call = await api.place_call(
        twilio={"url": "http://127.0.0.1:9/app", "authToken": AUTH_TOKEN},
    )
    call_id = await api.place_call(
        webhookUrl="http://127.0.0.1:9/relay", twilio={"authToken": AUTH_TOKEN}
    )
    js = nc.jetstream()
    await wait_for_event(js, app_call, "call.ended")
    await wait_for_event(js, call_id, "call.answered")
    assert (await api.post("/voice", {"callId": call_id, "text": "hello"}))[0] == 200
    document = {"twiml": '<Response><Gather timeout="60"/></Response>'}
    assert (await api.post(f"/calls/{call_id}/twiml", document))[0] == 200
    assert (await api.get("/calls"))[0] == 200
    assert (await api.get(f"/calls/{call_id}"))[0] == 200
    assert (await api.post("/hangup", {"callId": call_id}))[0] == 200
    await wait_for_event(js, call_id, "call.ended")
    assert (await api.post("/makecall", {"number": "1"}, key="ak_wrong_key_555"))[0] == 401
    assert (await api.post("/makecall", {"number": "1"}, key=STRANGER))[0] == 401
    token = gateway.run(registry.token_for(gateway.ctx, call_id))
    assert token is not None
    segment = wire.sign_token(token, gateway.ctx.mac_key)
    forged = segment[:-1] + ("0" if segment[-1] != "0" else "1")
    assert (await api.post(f"/hooks/{forged}", {"callId": call_id}, key=None))[0] == 404
    assert (await api.post(f"/hooks/{segment}", {"callId": call_id}, key=None))[0] == 400
    reg = gateway.run(registry.get(gateway.ctx, token))
    assert reg is not None
    gateway.stop()

    return {
        "the API key": TEST_KEY,
        "a wrong API key": "ak_wrong_key_555",
        "an operator token": STRANGER,
        "the call's token": token,
        "its intake segment": segment,
        "a forged segment": forged,
        "the app's auth token": AUTH_TOKEN,
        "the gateway secret": SECRET,
        "the sealed key": reg.key,
    }


async def test_a_team_logs_no_operator_token_nor_the_account_key(
    start_gateway: StartGateway,
    sandbox: SandboxThread,
    nats_url: str,
    http: aiohttp.ClientSession,
    nc: Nats,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Operators place, act, take over, read the stream; a stranger, a removed
    operator and the account key itself are refused."""
    caplog.set_level(logging.DEBUG)
    tokens = await add_operators(nats_url)
    with json_lines() as lines:
        gateway = await asyncio.to_thread(start_gateway, upstream_key=TEST_KEY)
        alice, sue = (Api(gateway.url, http, key=tokens[name]) for name in ("alice", "sue"))
        status, data, _ = await alice.post(
            "/makecall", {"number": HUMAN, "callerId": CALLER_ID, "useAmd": True}
        )
        assert status == 200, data
        call_id = str(data["callId"])
        await wait_for_event(nc.jetstream(), call_id, "call.answered")
        assert (await alice.post("/voice", {"callId": call_id, "text": "hello"}))[0] == 200
        assert (await sue.get("/team/calls"))[0] == 200
        assert (await sue.post(f"/team/calls/{call_id}/takeover", {}))[0] == 200
        assert (await alice.post("/hangup", {"callId": call_id}))[0] == 403
        assert (await sue.post("/hangup", {"callId": call_id}))[0] == 200
        async with http.get(
            gateway.url + "/team/events?after=0",
            headers={"Authorization": f"Bearer {tokens['sue']}"},
        ) as stream:
            assert stream.status == 200
            assert b"hello" in await stream.content.readline()  # "event: hello"
        for key in (STRANGER, TEST_KEY, None):
            assert (await alice.get("/team/me", key=key))[0] == 401
        await remove_operator(nats_url, "bob")
        bob = Api(gateway.url, http, key=tokens["bob"])
        for _ in range(50):  # the gateway learns of the removal within moments
            if (await bob.get("/team/me"))[0] == 401:
                break
            await asyncio.sleep(0.1)
        assert (await bob.get("/team/me"))[0] == 401
        await asyncio.to_thread(gateway.stop)
    secrets = {f"{name}'s token": token for name, token in tokens.items()}
    secrets |= {"a stranger's token": STRANGER, "the account key": TEST_KEY}
    check(caplog.records, lines.getvalue(), secrets)
