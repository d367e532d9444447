"""The team's wire (docs/TEAM.md) as the console's facts: the one place the
console reads the stream's event kinds and the gateway's snapshot fields.

A ``webhook`` event's ``payload`` is Kaphila's webhook body, verbatim: it goes
through the SDK's one mapping (``twilio.webhook.to_form``, as the listener's
``WebhookHelper``) and ``services.webhook_events``, checked as the listener
checks it. Its times are the gateway's (``receivedAt``) and Kaphila's, never
this desk's clock, so every desk builds the same timeline.

Anything the console cannot use is ``BadEvent`` (the stream logs and skips it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from console.core.calls import ActionKind, CallStatus
from console.core.events import (
    ActionRecorded,
    CallPlaced,
    CallSeen,
    Event,
    PresenceChanged,
    WebhookReceived,
)
from console.core.team import Presence, Role, TeamFigures
from console.services.webhook_events import ANSWERED_BY, HAPPENED, webhook_event
from console.services.webhooks import BadValue, event_time
from twilio.base.exceptions import TwilioException
from twilio.rest import Client
from twilio.webhook import to_form

ACTIONS = {
    "speak": ActionKind.SPEAK,
    "gather": ActionKind.GATHER,
    "forward": ActionKind.FORWARD,
    "hangup": ActionKind.HANG_UP,
    "document": ActionKind.DOCUMENT,
    "takeover": ActionKind.TAKE_OVER,
}
ROLES = {role.value: role for role in Role}
STATUSES = {status.value: status for status in Presence}


class BadEvent(ValueError):
    """A stream event or snapshot entry the console cannot use."""


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadEvent(f"{name} is not a string")
    return value


def _time(data: Mapping[str, Any], name: str) -> float:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadEvent(f"{name} is not a time")
    return float(value)


def _maybe_time(data: Mapping[str, Any], name: str) -> float | None:
    return None if data.get(name) is None else _time(data, name)


def e164(number: str) -> str:
    """Kaphila's numbers are digits; the console's are E.164."""
    return "+" + number if number.isdigit() else number


def _role(data: Mapping[str, Any]) -> Role:
    role = ROLES.get(_text(data, "role"))
    if role is None:
        raise BadEvent(f"unknown role {data.get('role')!r}")
    return role


def stream_event(kind: str, seq: int, data: Mapping[str, Any], client: Client) -> Event | None:
    """One stream frame as an event; None for a kind this console does not know
    (a newer gateway's), which is skipped, never guessed at."""
    try:
        match kind:
            case "placed":
                return CallPlaced(
                    seq,
                    _call_id(data),
                    _text(data, "owner"),
                    e164(_text(data, "to")),
                    e164(_text(data, "from")),
                    _time(data, "at"),
                )
            case "webhook":
                return _webhook(seq, data, client)
            case "action":
                return _action(seq, data)
            case "presence":
                return presence(data, seq)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, BadEvent):
            raise
        raise BadEvent(f"{kind} {seq}: {exc}") from exc
    return None


def _call_id(data: Mapping[str, Any]) -> str:
    call_id = _text(data, "callId")
    if not call_id:
        raise BadEvent("no callId")
    return call_id


def _webhook(seq: int, data: Mapping[str, Any], client: Client) -> WebhookReceived:
    payload = data.get("payload")
    if not isinstance(payload, dict) or payload.get("event") not in HAPPENED:
        raise BadEvent("the payload is not a Kaphila webhook this console knows")
    received_at = _time(data, "receivedAt")
    try:
        at = event_time(payload.get("timestamp"), received_at)
        params = to_form(payload, client)
    except (BadValue, TwilioException, KeyError) as exc:
        raise BadEvent(f"webhook {seq}: {exc}") from exc
    event = webhook_event(params, payload, at, received_at)
    return replace(event, seq=seq, owner=_text(data, "owner"))


def _action(seq: int, data: Mapping[str, Any]) -> ActionRecorded:
    kind = ACTIONS.get(_text(data, "action"))
    if kind is None:
        raise BadEvent(f"unknown action {data.get('action')!r}")
    detail = _text(data, "detail")
    if kind is ActionKind.FORWARD:
        detail = e164(detail)
    return ActionRecorded(
        seq,
        _call_id(data),
        _text(data, "owner"),
        _text(data, "by"),
        _role(data),
        kind,
        _time(data, "at"),
        detail,
        data.get("endedDocument") is True,
    )


def presence(data: Mapping[str, Any], seq: int = 0) -> PresenceChanged:
    """A ``presence`` event (``seq``) or one entry of ``GET /team/presence`` (0)."""
    status = STATUSES.get(_text(data, "status"))
    if status is None:
        raise BadEvent(f"unknown status {data.get('status')!r}")
    return PresenceChanged(
        _text(data, "operator"),
        _role(data),
        status,
        _maybe_time(data, "since") or 0.0,
        seq,
        _text(data, "reason"),
        _text(data, "callId"),
    )


def seen_call(data: Mapping[str, Any], now: float) -> CallSeen:
    """One call of ``GET /team/calls``."""
    status = CallStatus.parse(_text(data, "status"))
    if status is None:
        raise BadEvent(f"unknown status {data.get('status')!r}")
    return CallSeen(
        _call_id(data),
        _text(data, "owner"),
        status,
        now,
        taken_from=_text(data, "takenFrom"),
        to=e164(_text(data, "to")),
        from_=e164(_text(data, "from")),
        answered_by=ANSWERED_BY.get(_text(data, "answeredBy")),
        placed_at=_maybe_time(data, "placedAt"),
        answered_at=_maybe_time(data, "answeredAt"),
    )


def figures(data: Mapping[str, Any], now: float) -> TeamFigures:
    """``GET /team/stats``, as given."""
    amd = _object(data.get("amd"))
    per = _object(data.get("perOperator"))
    rate = data.get("answerRate")
    handle = data.get("avgHandleSeconds")
    return TeamFigures(
        day=_text(data, "day"),
        timezone=_text(data, "timezone"),
        live=_count(data.get("live")),
        placed=_count(data.get("placed")),
        answered=_count(data.get("answered")),
        not_answered=_count(data.get("notAnswered")),
        answer_rate=float(rate) if isinstance(rate, int | float) else None,
        human=_count(amd.get("human")),
        machine=_count(amd.get("machine")),
        unknown=_count(amd.get("unknown")),
        avg_handle_seconds=float(handle) if isinstance(handle, int | float) else None,
        per_operator=tuple(sorted((str(k), _count(v)) for k, v in per.items())),
        at=now,
    )


def _object(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _count(value: object) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0
