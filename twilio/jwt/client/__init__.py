"""Twilio's ``ClientCapabilityToken``: the legacy capability token of Twilio
Client (scope URIs signed with the auth token), as twilio-python 9.x builds it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from twilio.jwt import Jwt


class ClientCapabilityToken(Jwt):
    """A token to control permissions with Twilio Client."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        nbf: Any = Jwt.GENERATE,
        ttl: int = 3600,
        valid_until: int | None = None,
        **kwargs: Any,
    ) -> None:
        # Twilio's passes valid_until=None on: the token's life is ttl.
        super().__init__(
            algorithm="HS256",
            secret_key=auth_token,
            issuer=account_sid,
            nbf=nbf,
            ttl=ttl,
            valid_until=None,
        )
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.client_name: str | None = None
        self.capabilities: dict[str, ScopeURI] = {}
        if "allow_client_outgoing" in kwargs:
            self.allow_client_outgoing(**kwargs["allow_client_outgoing"])
        if "allow_client_incoming" in kwargs:
            self.allow_client_incoming(**kwargs["allow_client_incoming"])
        if "allow_event_stream" in kwargs:
            self.allow_event_stream(**kwargs["allow_event_stream"])

    def allow_client_outgoing(self, application_sid: str, **kwargs: Any) -> None:
        """Allow outgoing connections to ``application_sid``; keyword arguments are
        passed to the application."""
        scope = ScopeURI("client", "outgoing", {"appSid": application_sid})
        if kwargs:
            scope.add_param("appParams", urlencode(kwargs, doseq=True))
        self.capabilities["outgoing"] = scope

    def allow_client_incoming(self, client_name: str) -> None:
        """Allow incoming connections to ``client_name``."""
        self.client_name = client_name
        self.capabilities["incoming"] = ScopeURI("client", "incoming", {"clientName": client_name})

    def allow_event_stream(self, **kwargs: Any) -> None:
        """Allow access to the account's event stream."""
        scope = ScopeURI("stream", "subscribe", {"path": "/2010-04-01/Events"})
        if kwargs:
            scope.add_param("params", urlencode(kwargs, doseq=True))
        self.capabilities["events"] = scope

    def _generate_payload(self) -> dict[str, Any]:
        if "outgoing" in self.capabilities and self.client_name is not None:
            self.capabilities["outgoing"].add_param("clientName", self.client_name)
        scope_uris = [scope_uri.to_payload() for scope_uri in self.capabilities.values()]
        return {"scope": " ".join(scope_uris)}


class ScopeURI:
    """One capability granted to Twilio Client, scoped to a service."""

    def __init__(self, service: str, privilege: str, params: dict[str, Any] | None = None) -> None:
        self.service = service
        self.privilege = privilege
        self.params = params or {}

    def add_param(self, key: str, value: Any) -> None:
        self.params[key] = value

    def to_payload(self) -> str:
        param_string = ""
        if self.params:
            param_string = "?" + urlencode(sorted(self.params.items()))
        return f"scope:{self.service}:{self.privilege}{param_string}"

    def __str__(self) -> str:
        return f"<ScopeURI {self.to_payload()}>"


__all__ = ["ClientCapabilityToken", "ScopeURI"]
