"""Twilio's long paths (client.api.account.calls, client.api.v2010.accounts(sid)...)
and the module paths type hints import, against the sandbox over loopback."""

from __future__ import annotations

import importlib

import pytest

from tests.helpers import CALLER_ID, HUMAN
from tests.sdk.conftest import SandboxHandle
from twilio.base.exceptions import KaphilaCompatibilityWarning, KaphilaNotSupportedError
from twilio.rest import Client

TO, FROM = "+" + HUMAN, "+" + CALLER_ID
OTHER_ACCOUNT = "AC" + "2" * 32


def test_api_account_calls_is_the_clients_call_list(client: Client) -> None:
    assert client.api.account.calls is client.calls
    assert client.api.v2010.account.calls is client.calls
    assert client.api.v2010.accounts(client.account_sid).calls is client.calls


def test_a_call_created_through_the_account_path_reaches_kaphila(
    client: Client, sandbox: SandboxHandle
) -> None:
    call = client.api.v2010.accounts(client.account_sid).calls.create(
        to=TO, from_=FROM, url="http://127.0.0.1:9/hook"
    )
    record = sandbox.call(call.sid)
    assert (record["number"], record["callerId"]) == (HUMAN, CALLER_ID)
    assert call.account_sid == client.account_sid


def test_a_call_fetched_and_ended_through_the_account_path(
    client: Client, sandbox: SandboxHandle
) -> None:
    sid = client.api.account.calls.create(to=TO, from_=FROM).sid
    calls = client.api.v2010.accounts(client.account_sid).calls
    assert calls(sid).fetch().status == "ringing"
    assert calls(sid).update(status="completed").status in ("canceled", "completed")
    assert sandbox.call(sid)["status"] in ("canceled", "completed")


def test_another_account_sid_acts_as_the_clients_account_and_says_so(
    client: Client, sandbox: SandboxHandle
) -> None:
    with pytest.warns(KaphilaCompatibilityWarning, match=f"account {OTHER_ACCOUNT} acts as"):
        account = client.api.v2010.accounts(OTHER_ACCOUNT)
    assert account.calls is client.calls
    call = account.calls.create(to=TO, from_=FROM)
    assert sandbox.call(call.sid)["callerId"] == CALLER_ID
    assert repr(account) == f"<Twilio.Api.V2010.AccountContext sid={OTHER_ACCOUNT}>"


def test_messages_on_the_account_path_refuse_sms_before_sending(
    client: Client, sandbox: SandboxHandle
) -> None:
    assert client.api.account.messages is client.messages
    assert client.api.v2010.accounts(client.account_sid).messages is client.messages
    with pytest.raises(KaphilaNotSupportedError, match="SMS is not supported by Kaphila"):
        client.api.account.messages.create(to=TO, from_=FROM, body="hi")
    with pytest.raises(KaphilaNotSupportedError, match="SMS is not supported by Kaphila"):
        client.api.account.messages("SM" + "0" * 32).fetch()
    assert client.api.account.messages.list() == []
    assert sandbox.requests_received("/messages") == 0


def test_the_deprecated_shortcut_warns_as_twilio_does(client: Client) -> None:
    with pytest.warns(DeprecationWarning, match=r"calls is deprecated\. Use account\.calls"):
        calls = client.api.calls
    assert calls is client.calls


def test_accounts_themselves_are_not_supported(client: Client) -> None:
    with pytest.raises(KaphilaNotSupportedError, match="Fetching an account is not supported"):
        client.api.account.fetch()
    with pytest.raises(KaphilaNotSupportedError, match="Creating a sub-account"):
        client.api.accounts.create(friendly_name="tenant")


def test_an_account_resource_kaphila_lacks_is_named_in_the_attribute_error(
    client: Client,
) -> None:
    with pytest.raises(AttributeError, match="conferences is not supported by Kaphila"):
        _ = client.api.account.conferences
    assert not hasattr(client.api.account, "queues")


def test_reprs_are_twilios(client: Client) -> None:
    assert repr(client.api) == "<Twilio.Api>"
    assert repr(client.api.v2010) == "<Twilio.Api.V2010>"
    assert repr(client.api.accounts) == "<Twilio.Api.V2010.AccountList>"
    assert repr(client.api.account) == (
        f"<Twilio.Api.V2010.AccountContext sid={client.account_sid}>"
    )


def test_type_hint_import_paths_name_the_sdks_classes() -> None:
    from twilio.rest.api.v2010.account import AccountContext, AccountList
    from twilio.rest.api.v2010.account.call import CallContext, CallInstance, CallList
    from twilio.rest.api.v2010.account.message import MessageInstance, MessageList
    from twilio.rest.api.v2010.account.recording import RecordingInstance, RecordingList
    from twilio.rest.calls import CallContext as Context
    from twilio.rest.calls import CallInstance as Instance
    from twilio.rest.calls import CallList as List
    from twilio.rest.messages import MessageList as Messages
    from twilio.rest.recordings import RecordingList as Recordings

    assert (CallContext, CallInstance, CallList) == (Context, Instance, List)
    assert (MessageList, RecordingList) == (Messages, Recordings)
    assert MessageInstance.Status.DELIVERED == "delivered"
    assert RecordingInstance.__name__ == "RecordingInstance"
    assert (AccountContext.__name__, AccountList.__name__) == ("AccountContext", "AccountList")


def test_twilio_rest_api_is_the_api_package_and_kaphila_api_moved(client: Client) -> None:
    api_package = importlib.import_module("twilio.rest.api")
    from twilio.rest.kaphila_api import KaphilaApi

    assert hasattr(api_package, "__path__")  # a package, as in Twilio's SDK
    assert isinstance(client.api, api_package.Api)
    assert isinstance(client.kaphila, KaphilaApi)
    assert not hasattr(api_package, "KaphilaApi")
