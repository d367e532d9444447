"""Twilio's webhook signature check: HMAC-SHA1 (or SHA256) over the URL plus
the sorted POST parameters, base64; a JSON body is covered by a
``bodySHA256`` query parameter instead. The URL is tried with and without its
default port, as Twilio's own validator does."""

from __future__ import annotations

import base64
import hmac
import logging
from collections.abc import Callable
from hashlib import sha1, sha256
from typing import Any
from urllib.parse import ParseResult, parse_qs, urlparse

logger = logging.getLogger("twilio.request_validator")

SIGNATURE_HEADER = "X-Twilio-Signature"
SIGNATURE_SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"
HMAC_SHA1 = "HMAC_SHA1"
HMAC_SHA256 = "HMAC_SHA256"
_HASH_FUNCTIONS: dict[str, Callable[..., Any]] = {HMAC_SHA1: sha1, HMAC_SHA256: sha256}


def compare(string1: str, string2: str) -> bool:
    """Constant-time string comparison."""
    return hmac.compare_digest(string1.encode("utf-8"), string2.encode("utf-8"))


def remove_port(uri: ParseResult) -> str:
    if not uri.port:
        return uri.geturl()
    return uri._replace(netloc=uri.netloc.split(":")[0]).geturl()


def add_port(uri: ParseResult) -> str:
    if uri.port:
        return uri.geturl()
    port = 443 if uri.scheme == "https" else 80
    return uri._replace(netloc=f"{uri.netloc}:{port}").geturl()


def get_signature_algorithm(signature_settings_header: str | None) -> str:
    """The algorithm named in X-Twilio-Webhooks-Signature-Settings (default HMAC_SHA1)."""
    for part in (signature_settings_header or "").split(","):
        name, separator, value = part.partition("=")
        if separator and name.strip() == "algorithm" and value.strip():
            return value.strip()
    return HMAC_SHA1


class RequestValidator:
    def __init__(self, token: str) -> None:
        self.token = token.encode("utf-8")

    def compute_signature(self, uri: str, params: Any, algorithm: str | None = None) -> str:
        hash_function = _HASH_FUNCTIONS.get((algorithm or HMAC_SHA1).upper())
        if hash_function is None:
            raise ValueError(f"Unsupported webhook signature algorithm: {algorithm}")
        signed = uri
        if params:
            for name in sorted(set(params)):
                for value in sorted(set(self.get_values(params, name))):
                    signed += name + value
        mac = hmac.new(self.token, signed.encode("utf-8"), hash_function)
        return base64.b64encode(mac.digest()).decode("utf-8").strip()

    def get_values(self, param_dict: Any, param_name: str) -> list[str]:
        for getter in ("getall", "getlist"):  # Flask/aiohttp MultiDict, Django QueryDict
            method = getattr(param_dict, getter, None)
            if callable(method):
                return list(method(param_name))
        return [param_dict[param_name]]

    def compute_hash(self, body: str) -> str:
        return sha256(body.encode("utf-8")).hexdigest().strip()

    def validate(self, uri: str, params: Any, signature: str, algorithm: str | None = None) -> bool:
        """True when ``signature`` (the X-Twilio-Signature header) signs this request."""
        if (algorithm or HMAC_SHA1).upper() not in _HASH_FUNCTIONS:
            logger.warning("Unsupported webhook signature algorithm %r", algorithm)
            return False
        if params is None:
            params = {}
        parsed = urlparse(uri)
        valid_body_hash = True
        query = parse_qs(parsed.query)
        if "bodySHA256" in query and isinstance(params, str):
            valid_body_hash = compare(self.compute_hash(params), query["bodySHA256"][0])
            params = {}
        without_port = compare(
            self.compute_signature(remove_port(parsed), params, algorithm), signature
        )
        with_port = compare(self.compute_signature(add_port(parsed), params, algorithm), signature)
        return valid_body_hash and (without_port or with_port)
