"""Malformed input never produces a 500 and never stops the server (hypothesis)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.sandbox import SandboxThread
from tests.helpers import CALLER_ID, HUMAN, TEST_KEY
from tests.sandbox.conftest import make_config

ENDPOINTS = ["/makecall", "/forwardcall", "/voice", "/gather", "/hangup"]
FIELDS = [
    "number",
    "callerId",
    "webhookUrl",
    "useAmd",
    "voiceName",
    "ringTimeout",
    "record",
    "callId",
    "forwardNumber",
    "text",
    "playTo",
    "numDigits",
    "timeout",
    "finishOnKey",
    "validDigits",
]
EXPECTED = {200, 400, 401, 402, 404, 413, 429}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
field_bodies = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=8)
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, requests.Session]]:
    # No webhook receiver: calls are placed without webhookUrl or to loopback only.
    with SandboxThread(make_config(max_body_bytes=4096)) as sandbox, requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {TEST_KEY}"
        # Bodies go to the JSON parser, not to the Content-Type check (415).
        session.headers["Content-Type"] = "application/json"
        yield sandbox.url, session


def check(response: requests.Response) -> None:
    assert response.status_code in EXPECTED, (response.status_code, response.text)
    body = response.json()
    assert isinstance(body, dict)
    if response.status_code != 200:
        assert body["success"] is False
        assert isinstance(body["error"], str)
        assert body["error"]


def loopback_only(body: dict[str, Any]) -> dict[str, Any]:
    # A fuzzed webhookUrl could name any host; the sandbox would then try it.
    if isinstance(body.get("webhookUrl"), str):
        body["webhookUrl"] = "http://127.0.0.1:9/hook"
    return body


@FUZZ
@given(endpoint=st.sampled_from(ENDPOINTS), body=field_bodies)
def test_wrongly_typed_fields_get_a_clear_4xx(
    server: tuple[str, requests.Session], endpoint: str, body: dict[str, Any]
) -> None:
    url, session = server
    check(session.post(url + endpoint, data=json.dumps(loopback_only(body)), timeout=5))


@FUZZ
@given(endpoint=st.sampled_from(ENDPOINTS), body=json_values)
def test_any_json_value_gets_a_clear_answer(
    server: tuple[str, requests.Session], endpoint: str, body: Any
) -> None:
    url, session = server
    if isinstance(body, dict):
        body = loopback_only(body)
    check(session.post(url + endpoint, data=json.dumps(body), timeout=5))


@FUZZ
@given(endpoint=st.sampled_from(ENDPOINTS), raw=st.binary(max_size=6000))
def test_arbitrary_bytes_get_a_clear_answer(
    server: tuple[str, requests.Session], endpoint: str, raw: bytes
) -> None:
    url, session = server
    check(session.post(url + endpoint, data=raw, timeout=5))


@FUZZ
@given(digits=st.text(max_size=80), call_id=st.text(min_size=1, max_size=20))
def test_control_api_press_is_safe_too(
    server: tuple[str, requests.Session], digits: str, call_id: str
) -> None:
    url, session = server
    response = session.post(
        url + f"/sandbox/calls/{requests.utils.quote(call_id, safe='')}/press",
        json={"digits": digits},
        timeout=5,
    )
    # "." or ".." as an id is normalised away by the client, leaving another path:
    # any clear 4xx will do, never a 5xx.
    assert response.status_code in {400, 404, 405}, response.text
    assert response.json()["success"] is False


def test_the_server_still_serves_after_the_fuzzing(server: tuple[str, requests.Session]) -> None:
    url, session = server
    response = session.post(
        url + "/makecall", json={"number": HUMAN, "callerId": CALLER_ID}, timeout=5
    )
    assert response.status_code == 200
    assert session.get(url + "/sandbox/health", timeout=5).json()["success"] is True
