"""``twilio.rest.Client`` on the Kaphila API.

Twilio's signature, plus ``base_url`` (default ``KAPHILA_BASE_URL`` or
https://kaphila.com), ``timeout`` (seconds per request), ``max_retries``
(safe retries only) and ``amd_not_sure_as`` ("human", as the SDK document
says, or "unknown"). The auth token is the Kaphila API key.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from twilio import kaphila
from twilio.base.exceptions import KaphilaCompatibilityWarning, TwilioException

if TYPE_CHECKING:
    from twilio.http import HttpClient
    from twilio.rest.api import Api
    from twilio.rest.calls import CallList, CallStore
    from twilio.rest.kaphila_api import KaphilaApi
    from twilio.rest.messages import MessageList
    from twilio.rest.recordings import RecordingList
    from twilio.rest.twiml_runner import TwimlRunner

PLACEHOLDER_ACCOUNT_SID = "AC" + "0" * 32
SDK_VERSION = "9.13.0"


class Client:
    def __init__(
        self,
        username: str | None = None,
        password: str | None = None,
        account_sid: str | None = None,
        region: str | None = None,
        http_client: HttpClient | None = None,
        environment: Mapping[str, str] | None = None,
        edge: str | None = None,
        user_agent_extensions: list[str] | None = None,
        credential_provider: Any | None = None,
        *,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int = 2,
        backoff: float = 0.25,
        amd_not_sure_as: str = "human",
    ) -> None:
        env = os.environ if environment is None else environment
        self.username = username or env.get("TWILIO_ACCOUNT_SID")
        self.password = password or env.get("TWILIO_AUTH_TOKEN")
        if not self.password:
            if credential_provider is not None:
                raise TwilioException(
                    "credential_provider (OAuth) is not supported by "
                    "Kaphila: pass the Kaphila API key as the auth token"
                )
            raise TwilioException(
                "Credentials are required to create a TwilioClient: "
                "set TWILIO_AUTH_TOKEN (or pass the auth token) to your "
                "Kaphila API key"
            )
        if not kaphila.valid_key(self.password):
            # Never in the message: a key with a line break would split the
            # Authorization header, and error texts end up on screens and in logs.
            raise TwilioException(
                "The API key contains a line break, a space or another "
                "character that cannot be sent; enter it again"
            )
        if amd_not_sure_as not in ("human", "unknown"):
            raise TwilioException("amd_not_sure_as must be 'human' or 'unknown'")
        self.account_sid = account_sid or self.username or PLACEHOLDER_ACCOUNT_SID
        self.region = region
        self.edge = edge
        self.base_url = (
            base_url or env.get(kaphila.BASE_URL_ENV) or kaphila.DEFAULT_BASE_URL
        ).rstrip("/")
        self.amd_not_sure_as = amd_not_sure_as
        self.user_agent_extensions = list(user_agent_extensions or [])
        ignored = [name for name, value in (("region", region), ("edge", edge)) if value]
        if ignored:
            warnings.warn(
                f"Kaphila cannot honour these Twilio parameters: {', '.join(ignored)}",
                KaphilaCompatibilityWarning,
                stacklevel=2,
            )
        user_agent = " ".join(["kaphila-twilio-python/" + SDK_VERSION, *self.user_agent_extensions])
        self._api_args = (http_client, timeout, max_retries, backoff, user_agent)
        self._lock = threading.Lock()
        self._api: KaphilaApi | None = None
        self._api_domain: Api | None = None
        self._calls: CallList | None = None
        self._messages: MessageList | None = None
        self._recordings: RecordingList | None = None
        self._store: CallStore | None = None
        self._runner: TwimlRunner | None = None

    def __repr__(self) -> str:
        # Never the key.
        return f"<Twilio Client {self.account_sid} at {self.base_url}>"

    # ------------------------------------------------------------- resources

    @property
    def kaphila(self) -> KaphilaApi:
        """The Kaphila API door (JSON, auth, errors, retries)."""
        with self._lock:
            if self._api is None:
                from twilio.rest.kaphila_api import KaphilaApi

                http_client, timeout, max_retries, backoff, user_agent = self._api_args
                assert self.password is not None
                self._api = KaphilaApi(
                    self.base_url,
                    self.password,
                    http_client,
                    timeout,
                    max_retries,
                    backoff,
                    user_agent,
                )
            return self._api

    @property
    def http_client(self) -> HttpClient:
        return self.kaphila.http_client

    @property
    def call_store(self) -> CallStore:
        """What this client knows of each call: created here, fetched, or seen in webhooks."""
        with self._lock:
            if self._store is None:
                from twilio.rest.calls import CallStore

                self._store = CallStore()
            return self._store

    @property
    def twiml_runner(self) -> TwimlRunner:
        with self._lock:
            if self._runner is None:
                from twilio.rest.twiml_runner import TwimlRunner

                self._runner = TwimlRunner(self)
            return self._runner

    @property
    def api(self) -> Api:
        """Twilio's ``client.api`` (``.account.calls``, ``.v2010.accounts(sid)``);
        the same resources as ``client.calls`` and ``client.messages``."""
        if self._api_domain is None:
            from twilio.rest.api import Api

            self._api_domain = Api(self)
        return self._api_domain

    @property
    def calls(self) -> CallList:
        if self._calls is None:
            from twilio.rest.calls import CallList

            self._calls = CallList(self)
        return self._calls

    @property
    def messages(self) -> MessageList:
        if self._messages is None:
            from twilio.rest.messages import MessageList

            self._messages = MessageList(self)
        return self._messages

    @property
    def recordings(self) -> RecordingList:
        if self._recordings is None:
            from twilio.rest.recordings import RecordingList

            self._recordings = RecordingList(self)
        return self._recordings

    def close(self) -> None:
        """Close the HTTP session and stop background TwiML work."""
        if self._runner is not None:
            self._runner.close()
        if self._api is not None and self._api._http is not None and not self._api.is_async:
            # An asynchronous http_client is closed by its owner: ``await http_client.close()``.
            close = getattr(self._api._http, "close", None)
            if callable(close):
                close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["Client"]
