"""``client.api``: Twilio's Api domain, for code written against its paths.

    client.api.account.calls                      # the same object as client.calls
    client.api.v2010.accounts(sid).calls.create(...)
    client.api.v2010.accounts(sid).calls(call_sid).fetch()
    client.api.account.messages                   # client.messages: no SMS on Kaphila

Kaphila has one account per API key, so every account sid reaches the key's
account; a sid other than the client's is named in a
``KaphilaCompatibilityWarning`` (see ``twilio.rest.api.v2010.account``).
The low-level Kaphila door is ``twilio.rest.kaphila_api.KaphilaApi``
(``client.kaphila``).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from twilio.rest import Client
    from twilio.rest.api.v2010 import V2010
    from twilio.rest.api.v2010.account import AccountContext, AccountList
    from twilio.rest.calls import CallList
    from twilio.rest.messages import MessageList
    from twilio.rest.recordings import RecordingList


class Api:
    """Twilio's ``Api`` domain: ``.v2010``, ``.account``, ``.accounts``."""

    def __init__(self, twilio: Client) -> None:
        self.twilio = twilio
        self.base_url = twilio.base_url
        self._v2010: V2010 | None = None

    @property
    def v2010(self) -> V2010:
        if self._v2010 is None:
            from twilio.rest.api.v2010 import V2010

            self._v2010 = V2010(self)
        return self._v2010

    @property
    def account(self) -> AccountContext:
        """The client's own account."""
        return self.v2010.account

    @property
    def accounts(self) -> AccountList:
        return self.v2010.accounts

    # Twilio 9.x keeps these shortcuts with a DeprecationWarning; so do we.

    @property
    def calls(self) -> CallList:
        warnings.warn(
            "calls is deprecated. Use account.calls instead.", DeprecationWarning, stacklevel=2
        )
        return self.account.calls

    @property
    def messages(self) -> MessageList:
        warnings.warn(
            "messages is deprecated. Use account.messages instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.account.messages

    @property
    def recordings(self) -> RecordingList:
        warnings.warn(
            "recordings is deprecated. Use account.recordings instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.account.recordings

    def __repr__(self) -> str:
        return "<Twilio.Api>"


__all__ = ["Api"]
