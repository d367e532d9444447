"""``client.messages``: Kaphila has no SMS. Creating one fails clearly, before
anything is sent; listing finds nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twilio.base.exceptions import KaphilaNotSupportedError

if TYPE_CHECKING:
    from twilio.rest import Client


class MessageList:
    def __init__(self, client: Client) -> None:
        self._client = client

    def __repr__(self) -> str:
        return "<Twilio.Api.V2010.MessageList>"

    def create(self, *args: Any, **kwargs: Any) -> Any:
        raise KaphilaNotSupportedError("SMS", uri=self._client.base_url + "/messages")

    def list(self, *args: Any, **kwargs: Any) -> list[Any]:
        return []

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        return iter(())
