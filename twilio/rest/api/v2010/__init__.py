"""Twilio's ``V2010`` version of the Api domain: ``.account`` and ``.accounts``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from twilio import kaphila

if TYPE_CHECKING:
    from twilio.rest.api import Api
    from twilio.rest.api.v2010.account import AccountContext, AccountList


class V2010:
    def __init__(self, domain: Api) -> None:
        self.domain = domain
        self.version = kaphila.API_VERSION
        self._accounts: AccountList | None = None
        self._account: AccountContext | None = None

    @property
    def accounts(self) -> AccountList:
        if self._accounts is None:
            from twilio.rest.api.v2010.account import AccountList

            self._accounts = AccountList(self)
        return self._accounts

    @property
    def account(self) -> AccountContext:
        """The client's own account (``client.account_sid``)."""
        if self._account is None:
            from twilio.rest.api.v2010.account import AccountContext

            self._account = AccountContext(self, self.domain.twilio.account_sid)
        return self._account

    @account.setter
    def account(self, value: AccountContext) -> None:
        self._account = value

    def __repr__(self) -> str:
        return "<Twilio.Api.V2010>"


__all__ = ["V2010"]
