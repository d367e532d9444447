"""``WebhookHelper``: Kaphila's JSON webhooks in Twilio's terms.

``process_webhook(data, client)`` returns Twilio's form parameters (CallSid,
CallStatus, Digits, AnsweredBy, ...), updates the client's view of the call,
hands the event to the call's TwiML worker when this client runs one
(``twilio.rest.twiml_runner``), and opens a *render context* for the rest of the
request where Twilio itself would fetch TwiML from the URL the handler sits at:
the first ``VoiceResponse`` the handler renders (``str(response)``) is then the
call's next document, run by the client's worker for that call:

- ``call.answered`` (Twilio fetches ``url`` on answer), unless this client runs
  a document of its own for the call (``calls.create(twiml=)``, or a ``url``
  that is not this handler's);
- ``gather.complete`` of a <Gather> without ``action`` in a document this
  handler rendered (Twilio posts the digits to the document's URL); with an
  ``action`` the worker posts this event there itself, and a timeout falls
  through to the verbs after the <Gather>, as on Twilio;
- ``dtmf.received`` while no gather is running (Kaphila's single-digit menus).

Every other event's rendered TwiML is ignored, as Twilio ignores status
callback answers, and so is TwiML rendered outside the request that took the
webhook. A relative URL in a rendered document resolves against the call's
webhook URL (asked of Kaphila when this client does not know it). A webhook
delivered twice runs its TwiML once; one whose handling failed (an exception
in ``process_webhook``, or in the render because Kaphila could not be asked)
is handled again when Kaphila delivers it again.
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
    key: tuple[str, ...] = ()  # the webhook's identity, given back if the render fails
    payload: dict[str, Any] | None = None
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
        runner = client.twiml_runner
        context = None
        if runner.claim(key):
            try:
                context = _dispatch(client, call_sid, event, payload)
            except BaseException:
                runner.release(key)  # not handled: Kaphila's next delivery will be
                raise
        if context is not None:
            context.key = key
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


def _dispatch(
    client: Client, sid: str, event: str, payload: dict[str, Any]
) -> _RenderContext | None:
    """Hand the event to the call's worker; a context means "what the handler
    renders is the call's next document"."""
    if not client.twiml_runner.on_webhook(sid, event, payload):
        return None
    document_url = (client.call_store.get(sid) or {}).get("webhook_url")
    return _RenderContext(client, sid, event, document_url, time.monotonic(), payload=payload)


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
    try:
        runner.rendered(
            context.call_sid,
            xml,
            event=context.event,
            document_url=context.document_url,
            payload=context.payload,
        )
    except TwilioException:
        # Kaphila could not say where the call's webhooks go, so the document's
        # relative URLs cannot be resolved: fail this request, so that Kaphila
        # delivers the webhook again and it is handled then.
        runner.release(context.key)
        _current.set(None)
        raise


twiml_module.set_render_hook(_on_render)
