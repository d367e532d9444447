"""Kaphila's webhooks as the console's facts: the one place the console reads
Kaphila's event names and body fields (the SDK's ``WebhookHelper`` has already
put the common ones in Twilio's terms).

Used by the listener for every webhook, and by the codec for journals written
before 0.2.0, which stored the webhook's Twilio parameters and body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from console.core.calls import AnsweredBy, CallStatus, Happened
from console.core.events import WebhookReceived

HAPPENED = {
    "call.initiated": Happened.RINGING,
    "call.answered": Happened.ANSWERED,
    "call.ended": Happened.ENDED,
    "call.timeout": Happened.NO_ANSWER,
    "dtmf.received": Happened.KEY_PRESSED,
    "gather.started": Happened.GATHER_STARTED,
    "gather.progress": Happened.GATHER_PROGRESS,
    "gather.complete": Happened.GATHER_COMPLETE,
    "gather.timeout": Happened.GATHER_TIMEOUT,
    "gather.failed": Happened.GATHER_FAILED,
    "recording.started": Happened.RECORDING_STARTED,
    "recording.completed": Happened.RECORDING_READY,
    "recording.failed": Happened.RECORDING_FAILED,
}
ANSWERED_BY: dict[str, AnsweredBy] = {"human": "human", "machine": "machine", "unknown": "unknown"}


def webhook_event(
    params: Mapping[str, str], body: Mapping[str, object], at: float, received_at: float
) -> WebhookReceived:
    """One webhook: ``params`` as ``WebhookHelper.process_webhook`` returned them,
    ``body`` the JSON Kaphila sent. ``KeyError`` for an event it does not know
    (the helper refuses those first)."""
    forwarded = body.get("forwardedTo")
    return WebhookReceived(
        call_sid=params["CallSid"],
        happened=HAPPENED[params["KaphilaEvent"]],
        at=at,
        received_at=received_at,
        status=CallStatus.parse(params.get("CallStatus")),
        to=params.get("To", ""),
        from_=params.get("From", ""),
        answered_by=ANSWERED_BY.get(params.get("AnsweredBy", "")),
        confidence=_float(params.get("MachineDetectionConfidence")),
        digits=params.get("Digits", ""),
        reason=_text(body.get("reason")),
        hangup_by=_text(body.get("hangupBy")),
        forwarded_to="+" + forwarded if isinstance(forwarded, str) and forwarded else "",
        parent_sid=params.get("ParentCallSid", ""),
        recording_url=params.get("RecordingUrl", ""),
        raw=dict(body),
    )


def from_stored(data: Mapping[str, object]) -> WebhookReceived:
    """A webhook as journals before 0.2.0 stored it (Twilio params, Kaphila body)."""
    params = cast(Mapping[str, str], data["params"])
    raw = cast(Mapping[str, object], data.get("raw") or {})
    event = data.get("event")
    merged = {**params, "KaphilaEvent": str(event or params.get("KaphilaEvent", ""))}
    return webhook_event(
        merged,
        raw,
        float(cast(float, data["at"])),
        float(cast(float, data.get("received_at", data["at"]))),
    )


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None
