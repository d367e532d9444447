"""``client.messages``: Kaphila has no SMS. Creating one fails clearly, before
anything is sent; listing finds nothing; a message fetched, updated or
deleted by sid fails clearly too. ``MessageInstance`` exists for code that
names it (type hints, ``isinstance``): Kaphila never returns one."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from twilio.base.exceptions import KaphilaNotSupportedError

if TYPE_CHECKING:
    from twilio.rest import Client

SMS = "SMS"


class MessageInstance:
    """Twilio's message record, with its status names; never made on Kaphila."""

    class Status:
        QUEUED = "queued"
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"
        DELIVERED = "delivered"
        UNDELIVERED = "undelivered"
        RECEIVING = "receiving"
        RECEIVED = "received"
        ACCEPTED = "accepted"
        SCHEDULED = "scheduled"
        READ = "read"
        PARTIALLY_DELIVERED = "partially_delivered"
        CANCELED = "canceled"


class MessageContext:
    """``client.messages(sid)``: there are no messages on Kaphila to act on."""

    def __init__(self, client: Client, sid: str) -> None:
        self._client = client
        self.sid = sid

    def fetch(self) -> MessageInstance:
        raise KaphilaNotSupportedError(SMS, uri=self._uri, method="GET")

    def update(self, *args: Any, **kwargs: Any) -> MessageInstance:
        raise KaphilaNotSupportedError(SMS, uri=self._uri, method="POST")

    def delete(self) -> bool:
        raise KaphilaNotSupportedError(SMS, uri=self._uri, method="DELETE")

    async def fetch_async(self) -> MessageInstance:
        return self.fetch()

    async def update_async(self, *args: Any, **kwargs: Any) -> MessageInstance:
        return self.update(*args, **kwargs)

    async def delete_async(self) -> bool:
        return self.delete()

    @property
    def _uri(self) -> str:
        return f"{self._client.base_url}/messages/{self.sid}"

    def __repr__(self) -> str:
        return f"<Twilio.Api.V2010.MessageContext sid={self.sid}>"


class MessageList:
    def __init__(self, client: Client) -> None:
        self._client = client

    def __repr__(self) -> str:
        return "<Twilio.Api.V2010.MessageList>"

    def __call__(self, sid: str) -> MessageContext:
        return MessageContext(self._client, sid)

    def get(self, sid: str) -> MessageContext:
        return MessageContext(self._client, sid)

    def create(self, *args: Any, **kwargs: Any) -> MessageInstance:
        raise KaphilaNotSupportedError(SMS, uri=self._client.base_url + "/messages")

    def list(self, *args: Any, **kwargs: Any) -> list[MessageInstance]:
        return []

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[MessageInstance]:
        return iter(())

    async def create_async(self, *args: Any, **kwargs: Any) -> MessageInstance:
        return self.create(*args, **kwargs)

    async def list_async(self, *args: Any, **kwargs: Any) -> builtins.list[MessageInstance]:
        return []

    async def stream_async(self, *args: Any, **kwargs: Any) -> AsyncIterator[MessageInstance]:
        return _nothing()


async def _nothing() -> AsyncIterator[MessageInstance]:
    return
    yield  # an async generator that yields nothing
