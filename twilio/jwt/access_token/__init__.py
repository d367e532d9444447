"""Twilio's ``AccessToken``: the JWT its client SDKs (Voice, Chat, Video, Sync
...) take, with grants from ``twilio.jwt.access_token.grants``. Byte-identical
to twilio-python 9.x for the same moment (the token carries ``int(time.time())``).
"""

from __future__ import annotations

import time
from typing import Any

from twilio.jwt import Jwt


class AccessTokenGrant:
    """A grant giving access to a Twilio resource."""

    @property
    def key(self) -> str:
        """The grant's key in the token's ``grants`` claim."""
        raise NotImplementedError("Grant must have a key property.")

    def to_payload(self) -> Any:
        raise NotImplementedError("Grant must implement to_payload.")

    def __str__(self) -> str:
        return f"<{type(self).__name__} {self.to_payload()}>"


class AccessToken(Jwt):
    """An access token holding one or more grants."""

    ALGORITHM = "HS256"

    def __init__(
        self,
        account_sid: str,
        signing_key_sid: str,
        secret: str,
        grants: list[AccessTokenGrant] | None = None,
        identity: str | None = None,
        nbf: Any = Jwt.GENERATE,
        ttl: int = 3600,
        valid_until: int | None = None,
        region: str | None = None,
    ) -> None:
        grants = grants or []
        if any(not isinstance(g, AccessTokenGrant) for g in grants):
            raise ValueError("Grants must be instances of AccessTokenGrant.")
        self.account_sid = account_sid
        self.signing_key_sid = signing_key_sid
        self.identity = identity
        self.region = region
        self.grants = grants
        super().__init__(
            secret_key=secret,
            algorithm=self.ALGORITHM,
            issuer=signing_key_sid,
            subject=self.account_sid,
            nbf=nbf,
            ttl=ttl,
            valid_until=valid_until,
        )

    def add_grant(self, grant: AccessTokenGrant) -> None:
        """Add a grant to this token."""
        if not isinstance(grant, AccessTokenGrant):
            raise ValueError("Grant must be an instance of AccessTokenGrant.")
        self.grants.append(grant)

    def _generate_headers(self) -> dict[str, Any]:
        headers = {"cty": "twilio-fpa;v=1"}
        if self.region and isinstance(self.region, str):
            headers["twr"] = self.region
        return headers

    def _generate_payload(self) -> dict[str, Any]:
        now = int(time.time())
        grants: dict[str, Any] = {grant.key: grant.to_payload() for grant in self.grants}
        if self.identity:
            grants["identity"] = self.identity
        return {"jti": f"{self.signing_key_sid}-{now}", "grants": grants}

    def __str__(self) -> str:
        return f"<{type(self).__name__} {self.to_jwt()}>"


__all__ = ["AccessToken", "AccessTokenGrant"]
