"""Twilio's ``Jwt``: HS256 JSON Web Tokens, byte-identical to twilio-python 9.x
(which uses PyJWT), written with the standard library only.

The bytes follow PyJWT's rules, which Twilio's output inherits: the header's
keys sorted, the payload's in the order they were set, both as compact JSON
(``ensure_ascii``), base64url without padding, signed with HMAC-SHA256 over
``header.payload``.

Kaphila does not use these tokens; apps that mint them for Twilio's client
SDKs (Voice, Chat, Video ...) keep working unchanged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Any, ClassVar

__all__ = ["Jwt", "JwtDecodeError"]


class JwtDecodeError(Exception):
    pass


class Jwt:
    """Base class for building a Json Web Token."""

    GENERATE: ClassVar[Any] = object()
    ALGORITHM = "HS256"

    def __init__(
        self,
        secret_key: str | None,
        issuer: str | None,
        subject: str | None = None,
        algorithm: str | None = None,
        nbf: Any = GENERATE,
        ttl: int = 3600,
        valid_until: int | None = None,
    ) -> None:
        self.secret_key = secret_key
        """The secret used to sign the JWT."""
        self.issuer = issuer
        """The issuer of this JWT."""
        self.subject = subject
        """The subject of this JWT, left out of the payload when empty."""
        self.algorithm = algorithm or self.ALGORITHM
        """The signing algorithm; only HS256 exists here."""
        self.nbf = nbf
        """Seconds since the epoch before which the JWT is invalid: now (GENERATE,
        the default), a given time, or None for no ``nbf`` claim."""
        self.ttl = ttl
        """Seconds the JWT is valid for, from now."""
        self.valid_until = valid_until
        """Seconds since the epoch when the JWT expires; overrides ``ttl``."""
        self._decoded_payload: dict[str, Any] | None = None
        self._decoded_headers: dict[str, Any] | None = None

    def _generate_payload(self) -> dict[str, Any]:
        """The payload's own claims (``iss``, ``exp``, ``nbf``, ``sub`` are added)."""
        raise NotImplementedError("Subclass must provide a payload.")

    def _generate_headers(self) -> dict[str, Any]:
        """Headers besides ``typ`` and ``alg``."""
        return {}

    @classmethod
    def _from_jwt(
        cls, headers: dict[str, Any], payload: dict[str, Any], key: str | None = None
    ) -> Jwt:
        """A ``Jwt`` holding what was decoded."""
        jwt = Jwt(
            secret_key=key,
            issuer=payload.get("iss"),
            subject=payload.get("sub"),
            algorithm=headers.get("alg"),
            valid_until=payload.get("exp"),
            nbf=payload.get("nbf"),
        )
        jwt._decoded_payload = payload
        jwt._decoded_headers = headers
        return jwt

    @property
    def payload(self) -> dict[str, Any]:
        if self._decoded_payload:
            return self._decoded_payload
        payload = self._generate_payload().copy()
        payload["iss"] = self.issuer
        payload["exp"] = int(time.time()) + self.ttl
        if self.nbf is not None:
            payload["nbf"] = int(time.time()) if self.nbf is self.GENERATE else self.nbf
        if self.valid_until:
            payload["exp"] = self.valid_until
        if self.subject:
            payload["sub"] = self.subject
        return payload

    @property
    def headers(self) -> dict[str, Any]:
        if self._decoded_headers:
            return self._decoded_headers
        headers = self._generate_headers().copy()
        headers["typ"] = "JWT"
        headers["alg"] = self.algorithm
        return headers

    def to_jwt(self, ttl: int | None = None) -> str:
        """Encode this JWT as a string; ``ttl`` overrides the constructor's."""
        if not self.secret_key:
            raise ValueError("JWT does not have a signing key configured.")
        headers = self.headers.copy()
        payload = self.payload.copy()
        if ttl:
            payload["exp"] = int(time.time()) + ttl
        return encode(payload, self.secret_key, self.algorithm, headers)

    @classmethod
    def from_jwt(cls, jwt: str | bytes, key: str = "") -> Jwt:
        """Decode a JWT string. The signature is checked when ``key`` is given;
        ``exp`` and ``nbf`` always are.

        :raises JwtDecodeError: when decoding fails for any reason
        """
        try:
            headers, payload = decode(jwt, key, cls.ALGORITHM)
        except JwtDecodeError:
            raise
        except Exception as exc:  # Twilio wraps every failure in JwtDecodeError
            raise JwtDecodeError(str(exc)) from exc
        return cls._from_jwt(headers, payload, key)

    def __str__(self) -> str:
        return f"<JWT {self.to_jwt()}>"


# ---------------------------------------------------------------- encoding


def base64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def base64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(signing_input: str, secret: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), signing_input.encode("ascii"), hashlib.sha256).digest()


def encode(
    payload: dict[str, Any], secret: str, algorithm: str = "HS256", headers: Any = None
) -> str:
    """PyJWT's ``jwt.encode`` for HS256, as Twilio calls it."""
    if algorithm != "HS256":
        raise NotImplementedError(f"Algorithm not supported: {algorithm}")
    header: dict[str, Any] = {"typ": "JWT", "alg": algorithm}
    if headers:
        header.update(headers)
    header_json = json.dumps(header, separators=(",", ":"), sort_keys=True)
    payload_json = json.dumps(payload, separators=(",", ":"))
    signing_input = (
        base64url_encode(header_json.encode("utf-8"))
        + "."
        + base64url_encode(payload_json.encode("utf-8"))
    )
    return signing_input + "." + base64url_encode(_sign(signing_input, secret))


def decode(jwt: str | bytes, key: str, algorithm: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of ``jwt``, checked as Twilio asks PyJWT to: the
    algorithm, the signature when ``key`` is given, ``exp`` and ``nbf``."""
    if isinstance(jwt, bytes):
        jwt = jwt.decode("utf-8")
    try:
        signing_input, signature_segment = jwt.rsplit(".", 1)
        header_segment, payload_segment = signing_input.split(".", 1)
    except ValueError:
        raise JwtDecodeError("Not enough segments") from None
    header = _segment(header_segment, "header")
    alg = header.get("alg")
    if alg != algorithm:
        raise JwtDecodeError(f"Incorrect decoding algorithm {alg}, expecting {algorithm}.")
    payload = _segment(payload_segment, "payload")
    if key:
        try:
            signature = base64url_decode(signature_segment)
        except (TypeError, binascii.Error):
            raise JwtDecodeError("Invalid crypto padding") from None
        if not hmac.compare_digest(signature, _sign(signing_input, key)):
            raise JwtDecodeError("Signature verification failed")
    now = int(time.time())
    if "exp" in payload and _claim_time(payload, "exp", "Expiration Time") <= now:
        raise JwtDecodeError("Signature has expired")
    if "nbf" in payload and _claim_time(payload, "nbf", "Not Before") > now:
        raise JwtDecodeError("The token is not yet valid (nbf)")
    return header, payload


def _segment(segment: str, name: str) -> dict[str, Any]:
    try:
        raw = base64url_decode(segment)
    except (TypeError, binascii.Error):
        raise JwtDecodeError(f"Invalid {name} padding") from None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise JwtDecodeError(f"Invalid {name} string: {exc}") from exc
    if not isinstance(value, dict):
        raise JwtDecodeError(f"Invalid {name} string: must be a json object")
    return value


def _claim_time(payload: dict[str, Any], claim: str, label: str) -> int:
    try:
        return int(payload[claim])
    except (TypeError, ValueError):
        raise JwtDecodeError(f"{label} claim ({claim}) must be an integer.") from None
