"""No key, token, intake URL, auth token or gateway secret in any log line, at any
level, through a whole call (placed, driven, listed, ended) and its refusals."""

from __future__ import annotations

import logging
import traceback

import aiohttp
import pytest
from nats.aio.client import Client as Nats

from console.gateway import registry, wire
from console.gateway.secrets import ENV_VAR, encode_secret
from console.sandbox import SandboxThread
from tests.gateway.conftest import Api, StartGateway, wait_for_event
from tests.helpers import TEST_KEY

SECRET = encode_secret(b"gateway-secret-for-the-log-test!")
AUTH_TOKEN = "app-auth-token-9f8e7d6c"


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
    token = gateway.run(registry.token_for(gateway.ctx, call_id))
    assert token is not None
    segment = wire.sign_token(token, gateway.ctx.mac_key)
    forged = segment[:-1] + ("0" if segment[-1] != "0" else "1")
    assert (await api.post(f"/hooks/{forged}", {"callId": call_id}, key=None))[0] == 404
    assert (await api.post(f"/hooks/{segment}", {"callId": call_id}, key=None))[0] == 400
    reg = gateway.run(registry.get(gateway.ctx, token))
    assert reg is not None
    gateway.stop()

    secrets = {
        "the API key": TEST_KEY,
        "a wrong API key": "ak_wrong_key_555",
        "the call's token": token,
        "its intake segment": segment,
        "a forged segment": forged,
        "the app's auth token": AUTH_TOKEN,
        "the gateway secret": SECRET,
        "the sealed key": reg.key,
    }
    records = [r for r in caplog.records if not r.name.startswith("kaphila.sandbox")]
    assert any(r.name.startswith("kaphila.gateway") for r in records)
    assert any(r.levelno == logging.DEBUG for r in records)
    for record in records:
        text = _text(record)
        for what, value in secrets.items():
            assert value not in text, f"{what} in a {record.name} log line: {text[:200]}"
