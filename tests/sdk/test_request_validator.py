"""RequestValidator on Twilio's published test vector."""

from __future__ import annotations

import pytest

from twilio import RequestValidator
from twilio.request_validator import HMAC_SHA256, get_signature_algorithm

# Twilio's documented example ("Validating requests"): token, URL, params, signature.
TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}
SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_the_published_vector_computes_and_validates() -> None:
    validator = RequestValidator(TOKEN)
    assert validator.compute_signature(URL, PARAMS) == SIGNATURE
    assert validator.validate(URL, PARAMS, SIGNATURE)


def test_a_changed_parameter_or_token_fails() -> None:
    assert not RequestValidator(TOKEN).validate(URL, {**PARAMS, "Digits": "9999"}, SIGNATURE)
    assert not RequestValidator("54321").validate(URL, PARAMS, SIGNATURE)


def test_the_url_is_accepted_with_or_without_its_default_port() -> None:
    validator = RequestValidator(TOKEN)
    with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
    assert validator.validate(with_port, PARAMS, SIGNATURE)
    signed_with_port = validator.compute_signature(with_port, PARAMS)
    assert validator.validate(URL, PARAMS, signed_with_port)


def test_multi_valued_parameters_are_sorted_values() -> None:
    class MultiDict(dict[str, list[str]]):
        def getall(self, key: str) -> list[str]:
            return self[key]

    signature = RequestValidator(TOKEN).compute_signature(URL, MultiDict(A=["2", "1"]))
    import base64
    import hashlib
    import hmac

    expected = base64.b64encode(
        hmac.new(b"12345", (URL + "A1A2").encode(), hashlib.sha1).digest()
    ).decode()
    assert signature == expected


def test_json_bodies_are_covered_by_body_sha256() -> None:
    validator = RequestValidator(TOKEN)
    body = '{"property": "value", "boolean": true}'
    url = URL + "&bodySHA256=" + validator.compute_hash(body)
    signature = validator.compute_signature(url, {})
    assert validator.validate(url, body, signature)
    assert not validator.validate(url, body.replace("true", "false"), signature)


def test_sha256_signatures_and_unknown_algorithms() -> None:
    validator = RequestValidator(TOKEN)
    signature = validator.compute_signature(URL, PARAMS, HMAC_SHA256)
    assert validator.validate(URL, PARAMS, signature, algorithm=HMAC_SHA256)
    assert not validator.validate(URL, PARAMS, signature, algorithm="MD5")
    with pytest.raises(ValueError, match="Unsupported"):
        validator.compute_signature(URL, PARAMS, "MD5")
    assert get_signature_algorithm("key=k1,algorithm=HMAC_SHA256") == HMAC_SHA256
    assert get_signature_algorithm(None) == "HMAC_SHA1"
