"""Errors carry Twilio's codes; transport retries only where safe; the key never leaks."""

from __future__ import annotations

import logging
import socket
from typing import Any

import pytest

from console.sandbox import Account
from tests.helpers import CALLER_ID, HUMAN, TEST_KEY
from tests.sandbox.conftest import make_config
from tests.sdk.conftest import SandboxHandle, start_sandbox
from twilio.base.exceptions import (
    TwilioConnectionError,
    TwilioException,
    TwilioRestException,
    TwilioTimeoutError,
)
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.rest import Client

TO, FROM = "+" + HUMAN, "+" + CALLER_ID


def sdk(url: str, key: str = TEST_KEY, **kwargs: Any) -> Client:
    return Client("AC1", key, base_url=url, environment={}, backoff=0.01, **kwargs)


def makecall_count(sandbox: SandboxHandle) -> int:
    return len(sandbox.calls())


def test_an_unknown_key_is_20003(sandbox: SandboxHandle) -> None:
    with pytest.raises(TwilioRestException) as raised:
        sdk(sandbox.url, key="ak_wrong_key").calls.create(to=TO, from_=FROM)
    assert (raised.value.status, raised.value.code, raised.value.msg) == (
        401,
        20003,
        "unknown API key",
    )
    assert raised.value.method == "POST"
    assert raised.value.uri == sandbox.url + "/makecall"


def test_no_credits_is_20429() -> None:
    thread = start_sandbox(make_config(accounts=[Account(TEST_KEY, (CALLER_ID,), 0, "broke")]))
    try:
        with pytest.raises(TwilioRestException) as raised:
            sdk(thread.url).calls.create(to=TO, from_=FROM)
        assert (raised.value.status, raised.value.code) == (402, 20429)
        assert "insufficient credits" in raised.value.msg
    finally:
        thread.stop()


def test_a_throttled_makecall_is_20429_and_not_retried(
    client: Client, sandbox: SandboxHandle
) -> None:
    sandbox.faults(throttle={"rate": 1, "count": 1})
    with pytest.raises(TwilioRestException) as raised:
        client.calls.create(to=TO, from_=FROM)
    assert (raised.value.status, raised.value.code) == (429, 20429)
    client.calls.create(to=TO, from_=FROM)
    assert makecall_count(sandbox) == 1
    assert sandbox.requests_received("/makecall") == 2


def test_a_server_error_on_makecall_is_20500_and_never_retried(
    client: Client, sandbox: SandboxHandle
) -> None:
    sandbox.faults(error={"rate": 1, "count": 1})
    with pytest.raises(TwilioRestException) as raised:
        client.calls.create(to=TO, from_=FROM)
    assert (raised.value.status, raised.value.code) == (500, 20500)
    assert makecall_count(sandbox) == 0  # nothing was dialled...
    assert sandbox.requests_received("/makecall") == 1  # ...and it was not sent again


def test_a_get_is_retried_through_server_errors_and_throttling(
    client: Client, sandbox: SandboxHandle
) -> None:
    sid = client.calls.create(to=TO, from_=FROM).sid
    sandbox.faults(error={"rate": 1, "count": 1}, throttle={"rate": 1, "count": 1})
    assert client.calls(sid).fetch().sid == sid
    assert sandbox.requests_received(f"/calls/{sid}") == 3


def test_a_get_gives_up_after_its_retries(client: Client, sandbox: SandboxHandle) -> None:
    sid = client.calls.create(to=TO, from_=FROM).sid
    sandbox.faults(error={"rate": 1, "count": 3})  # 1 try + 2 retries
    with pytest.raises(TwilioRestException) as raised:
        client.calls(sid).fetch()
    assert raised.value.code == 20500


def test_a_stalled_makecall_times_out_and_is_not_sent_again(sandbox: SandboxHandle) -> None:
    sandbox.faults(stall={"rate": 1, "count": 1}, stall_ms=1500)
    with pytest.raises(TwilioTimeoutError) as raised:
        sdk(sandbox.url, timeout=0.3).calls.create(to=TO, from_=FROM)
    assert raised.value.request_sent is True
    assert raised.value.msg.startswith(
        f"cannot reach the Kaphila API at POST {sandbox.url}/makecall: no answer within 0.3 s"
    )
    import time

    time.sleep(1.6)  # past the stall: a retry would have arrived by now
    assert sandbox.requests_received("/makecall") == 1


def test_a_stalled_get_is_retried_after_its_timeout(client: Client, sandbox: SandboxHandle) -> None:
    sid = client.calls.create(to=TO, from_=FROM).sid
    sandbox.faults(stall={"rate": 1, "count": 1}, stall_ms=1500)
    assert sdk(sandbox.url, timeout=0.3).calls(sid).fetch().sid == sid


def test_a_dead_server_names_the_url_and_the_cause() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(TwilioConnectionError) as raised:
        sdk(dead).calls.create(to=TO, from_=FROM)
    assert raised.value.msg == (
        f"cannot reach the Kaphila API at POST {dead}/makecall: connection refused"
    )
    assert raised.value.request_sent is False
    assert isinstance(raised.value, TwilioException)


def test_the_key_never_appears_in_logs_or_errors(
    sandbox: SandboxHandle, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = sdk(sandbox.url)
    sid = client.calls.create(to=TO, from_=FROM).sid
    client.calls(sid).fetch()
    with pytest.raises(TwilioRestException) as raised:
        client.calls.create(to="+" + "1" * 16, from_=FROM)
    lines = [record.getMessage() for record in caplog.records]
    assert any("POST " + sandbox.url + "/makecall" in line for line in lines), (
        "DEBUG logging shows each request"
    )
    assert any("-> 200" in line for line in lines), "DEBUG logging shows each response"
    assert all(TEST_KEY not in line for line in lines)
    assert any("Bearer [redacted]" in line for line in lines)
    assert TEST_KEY not in str(raised.value) + repr(raised.value)


class RecordingHttpClient(HttpClient):
    """A custom http_client with Twilio's interface, answering from a script."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[dict[str, Any]] = []

    def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        self.requests.append({"method": method, "uri": uri, "data": data, "headers": headers})
        return Response(
            200,
            '{"success": true, "callId": "42.1", "status": "ringing", '
            '"credits": 7, "timestamp": "2026-01-01T00:00:00.000Z"}',
        )


def test_a_custom_http_client_with_twilios_interface_is_used() -> None:
    transport = RecordingHttpClient()
    client = Client(
        "AC1", TEST_KEY, http_client=transport, environment={}, base_url="http://127.0.0.1:9"
    )
    call = client.calls.create(to=TO, from_=FROM, url="http://127.0.0.1:9/hook")
    # Stop the worker that waits for the call's answer to fetch url: this transport
    # never gives one.
    client.close()
    assert call.sid == "42.1"
    probe, sent = transport.requests[:2]
    # First, once per client: is the base URL a Kaphila gateway? (This answer says no.)
    assert (probe["method"], probe["uri"]) == (
        "GET",
        "http://127.0.0.1:9/.well-known/kaphila-gateway",
    )
    assert (sent["method"], sent["uri"]) == ("POST", "http://127.0.0.1:9/makecall")
    assert sent["headers"]["Authorization"] == f"Bearer {TEST_KEY}"
    assert sent["headers"]["Content-Type"] == "application/json"
    assert sent["headers"]["User-Agent"].startswith("kaphila-twilio-python/")
    import json

    assert json.loads(sent["data"]) == {
        "number": HUMAN,
        "callerId": CALLER_ID,
        "webhookUrl": "http://127.0.0.1:9/hook",
        "useAmd": False,
    }


def test_a_non_json_answer_is_a_clear_error() -> None:
    class HtmlClient(RecordingHttpClient):
        def request(self, *args: Any, **kwargs: Any) -> Response:
            return Response(502, "<html>Bad gateway</html>")

    client = Client(
        "AC1", TEST_KEY, http_client=HtmlClient(), environment={}, base_url="http://127.0.0.1:9"
    )
    with pytest.raises(TwilioRestException) as raised:
        client.calls.create(to=TO, from_=FROM)
    assert (raised.value.status, raised.value.code) == (502, 20503)
    assert raised.value.msg == "HTTP 502: <html>Bad gateway</html>"


def test_the_rest_exception_keeps_twilios_constructor_and_str() -> None:
    error = TwilioRestException(404, "/x", "not here", 20404, "GET", {"a": 1})
    assert (error.status, error.uri, error.msg, error.code, error.method, error.details) == (
        404,
        "/x",
        "not here",
        20404,
        "GET",
        {"a": 1},
    )
    assert str(error) == "HTTP 404 error: not here"


# ------------------------------------------------ a key that cannot travel, a server that echoes


@pytest.mark.parametrize(
    "key",
    ["ak_live_abc\r\nX-Evil: 1", "ak_live_abc\n", "ak live", "ak_live_\x00abc", "ak_lïve_abc"],
)
def test_a_key_that_cannot_be_sent_is_refused_without_repeating_it(key: str) -> None:
    with pytest.raises(TwilioException) as raised:
        Client("AC1", key, base_url="http://127.0.0.1:9", environment={})
    assert "line break" in raised.value.msg
    assert "ak_live_abc" not in str(raised.value)
    assert "abc" not in repr(raised.value.args)


def test_an_error_that_echoes_the_key_is_redacted_and_no_debug_line_has_it(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import json

    from flask import Flask, request

    app = Flask("echo")
    key = 'ak_live_"quoted\\back'  # JSON and repr escape it: both forms must go

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
        sdk(server.url, key=key).calls.create(to=TO, from_=FROM)
    assert "[redacted]" in raised.value.msg
    everything = [raised.value.msg, str(raised.value), repr(raised.value.args)]
    everything += [r.getMessage() for r in caplog.records]
    for text in everything:
        for form in (key, json.dumps(key)[1:-1], repr(key)[1:-1]):
            assert form not in text
