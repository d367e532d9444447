"""``WebhookHelper``: Kaphila's JSON webhooks in Twilio's terms.

``process_webhook(data, client)`` returns Twilio's form parameters (CallSid,
CallStatus, Digits, AnsweredBy, ...), updates the client's view of the call,
and opens a *render context* for the rest of the request: the first
``VoiceResponse`` the handler renders (``str(response)``) is then run on the
call, once, by the client's background worker. That is what makes Twilio-style
handlers drive Kaphila calls unchanged. Only events where Twilio itself would
fetch TwiML run what is rendered:

- ``call.answered`` (Twilio fetches ``url`` on answer; ``calls.create(twiml=)``
  runs instead when it was given);
- ``gather.complete`` / ``gather.timeout`` of a gather this SDK started,
  unless Twilio would not ask the app: with an ``action`` the SDK posts the
  digits there itself; a timeout with verbs after the <Gather> runs those;
- ``dtmf.received`` while no gather is running (single-digit menus).

Every other event's rendered TwiML is ignored, as Twilio ignores status
callback answers. A webhook delivered twice runs its TwiML once.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import time
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any

import twilio.twiml as twiml_module
from twilio import kaphila
from twilio.base.exceptions import TwilioException
from twilio.twiml import TwiML

if TYPE_CHECKING:
    from twilio.rest import Client

log = logging.getLogger("twilio.kaphila.webhook")

# A render context older than this is ignored (threads are reused by servers).
CONTEXT_TTL_SECONDS = 30.0
STATUS_RANK = {"queued": 0, "initiated": 1, "ringing": 2, "in-progress": 3}


class WebhookForm(dict[str, str]):
    """Twilio's form parameters; ``raw`` is the Kaphila payload as received."""

    raw: dict[str, Any]


@dataclass
class _RenderContext:
    client: Client
    call_sid: str
    event: str
    document_url: str | None
    created: float
    used: bool = False
    # The frames of the handler that took the webhook: TwiML runs only when it is
    # rendered while one of them is still running (see ``_in_handler``).
    frames: tuple[FrameType, ...] = ()


_current: contextvars.ContextVar[_RenderContext | None] = contextvars.ContextVar(
    "kaphila_render_context", default=None
)


class WebhookHelper:
    @staticmethod
    def process_webhook(request_data: Any, client: Client) -> WebhookForm:
        """Convert a Kaphila JSON webhook to Twilio form data (see the module doc)."""
        payload = _checked(request_data)
        form = to_form(payload, client)
        call_sid = form["CallSid"]
        event = payload[kaphila.F_EVENT]
        _remember(client, payload, form)
        key = (
            call_sid,
            event,
            str(payload.get(kaphila.F_TIMESTAMP, "")),
            str(payload.get(kaphila.F_DIGITS, "")),
        )
        first_time = client.twiml_runner.first_time(key)
        context = None
        if first_time:
            context = _dispatch(client, call_sid, event, form)
        if context is not None:
            context.frames = _handler_frames()
        _current.set(context)
        return form


def _checked(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise TwilioException(
            f"a Kaphila webhook must be a JSON object, not "
            f"{type(data).__name__} (did the request have a JSON body?)"
        )
    call_id = data.get(kaphila.F_CALL_ID)
    if not isinstance(call_id, str) or not call_id:
        raise TwilioException("the webhook has no callId: it is not a Kaphila call event")
    event = data.get(kaphila.F_EVENT)
    if not isinstance(event, str) or event not in kaphila.KNOWN_EVENTS:
        raise TwilioException(f"unknown Kaphila webhook event {event!r} for call {call_id}")
    return data


def twilio_status(payload: dict[str, Any]) -> str:
    status = kaphila.STATUS_TO_TWILIO.get(str(payload.get(kaphila.F_STATUS)))
    if status is not None:
        return status
    return kaphila.EVENT_TO_TWILIO.get(payload[kaphila.F_EVENT], "in-progress")


def to_form(payload: dict[str, Any], client: Client) -> WebhookForm:
    """The Twilio form parameters for one Kaphila event (the one mapping)."""
    from twilio.rest.calls import answered_by, e164

    call_sid = payload[kaphila.F_CALL_ID]
    known = client.call_store.get(call_sid) or {}
    form = WebhookForm(
        CallSid=call_sid,
        AccountSid=client.account_sid,
        From=e164(payload.get(kaphila.F_CALLER_ID)) or known.get("from") or "",
        To=e164(payload.get(kaphila.F_NUMBER)) or known.get("to") or "",
        CallStatus=twilio_status(payload),
        Direction=known.get("direction", "outbound-api"),
        ApiVersion=kaphila.API_VERSION,
        KaphilaEvent=payload[kaphila.F_EVENT],
    )
    if payload.get(kaphila.F_TIMESTAMP):
        form["Timestamp"] = str(payload[kaphila.F_TIMESTAMP])
    digits = payload.get(kaphila.F_DIGITS)
    if isinstance(digits, str) and digits:
        form["Digits"] = digits
    amd = payload.get(kaphila.F_AMD)
    if isinstance(amd, dict):
        who = answered_by(amd.get("status"), client)
        if who:
            form["AnsweredBy"] = who
        if amd.get("confidence") is not None:
            form["MachineDetectionConfidence"] = str(amd["confidence"])
    if payload.get("recordingUrl"):
        form["RecordingUrl"] = str(payload["recordingUrl"])
    if payload.get("recordingId"):
        form["RecordingSid"] = str(payload["recordingId"])
    if payload.get("recordingDuration") is not None:
        form["RecordingDuration"] = str(payload["recordingDuration"])
    for key in ("transcriptionText", "transcription"):
        if isinstance(payload.get(key), str):
            form["TranscriptionText"] = payload[key]
    if payload.get(kaphila.F_DURATION) is not None:
        form["CallDuration"] = str(payload[kaphila.F_DURATION])
    if payload.get("forwardedFrom"):
        form["ParentCallSid"] = str(payload["forwardedFrom"])
    form.raw = dict(payload)
    return form


def call_params(client: Client, call_sid: str) -> dict[str, str]:
    """Twilio's standard parameters for a call, for requests the SDK makes to the app."""
    view = client.call_store.get(call_sid) or {}
    return {
        "CallSid": call_sid,
        "AccountSid": client.account_sid,
        "From": view.get("from") or "",
        "To": view.get("to") or "",
        "CallStatus": view.get("status") or "in-progress",
        "Direction": view.get("direction", "outbound-api"),
        "ApiVersion": kaphila.API_VERSION,
    }


def _remember(client: Client, payload: dict[str, Any], form: WebhookForm) -> None:
    """Update the client's view; a finished call never goes back to a live status,
    and a late event never moves a status backwards."""
    from datetime import UTC, datetime

    from twilio.rest.calls import parse_time

    sid = form["CallSid"]
    known = client.call_store.get(sid) or {}
    old, new = known.get("status"), form["CallStatus"]
    fields: dict[str, Any] = {
        "to": form["To"] or None,
        "from": form["From"] or None,
        "date_updated": datetime.now(UTC),
    }
    if old is None:
        fields["date_created"] = parse_time(payload.get(kaphila.F_TIMESTAMP))
        fields["direction"] = "outbound-api"
    if old not in kaphila.TERMINAL_TWILIO_STATUSES and (
        new in kaphila.TERMINAL_TWILIO_STATUSES
        or STATUS_RANK.get(new, 0) >= STATUS_RANK.get(str(old), -1)
    ):
        fields["status"] = new
    event = payload[kaphila.F_EVENT]
    if event == "call.answered":
        fields["start_time"] = parse_time(payload.get(kaphila.F_TIMESTAMP))
    if event in ("call.ended", "call.timeout"):
        fields["end_time"] = parse_time(payload.get(kaphila.F_TIMESTAMP))
        if isinstance(payload.get(kaphila.F_DURATION), int):
            fields["duration"] = payload[kaphila.F_DURATION]
    for source, target in (
        ("AnsweredBy", "answered_by"),
        ("RecordingUrl", "recording_url"),
        ("RecordingSid", "recording_sid"),
        ("RecordingDuration", "recording_duration"),
        ("ParentCallSid", "parent_call_sid"),
    ):
        if source in form:
            fields[target] = form[source]
    if isinstance(payload.get("forwardedTo"), str):
        fields["forwarded_to"] = "+" + payload["forwardedTo"]
    client.call_store.update(sid, **fields)


def _dispatch(client: Client, sid: str, event: str, form: WebhookForm) -> _RenderContext | None:
    """Decide what runs for this event; a context means "run what the handler renders"."""
    runner = client.twiml_runner
    view = client.call_store.get(sid) or {}
    document_url = view.get("webhook_url")
    context = _RenderContext(client, sid, event, document_url, time.monotonic())
    if event == "call.answered":
        on_answer = runner.take_on_answer(sid)
        if on_answer is not None:
            runner.submit(sid, lambda: runner.execute(sid, on_answer), "calls.create(twiml=)")
            return None
        return context
    if event in ("gather.complete", "gather.timeout", "gather.failed"):
        pending = runner.take_gather(sid)
        if pending is None or event == "gather.failed":
            return None
        if event == "gather.timeout" and pending.fallthrough:
            runner.submit(
                sid, lambda: runner.run_fallthrough(sid, pending), "<Gather> fall-through"
            )
            return None
        if event == "gather.complete" and pending.action:
            action = runner.resolve(sid, pending.action, pending.document_url)
            params = {"Digits": form.get("Digits", ""), "CallStatus": form["CallStatus"]}
            raw = form.raw
            runner.submit(
                sid,
                lambda: runner.execute_url(sid, action, pending.method, params, payload=raw),
                f"<Gather action={pending.action!r}>",
            )
            return None
        context.document_url = pending.document_url or document_url
        return context
    if event == "dtmf.received" and runner.pending_gather(sid) is None:
        return context
    return None


def mark_handled(call_sid: str) -> None:
    """The handler ran TwiML for this call itself (``update(twiml=...)``): rendering
    the same response afterwards must not run it again."""
    context = _current.get()
    if context is not None and context.call_sid == call_sid:
        context.used = True


def _handler_frames() -> tuple[FrameType, ...]:
    """The caller of ``process_webhook`` and its caller: the app's handler (or a
    helper of the app's and the handler), or the handler and the framework's
    per-request dispatch. Both end with the request; a server's long-lived loop
    frames are further down and are left out on purpose."""
    frame = sys._getframe(2)  # 0: here, 1: process_webhook
    return tuple(f for f in (frame, frame.f_back) if f is not None)


def _in_handler(context: _RenderContext) -> bool:
    """Is the render happening inside the request that took the webhook? A thread
    a server reuses keeps its context variables, so the context alone is not
    enough: TwiML another request renders later must never run on this call."""
    frame: FrameType | None = sys._getframe(2)  # 0: here, 1: _on_render, 2: to_xml
    while frame is not None:
        if any(frame is f for f in context.frames):
            return True
        frame = frame.f_back
    return False


def _on_render(document: TwiML, xml: str) -> None:
    """Called by ``VoiceResponse.to_xml``: run it if a webhook context is waiting
    and the render belongs to the request that took that webhook."""
    context = _current.get()
    if context is None or context.used:
        return
    if time.monotonic() - context.created > CONTEXT_TTL_SECONDS or not _in_handler(context):
        _current.set(None)  # that request is over: its context goes with it
        return
    context.used = True
    runner = context.client.twiml_runner
    sid = context.call_sid
    url = context.document_url
    runner.submit(
        sid,
        lambda: runner.execute(sid, xml, document_url=url),
        f"TwiML rendered for {context.event}",
    )


twiml_module.set_render_hook(_on_render)
