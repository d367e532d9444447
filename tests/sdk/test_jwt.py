"""twilio.jwt: access tokens and capability tokens as twilio-python 9.x mints
them (HS256, PyJWT's byte layout), checked with hmac/base64/json here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest

from twilio.jwt import Jwt, JwtDecodeError
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import (
    ChatGrant,
    PlaybackGrant,
    SyncGrant,
    TaskRouterGrant,
    VideoGrant,
    VoiceGrant,
)
from twilio.jwt.client import ClientCapabilityToken

ACCOUNT = "AC" + "a" * 32
KEY_SID = "SK" + "b" * 32
APP = "AP" + "c" * 32
SECRET = "api-key-secret-0123456789abcdef"

# What twilio 9.13.0 (with PyJWT) printed for
#   t = AccessToken(ACCOUNT, KEY_SID, SECRET, identity="agent-7", valid_until=4102444800,
#                   region="ie1")
#   t.add_grant(VoiceGrant(incoming_allow=True, outgoing_application_sid=APP,
#                          outgoing_application_params={"queue": "sales"}))
#   t.to_jwt()
# at time.time() == 1700000000.25.
TWILIO_TOKEN = (
    "eyJhbGciOiJIUzI1NiIsImN0eSI6InR3aWxpby1mcGE7dj0xIiwidHdyIjoiaWUxIiwidHlwIjoiSldUIn0."
    "eyJqdGkiOiJTS2JiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiLTE3MDAwMDAwMDAiLCJncmFudHMiOnsi"
    "dm9pY2UiOnsiaW5jb21pbmciOnsiYWxsb3ciOnRydWV9LCJvdXRnb2luZyI6eyJhcHBsaWNhdGlvbl9zaWQiOiJB"
    "UGNjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjIiwicGFyYW1zIjp7InF1ZXVlIjoic2FsZXMifX19LCJp"
    "ZGVudGl0eSI6ImFnZW50LTcifSwiaXNzIjoiU0tiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYiIsImV4"
    "cCI6NDEwMjQ0NDgwMCwibmJmIjoxNzAwMDAwMDAwLCJzdWIiOiJBQ2FhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFh"
    "YWFhYWFhIn0.Od6SUUE0c4oVOTjklow2N3v-iucQ_B5o95dZI2BVYvo"
)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    header, payload, signature = token.split(".")
    return json.loads(unb64url(header)), json.loads(unb64url(payload)), unb64url(signature)


def signature_ok(token: str, secret: str) -> bool:
    signing_input, signature = token.rsplit(".", 1)
    expected = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return hmac.compare_digest(expected, unb64url(signature))


def test_an_access_token_is_twilios_hs256_jwt_byte_for_byte() -> None:
    before = int(time.time())
    token = AccessToken(ACCOUNT, KEY_SID, SECRET, identity="agent-7", ttl=600)
    token.add_grant(VoiceGrant(incoming_allow=True, outgoing_application_sid=APP))
    jwt = token.to_jwt()
    after = int(time.time())

    header, payload, _ = parts(jwt)
    assert signature_ok(jwt, SECRET)
    assert header == {"alg": "HS256", "cty": "twilio-fpa;v=1", "typ": "JWT"}
    issued = int(payload["jti"].rsplit("-", 1)[1])
    assert before <= issued <= after
    assert payload["jti"] == f"{KEY_SID}-{issued}"
    assert (payload["iss"], payload["sub"]) == (KEY_SID, ACCOUNT)
    assert before + 600 <= payload["exp"] <= after + 600
    assert before <= payload["nbf"] <= after
    assert payload["grants"] == {
        "voice": {"incoming": {"allow": True}, "outgoing": {"application_sid": APP}},
        "identity": "agent-7",
    }
    # PyJWT's layout: sorted compact header; payload keys in Twilio's order.
    expected_header = b'{"alg":"HS256","cty":"twilio-fpa;v=1","typ":"JWT"}'
    expected_payload = json.dumps(
        {
            "jti": payload["jti"],
            "grants": payload["grants"],
            "iss": KEY_SID,
            "exp": payload["exp"],
            "nbf": payload["nbf"],
            "sub": ACCOUNT,
        },
        separators=(",", ":"),
    ).encode()
    signing_input = f"{b64url(expected_header)}.{b64url(expected_payload)}"
    signature = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    assert jwt == f"{signing_input}.{b64url(signature)}"


def test_twilios_own_token_decodes_verifies_and_encodes_back_identically() -> None:
    decoded = Jwt.from_jwt(TWILIO_TOKEN, SECRET)
    assert decoded.headers == {"alg": "HS256", "cty": "twilio-fpa;v=1", "twr": "ie1", "typ": "JWT"}
    assert decoded.payload == {
        "jti": f"{KEY_SID}-1700000000",
        "grants": {
            "voice": {
                "incoming": {"allow": True},
                "outgoing": {"application_sid": APP, "params": {"queue": "sales"}},
            },
            "identity": "agent-7",
        },
        "iss": KEY_SID,
        "exp": 4102444800,
        "nbf": 1700000000,
        "sub": ACCOUNT,
    }
    assert (decoded.issuer, decoded.subject, decoded.valid_until) == (KEY_SID, ACCOUNT, 4102444800)
    assert decoded.to_jwt() == TWILIO_TOKEN


def test_the_well_known_jwt_io_vector_verifies_and_round_trips() -> None:
    vector = (
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
        "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
        "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
    )
    decoded = Jwt.from_jwt(vector, "your-256-bit-secret")
    assert decoded.payload == {"sub": "1234567890", "name": "John Doe", "iat": 1516239022}
    assert decoded.to_jwt() == vector


def test_region_valid_until_and_no_nbf() -> None:
    jwt = AccessToken(
        ACCOUNT, KEY_SID, SECRET, region="ie1", nbf=None, valid_until=4102444800
    ).to_jwt()
    header, payload, _ = parts(jwt)
    assert header["twr"] == "ie1"
    assert payload["exp"] == 4102444800
    assert "nbf" not in payload
    assert payload["grants"] == {}


@pytest.mark.parametrize(
    ("grant", "key", "payload"),
    [
        (
            VoiceGrant(
                outgoing_application_sid=APP,
                outgoing_application_params={"queue": "sales"},
                push_credential_sid="CR1",
                endpoint_id="ep",
            ),
            "voice",
            {
                "outgoing": {"application_sid": APP, "params": {"queue": "sales"}},
                "push_credential_sid": "CR1",
                "endpoint_id": "ep",
            },
        ),
        (VoiceGrant(incoming_allow=False), "voice", {}),
        (
            ChatGrant(service_sid="IS1", endpoint_id="e", push_credential_sid="CR"),
            "chat",
            {"service_sid": "IS1", "endpoint_id": "e", "push_credential_sid": "CR"},
        ),
        (VideoGrant(room="standup"), "video", {"room": "standup"}),
        (SyncGrant(service_sid="IS2"), "data_sync", {"service_sid": "IS2"}),
        (
            TaskRouterGrant(workspace_sid="WS1", worker_sid="WK1", role="worker"),
            "task_router",
            {"workspace_sid": "WS1", "worker_sid": "WK1", "role": "worker"},
        ),
        (PlaybackGrant({"requestCredentials": None}), "player", {"requestCredentials": None}),
    ],
)
def test_each_grant_has_twilios_key_and_payload(grant: Any, key: str, payload: Any) -> None:
    token = AccessToken(ACCOUNT, KEY_SID, SECRET, grants=[grant])
    assert parts(token.to_jwt())[1]["grants"] == {key: payload}


def test_only_grants_are_accepted_and_a_secret_is_needed() -> None:
    with pytest.raises(ValueError, match="AccessTokenGrant"):
        AccessToken(ACCOUNT, KEY_SID, SECRET).add_grant("voice")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="signing key"):
        AccessToken(ACCOUNT, KEY_SID, "").to_jwt()


def test_decoding_checks_the_signature_expiry_and_not_before() -> None:
    fresh = AccessToken(ACCOUNT, KEY_SID, SECRET, identity="a").to_jwt()
    assert Jwt.from_jwt(fresh, SECRET).payload["grants"] == {"identity": "a"}
    assert Jwt.from_jwt(fresh).payload["sub"] == ACCOUNT  # no key: the signature is not checked
    with pytest.raises(JwtDecodeError, match="Signature verification failed"):
        Jwt.from_jwt(fresh, "another-secret")
    expired = AccessToken(ACCOUNT, KEY_SID, SECRET, valid_until=1600000000).to_jwt()
    with pytest.raises(JwtDecodeError, match="Signature has expired"):
        Jwt.from_jwt(expired, SECRET)
    early = AccessToken(ACCOUNT, KEY_SID, SECRET, nbf=int(time.time()) + 600).to_jwt()
    with pytest.raises(JwtDecodeError, match=r"not yet valid \(nbf\)"):
        Jwt.from_jwt(early, SECRET)
    with pytest.raises(JwtDecodeError, match="Not enough segments"):
        Jwt.from_jwt("a.b", SECRET)
    unsigned = b64url(b'{"alg":"none"}') + "." + b64url(b"{}") + "."
    with pytest.raises(JwtDecodeError, match="Incorrect decoding algorithm none"):
        Jwt.from_jwt(unsigned)


def test_a_client_capability_token_carries_twilios_scopes() -> None:
    token = ClientCapabilityToken(ACCOUNT, "auth-token-0123456789abcdef", ttl=3600)
    token.allow_client_outgoing(APP, agent="7")
    token.allow_client_incoming("agent-7")
    jwt = token.to_jwt()
    header, payload, _ = parts(jwt)
    assert signature_ok(jwt, "auth-token-0123456789abcdef")
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert payload["iss"] == ACCOUNT
    assert payload["scope"] == (
        f"scope:client:outgoing?appParams=agent%3D7&appSid={APP}&clientName=agent-7 "
        "scope:client:incoming?clientName=agent-7"
    )
