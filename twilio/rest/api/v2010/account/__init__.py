"""Twilio's accounts: ``client.api.v2010.accounts(sid)`` and ``client.api.account``.

Kaphila has one account per API key and no account endpoint. So:

- every ``AccountContext`` acts as the client's account: its ``calls``,
  ``messages`` and ``recordings`` are the client's own objects
  (``client.api.account.calls is client.calls``);
- a sid other than ``client.account_sid`` (a Twilio sub-account) is accepted
  with a ``KaphilaCompatibilityWarning`` that names it: calls placed through it
  are placed, and billed, on the key's account;
- fetching, updating, creating or listing accounts raises
  ``KaphilaNotSupportedError``, before anything is sent.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from twilio.base.exceptions import KaphilaCompatibilityWarning, KaphilaNotSupportedError

if TYPE_CHECKING:
    from twilio.rest import Client
    from twilio.rest.api.v2010 import V2010
    from twilio.rest.calls import CallList
    from twilio.rest.messages import MessageList
    from twilio.rest.recordings import RecordingList

# What Kaphila has of Twilio's account resources.
SUPPORTED = ("calls", "messages", "recordings")


class AccountContext:
    def __init__(self, version: V2010, sid: str) -> None:
        self._version = version
        self._solution = {"sid": sid}
        client = self._client
        if sid != client.account_sid:
            warnings.warn(
                f"Kaphila has one account per API key: account {sid} acts as this "
                f"client's account ({client.account_sid}); calls are placed on the key's account",
                KaphilaCompatibilityWarning,
                stacklevel=3,
            )

    @property
    def _client(self) -> Client:
        return self._version.domain.twilio

    @property
    def calls(self) -> CallList:
        return self._client.calls

    @property
    def messages(self) -> MessageList:
        return self._client.messages

    @property
    def recordings(self) -> RecordingList:
        return self._client.recordings

    def fetch(self) -> Any:
        raise self._refused("Fetching an account", "GET")

    def update(self, *args: Any, **kwargs: Any) -> Any:
        raise self._refused("Updating an account", "POST")

    async def fetch_async(self) -> Any:
        return self.fetch()

    async def update_async(self, *args: Any, **kwargs: Any) -> Any:
        return self.update(*args, **kwargs)

    def _refused(self, what: str, method: str) -> KaphilaNotSupportedError:
        uri = f"/{self._version.version}/Accounts/{self._solution['sid']}.json"
        return KaphilaNotSupportedError(what, uri=uri, method=method)

    def __getattr__(self, name: str) -> Any:
        # Twilio's other account resources (conferences, queues, ...): say why.
        if name.startswith("_"):
            raise AttributeError(name)
        raise AttributeError(
            f"'AccountContext' object has no attribute {name!r}: Kaphila has "
            f"{', '.join(SUPPORTED)} only; Twilio's {name} is not supported by Kaphila"
        )

    def __repr__(self) -> str:
        context = " ".join(f"{k}={v}" for k, v in self._solution.items())
        return f"<Twilio.Api.V2010.AccountContext {context}>"


class AccountList:
    def __init__(self, version: V2010) -> None:
        self._version = version

    def get(self, sid: str) -> AccountContext:
        return AccountContext(self._version, sid)

    def __call__(self, sid: str) -> AccountContext:
        return AccountContext(self._version, sid)

    def create(self, *args: Any, **kwargs: Any) -> Any:
        raise KaphilaNotSupportedError("Creating a sub-account", uri=self._uri, method="POST")

    def list(self, *args: Any, **kwargs: Any) -> Any:
        raise KaphilaNotSupportedError("Listing accounts", uri=self._uri, method="GET")

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        raise KaphilaNotSupportedError("Listing accounts", uri=self._uri, method="GET")

    async def create_async(self, *args: Any, **kwargs: Any) -> Any:
        return self.create(*args, **kwargs)

    async def list_async(self, *args: Any, **kwargs: Any) -> Any:
        return self.list(*args, **kwargs)

    @property
    def _uri(self) -> str:
        return f"/{self._version.version}/Accounts.json"

    def __repr__(self) -> str:
        return "<Twilio.Api.V2010.AccountList>"


__all__ = ["AccountContext", "AccountList"]
