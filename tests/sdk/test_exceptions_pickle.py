"""Errors keep Twilio's ``args`` and survive pickling (Celery and
multiprocessing send them between processes)."""

from __future__ import annotations

import pickle

import pytest

from tests.helpers import HUMAN, OTHER_CALLER_ID
from tests.sdk.conftest import SandboxHandle
from twilio.base.exceptions import (
    KaphilaNotSupportedError,
    TwilioConnectionError,
    TwilioException,
    TwilioRestException,
    TwilioTimeoutError,
)
from twilio.rest import Client


def round_trip(error: TwilioException) -> TwilioException:
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes, just made
    assert type(copy) is type(error)
    assert copy.args == error.args
    assert str(copy) == str(error)
    assert vars(copy) == vars(error)
    return copy


def test_rest_exception_args_are_exactly_the_positional_arguments() -> None:
    details = {"success": False, "error": "bad"}
    full = TwilioRestException(400, "/makecall", "bad", 20001, "POST", details)
    assert full.args == (400, "/makecall", "bad", 20001, "POST", details)
    assert TwilioRestException(404, "/calls/1", msg="gone").args == (404, "/calls/1")
    assert TwilioRestException(status=500, uri="/x").args == ()


@pytest.mark.parametrize(
    "error",
    [
        TwilioRestException(400, "/makecall", "bad", 20001, "POST", {"error": "bad"}),
        TwilioRestException(status=404, uri="/calls/1", msg="gone", code=20404),
        TwilioRestException(503, "/calls/2"),
    ],
)
def test_a_rest_exception_pickles_with_everything(error: TwilioRestException) -> None:
    copy = round_trip(error)
    assert isinstance(copy, TwilioRestException)
    assert (copy.status, copy.uri, copy.msg, copy.code, copy.method, copy.details) == (
        error.status,
        error.uri,
        error.msg,
        error.code,
        error.method,
        error.details,
    )


def test_not_supported_pickles_despite_its_own_constructor() -> None:
    error = KaphilaNotSupportedError("SMS", uri="http://127.0.0.1:9/messages")
    assert error.args == ("SMS",)
    copy = round_trip(error)
    assert isinstance(copy, KaphilaNotSupportedError)
    assert (copy.status, copy.msg, copy.uri, copy.method) == (
        501,
        "SMS is not supported by Kaphila",
        "http://127.0.0.1:9/messages",
        "POST",
    )


@pytest.mark.parametrize("kind", [TwilioConnectionError, TwilioTimeoutError])
def test_connection_errors_pickle_with_the_url_cause_and_whether_sent(
    kind: type[TwilioConnectionError],
) -> None:
    error = kind("POST", "http://127.0.0.1:9/makecall", "connection refused")
    error.request_sent = False
    copy = round_trip(error)
    assert isinstance(copy, kind)
    assert (copy.method, copy.uri, copy.cause, copy.request_sent) == (
        "POST",
        "http://127.0.0.1:9/makecall",
        "connection refused",
        False,
    )
    assert copy.msg == "cannot reach the Kaphila API at POST http://127.0.0.1:9/makecall: " + (
        "connection refused"
    )


def test_an_error_raised_by_the_sandbox_pickles(client: Client, sandbox: SandboxHandle) -> None:
    with pytest.raises(TwilioRestException) as raised:
        client.calls.create(to="+" + HUMAN, from_="+" + OTHER_CALLER_ID)
    copy = round_trip(raised.value)
    assert (copy.status, copy.code, copy.msg) == (400, 21210, raised.value.msg)
    with pytest.raises(TwilioRestException) as raised:
        client.calls("no-such-call").fetch()
    copy = round_trip(raised.value)
    assert (copy.status, copy.code, copy.details) == (404, 20404, raised.value.details)
