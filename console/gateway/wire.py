"""The gateway's own contract: NATS names, message shapes, registrations, tokens.

Every gateway process (and every test) agrees on these; nothing here does I/O.
The Kaphila side of the wire (paths, fields) stays in ``twilio/kaphila.py``.

Streams and consumers::

    KGW_EVENTS  subjects kgw.ev.<partition>   every webhook Kaphila posted, plus the
                                              gateway's own synthetic events (timers,
                                              documents set through the API); 7 days
                interp-<partition>            durable pull consumer per partition,
                                              max one un-acked message: a call's
                                              events are interpreted in order, by
                                              whichever gateway process fetches it
                relay                         durable pull consumer over all of them:
                                              JSON relays and Twilio status callbacks
    KGW_TIMERS  subject kgw.timer             "wake this call at T" (redelivered with
                timers                        a NAK delay until T, then turned into a
                                              timer event on the call's partition)

Key-value buckets::

    kgw_calls     <token>        Registration (JSON), written before Kaphila is asked
    kgw_callids   <b64(callId)>  the token of that call
    kgw_programs  <token>        the interpreter's state for the call (JSON)

A call's intake URL is ``<public>/hooks/<token><mac>``: a random 32-hex token and
a 32-hex HMAC of it under the gateway's secret, so intake can refuse a forged URL
without reading the store.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from twilio import kaphila

PARTITIONS = 32
EVENTS_STREAM = "KGW_EVENTS"
EVENTS_SUBJECT = "kgw.ev"  # kgw.ev.<partition>
TEAM_SUBJECT = "kgw.team"  # kgw.team.<partition>: placed, action; kgw.team.presence
PRESENCE_SUBJECT = "kgw.team.presence"
TEAM_DURABLE = "team"  # live calls, the day's figures, per-call summaries
LIVE_BUCKET = "kgw_live"  # callId key -> the team's view of a live call
STATS_BUCKET = "kgw_stats"  # "d.<YYYY-MM-DD>" -> the day's figures; "seq" -> last applied
PRESENCE_BUCKET = "kgw_presence"  # "p.<operator>" -> status, reason, since, heartbeat
TIMERS_STREAM = "KGW_TIMERS"
TIMERS_SUBJECT = "kgw.timer"
INTERPRETER_DURABLE = "interp"  # interp-<partition>
RELAY_DURABLE = "relay"
TIMERS_DURABLE = "timers"
CALLS_BUCKET = "kgw_calls"
CALLIDS_BUCKET = "kgw_callids"
PROGRAMS_BUCKET = "kgw_programs"

STREAM_MAX_AGE_SECONDS = 7 * 24 * 3600  # desks away up to a week resume (issue 13)
STATE_TTL_SECONDS = STREAM_MAX_AGE_SECONDS + 24 * 3600  # registrations, programs
DUPLICATE_WINDOW_SECONDS = 600  # Kaphila's retries of one event fall inside it

HOOK_PATH = "/hooks/{token}"
# The SDK's side of these lives in its wire table (twilio/kaphila.py): one spelling.
DISCOVERY_PATH = kaphila.GATEWAY_DISCOVERY
CALLS_PATH = kaphila.GATEWAY_CALLS  # GET: the calls this gateway has seen for the key
DOCUMENT_PATH = kaphila.GATEWAY_DOCUMENT  # POST: run a TwiML document on a live call
EXTENSION_FIELD = kaphila.F_GATEWAY_EXTENSION  # in /makecall: read by the gateway only

TOKEN_HEX = 32


def partition_of(call_id: str) -> int:
    return zlib.crc32(call_id.encode()) % PARTITIONS


def events_subject(call_id: str) -> str:
    return f"{EVENTS_SUBJECT}.{partition_of(call_id)}"


def team_subject(call_id: str) -> str:
    return f"{TEAM_SUBJECT}.{partition_of(call_id)}"


def callid_key(call_id: str) -> str:
    """A KV key for any call id (Kaphila's ids may hold characters keys cannot)."""
    # surrogatepass: a lone surrogate from a JSON body names no call (a 404), not a 500.
    return base64.urlsafe_b64encode(call_id.encode("utf-8", "surrogatepass")).decode().rstrip("=")


def account_of(api_key: str) -> str:
    """Which account a Bearer key belongs to, without keeping the key."""
    return hashlib.sha256(b"kaphila-account:" + api_key.encode()).hexdigest()[:32]


# ---------------------------------------------------------------------- tokens


def new_token() -> str:
    return secrets.token_hex(TOKEN_HEX // 2)


def sign_token(token: str, mac_key: bytes) -> str:
    """The path segment of a call's intake URL."""
    mac = hmac.new(mac_key, token.encode(), hashlib.sha256).hexdigest()[:TOKEN_HEX]
    return token + mac


def verify_token(segment: str, mac_key: bytes) -> str | None:
    """The token in an intake URL segment, or None when it was not made here."""
    if len(segment) != 2 * TOKEN_HEX:
        return None
    try:
        binascii.unhexlify(segment)
    except (binascii.Error, ValueError):
        return None
    token = segment[:TOKEN_HEX]
    if hmac.compare_digest(sign_token(token, mac_key), segment.lower()):
        return token
    return None


def dedupe_key(payload: dict[str, Any], event_id: str | None) -> str:
    """``Nats-Msg-Id`` for a webhook: Kaphila's event id when it sent one, else
    (callId, event, timestamp, digits)."""
    if event_id:
        return "id:" + event_id[:200]
    parts = [str(payload.get(name, "")) for name in ("callId", "event", "timestamp", "digits")]
    return "h:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


# ---------------------------------------------------------------------- messages

Kind = Literal["webhook", "timer", "document"]


def webhook_message(
    token: str, payload: dict[str, Any], received_at: float, event_id: str | None = None
) -> dict[str, Any]:
    """``event_id``: Kaphila's id for the event when it sent one (relayed on)."""
    return {
        "kind": "webhook",
        "token": token,
        "payload": payload,
        "receivedAt": received_at,
        "eventId": event_id,
    }


def timer_message(token: str, call_id: str, wake: str) -> dict[str, Any]:
    """``wake`` names the wait it ends; a timer for an older wait is ignored."""
    return {"kind": "timer", "token": token, "callId": call_id, "wake": wake}


def document_message(
    token: str, call_id: str, *, twiml: str | None, url: str | None, method: str
) -> dict[str, Any]:
    return {
        "kind": "document",
        "token": token,
        "callId": call_id,
        "twiml": twiml,
        "url": url,
        "method": method,
    }


# ---------------------------------------------------------------------- registrations


@dataclass
class TwilioIntent:
    """What a Twilio app asked for at ``calls.create`` that Kaphila cannot hold."""

    url: str | None = None
    method: str = "POST"
    fallback_url: str | None = None
    fallback_method: str = "POST"
    status_callback: str | None = None
    status_callback_method: str = "POST"
    status_callback_events: list[str] = field(default_factory=lambda: ["completed"])
    twiml: str | None = None
    account_sid: str = ""
    auth_token: str | None = None  # encrypted (secrets.Sealer) while stored
    machine_detection: str | None = None


@dataclass
class Registration:
    token: str
    account: str  # account_of(key)
    key: str  # the Bearer key, encrypted: the interpreter acts on the call with it
    created_at: float
    call_id: str | None = None
    relay_url: str | None = None  # a plain Kaphila client's own webhookUrl
    twilio: TwilioIntent | None = None
    to: str = ""
    from_: str = ""
    status: str = "queued"  # Twilio's CallStatus, as the events say
    answered_by: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    duration: int | None = None
    # A Twilio application error that ended the call (reported in the status callback).
    error_code: int | None = None
    error_message: str | None = None
    sequence: int = 0  # status callbacks sent so far (Twilio's SequenceNumber)
    # Team mode: the operator the call belongs to, and whom a supervisor took it from.
    owner: str = ""
    taken_from: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Registration:
        intent = data.get("twilio")
        values = dict(data)
        values["twilio"] = TwilioIntent(**intent) if isinstance(intent, dict) else None
        return cls(**values)
