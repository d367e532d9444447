"""Calls: ``client.calls.create/get/list/stream``, ``client.calls(sid)``,
``CallContext.fetch/update/delete`` and ``CallInstance``, on Kaphila.

The client keeps a view of each call it has created, fetched or seen in a
webhook (``CallStore``); ``list()`` and ``stream()`` filter that view, since
Kaphila has no call-listing endpoint.

Every method has its ``*_async`` twin, as in Twilio's SDK: the blocking method
run in a worker thread (``kaphila_api.run_in_thread``), whose requests go
through the client's asynchronous http_client on the caller's loop when it has
one (``AsyncTwilioHttpClient``), else through the blocking one.
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from twilio import kaphila
from twilio.base import values
from twilio.base.exceptions import (
    KaphilaCompatibilityWarning,
    KaphilaNotSupportedError,
    TwilioRestException,
)
from twilio.rest import gateway
from twilio.rest.kaphila_api import run_in_thread
from twilio.twiml import TwiML
from twilio.twiml.program import ERROR_UNSUPPORTED, DocumentError, compile_document

if TYPE_CHECKING:
    from twilio.rest import Client


def e164(number: str | None) -> str | None:
    if not number:
        return number
    return number if number.startswith("+") else "+" + number


def kaphila_number(number: object, *, field: str, code: int, uri: str) -> str:
    """Twilio's number -> Kaphila's: no '+', 10-15 digits, or a 400 before sending."""
    text = str(number).strip() if number is not None else ""
    digits = text[1:] if text.startswith("+") else text
    for separator in (" ", "-", "(", ")", "."):
        digits = digits.replace(separator, "")
    if not kaphila.NUMBER_RE.match(digits):
        raise TwilioRestException(
            400,
            uri,
            f"The '{field}' number {text!r} is not a valid phone number: Kaphila needs "
            f"10-15 digits (a leading '+' is removed for you)",
            code,
            "POST",
        )
    return digits


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class CallStore:
    """Thread-safe: webhooks arrive on server threads while the app reads.

    Bounded: the ``limit`` calls heard of most recently are kept, so a flood of
    webhooks for unknown call ids cannot grow a long-running listener's memory."""

    def __init__(self, limit: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._calls: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.limit = limit

    def update(self, sid: str, **fields: Any) -> dict[str, Any]:
        with self._lock:
            view = self._calls.get(sid)
            if view is None:
                view = self._calls[sid] = {"sid": sid}
                while len(self._calls) > self.limit:
                    self._calls.popitem(last=False)
            else:
                self._calls.move_to_end(sid)
            for key, value in fields.items():
                if value is not None:
                    view[key] = value
            return dict(view)

    def get(self, sid: str) -> dict[str, Any] | None:
        with self._lock:
            view = self._calls.get(sid)
            return dict(view) if view is not None else None

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(v) for v in self._calls.values()]


class CallInstance:
    """A call, with Twilio's property names and status strings."""

    class Status:
        QUEUED = "queued"
        RINGING = "ringing"
        IN_PROGRESS = "in-progress"
        COMPLETED = "completed"
        BUSY = "busy"
        FAILED = "failed"
        NO_ANSWER = "no-answer"
        CANCELED = "canceled"

    class UpdateStatus:
        CANCELED = "canceled"
        COMPLETED = "completed"

    def __init__(self, client: Client, view: dict[str, Any]) -> None:
        self._client = client
        self.sid: str = view["sid"]
        self.account_sid: str | None = client.account_sid
        self.status: str | None = view.get("status")
        self.to: str | None = view.get("to")
        self._from: str | None = view.get("from")
        self.to_formatted = self.to
        self.from_formatted = self._from
        self.answered_by: str | None = view.get("answered_by")
        self.machine_detection: str = view.get("machine_detection", "none")
        self.date_created: datetime | None = view.get("date_created")
        self.date_updated: datetime | None = view.get("date_updated")
        self.start_time: datetime | None = view.get("start_time")
        self.end_time: datetime | None = view.get("end_time")
        self.duration: int | None = view.get("duration")
        self.direction: str = view.get("direction", "outbound-api")
        self.parent_call_sid: str | None = view.get("parent_call_sid")
        self.forwarded_from: str | None = view.get("forwarded_from")
        self.forwarded_to: str | None = view.get("forwarded_to")
        self.api_version = kaphila.API_VERSION
        self.price: str | None = None
        self.price_unit: str | None = None
        self.caller_name: str | None = None
        self.group_sid: str | None = None
        self.phone_number_sid: str | None = None
        self.queue_time: str | None = None
        self.trunk_sid: str | None = None
        self.uri = f"/2010-04-01/Accounts/{self.account_sid}/Calls/{self.sid}.json"
        self.subresource_uris: dict[str, str] = {}
        self.credits: int | None = view.get("credits")
        self.voice: str | None = view.get("voice")

    @property
    def from_(self) -> str | None:
        return self._from

    def fetch(self) -> CallInstance:
        return CallContext(self._client, self.sid).fetch()

    def update(
        self,
        status: Any = values.unset,
        url: Any = values.unset,
        method: Any = values.unset,
        twiml: Any = values.unset,
        **kwargs: Any,
    ) -> CallInstance:
        return CallContext(self._client, self.sid).update(
            status=status, url=url, method=method, twiml=twiml, **kwargs
        )

    def delete(self) -> bool:
        return CallContext(self._client, self.sid).delete()

    async def fetch_async(self) -> CallInstance:
        return await CallContext(self._client, self.sid).fetch_async()

    async def update_async(
        self,
        status: Any = values.unset,
        url: Any = values.unset,
        method: Any = values.unset,
        twiml: Any = values.unset,
        **kwargs: Any,
    ) -> CallInstance:
        return await CallContext(self._client, self.sid).update_async(
            status=status, url=url, method=method, twiml=twiml, **kwargs
        )

    async def delete_async(self) -> bool:
        return await CallContext(self._client, self.sid).delete_async()

    def __repr__(self) -> str:
        return f"<Twilio.Api.V2010.CallInstance account_sid={self.account_sid} sid={self.sid}>"


class CallContext:
    """``client.calls(sid)``: act on one call without fetching it first. Reading
    an instance property (``.status``, ``.to`` ...) uses what the client knows
    of the call, fetching it when it knows nothing."""

    def __init__(self, client: Client, sid: str) -> None:
        self._client = client
        self.sid = sid

    def __repr__(self) -> str:
        return (
            f"<Twilio.Api.V2010.CallContext account_sid={self._client.account_sid} sid={self.sid}>"
        )

    def fetch(self) -> CallInstance:
        """Refresh from the server (``GET /calls/{callId}``)."""
        body = self._client.kaphila.get(kaphila.CALL.format(call_id=self.sid))
        return CallInstance(self._client, self._remember(body))

    def update(
        self,
        status: Any = values.unset,
        url: Any = values.unset,
        method: Any = values.unset,
        twiml: Any = values.unset,
        **kwargs: Any,
    ) -> CallInstance:
        """``status='completed'`` or ``'canceled'`` hangs up; ``twiml=`` runs TwiML on
        the live call; ``url=`` (with ``method=``) fetches TwiML from there and runs it."""
        _warn_unhonoured(kwargs)
        if status is not values.unset:
            if status not in (
                CallInstance.UpdateStatus.COMPLETED,
                CallInstance.UpdateStatus.CANCELED,
            ):
                raise TwilioRestException(
                    400,
                    self._client.kaphila.url(kaphila.HANGUP),
                    f"status must be 'completed' or 'canceled' to end a call, not {status!r}",
                    kaphila.CODE_BAD_REQUEST,
                    "POST",
                )
            body = self._client.kaphila.post(kaphila.HANGUP, {kaphila.F_CALL_ID: self.sid})
            return CallInstance(self._client, self._remember(body))
        if (twiml is not values.unset or url is not values.unset) and gateway.is_gateway(
            self._client
        ):
            uri = self._client.kaphila.url(kaphila.GATEWAY_DOCUMENT.format(call_id=self.sid))
            gateway.run_document(
                self._client,
                self.sid,
                twiml=None if twiml is values.unset else checked_twiml(twiml, uri),
                url=None if url is values.unset else str(url),
                method="POST" if method is values.unset else str(method).upper(),
            )
            return self._view()
        # Without a gateway the SDK runs the document itself: it replaces the one
        # running, returns once it first waits, and hangs up at its end (Twilio's).
        if twiml is not values.unset or url is not values.unset:
            _mark_handled(self.sid)
        if twiml is not values.unset:
            uri = self._client.kaphila.url(kaphila.VOICE)
            self._client.twiml_runner.run(self.sid, twiml=checked_twiml(twiml, uri))
        elif url is not values.unset:
            from twilio.rest.twiml_runner import twilio_method

            self._client.twiml_runner.run(
                self.sid, url=str(url), method=twilio_method(method, "method", self._client)
            )
        return self._view()

    # ---------------------------------------------------------- Kaphila-native
    # Operator actions on a live call, not TwiML documents: nothing hangs up when
    # they are done (Twilio's update(twiml=...) does, at the document's end).

    def speak(self, text: str, voice: str | None = None, play_to: str | None = None) -> str:
        """Say ``text`` on the call now (``POST /voice``); Kaphila's playback id."""
        body: dict[str, Any] = {
            kaphila.F_CALL_ID: self.sid,
            kaphila.F_TEXT: str(text),
            kaphila.F_PLAY_TO: play_to or kaphila.PLAY_TO_DEFAULT,
        }
        if voice:
            body[kaphila.F_VOICE_NAME] = str(voice)
        answer = self._client.kaphila.post(kaphila.VOICE, body)
        return str(answer.get("playbackId") or "")

    def gather(
        self,
        prompt: str | None = None,
        *,
        num_digits: int | None = None,
        timeout: float = 5,
        finish_on_key: str | None = "#",
        valid_digits: str | None = None,
    ) -> str:
        """Collect digits (``POST /gather``); ``timeout`` in seconds between digits,
        as Twilio's. The digits arrive as ``gather.complete`` (``Digits`` in
        ``WebhookHelper``'s form). Returns Kaphila's gather id."""
        body: dict[str, Any] = {
            kaphila.F_CALL_ID: self.sid,
            kaphila.F_TIMEOUT_MS: round(float(timeout) * 1000),
        }
        if prompt:
            body[kaphila.F_TEXT] = str(prompt)
        if num_digits is not None:
            body[kaphila.F_NUM_DIGITS] = int(num_digits)
        if finish_on_key:
            body[kaphila.F_FINISH_ON_KEY] = str(finish_on_key)
        if valid_digits:
            body[kaphila.F_VALID_DIGITS] = str(valid_digits)
        answer = self._client.kaphila.post(kaphila.GATHER, body)
        return str(answer.get(kaphila.F_GATHER_ID) or "")

    def forward(self, to: str) -> str:
        """Bridge the callee to ``to`` (``POST /forwardcall``); this leg ends and
        the new leg's call sid is returned."""
        uri = self._client.kaphila.url(kaphila.FORWARD_CALL)
        number = kaphila_number(to, field="To", code=kaphila.CODE_INVALID_TO, uri=uri)
        answer = self._client.kaphila.post(
            kaphila.FORWARD_CALL,
            {kaphila.F_CALL_ID: self.sid, kaphila.F_FORWARD_NUMBER: number},
        )
        return str(answer.get(kaphila.F_FORWARDED_CALL_ID) or "")

    def hangup(self) -> CallInstance:
        """End the call (``POST /hangup``): ``update(status='completed')``."""
        return self.update(status=CallInstance.UpdateStatus.COMPLETED)

    def delete(self) -> bool:
        raise KaphilaNotSupportedError(
            "Deleting a call record",
            uri=self._client.kaphila.url(kaphila.CALL.format(call_id=self.sid)),
            method="DELETE",
        )

    async def fetch_async(self) -> CallInstance:
        """``fetch()`` for asyncio."""
        return await run_in_thread(self.fetch)

    async def update_async(
        self,
        status: Any = values.unset,
        url: Any = values.unset,
        method: Any = values.unset,
        twiml: Any = values.unset,
        **kwargs: Any,
    ) -> CallInstance:
        """``update()`` for asyncio."""
        return await run_in_thread(
            self.update, status=status, url=url, method=method, twiml=twiml, **kwargs
        )

    async def delete_async(self) -> bool:
        return self.delete()

    def _view(self) -> CallInstance:
        view = self._client.call_store.get(self.sid)
        return CallInstance(self._client, view) if view else self.fetch()

    def _remember(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._client.call_store.update(self.sid, **view_from_kaphila(body, self._client))

    def __getattr__(self, name: str) -> Any:
        # Twilio returns a context from calls.get(); the SDK document reads
        # .status from it, so instance properties are served here too.
        if name.startswith("_"):
            raise AttributeError(name)
        instance = self._view()
        try:
            return getattr(instance, name)
        except AttributeError:
            raise AttributeError(f"'CallContext' object has no attribute {name!r}") from None


def _mark_handled(sid: str) -> None:
    import sys

    webhook = sys.modules.get("twilio.webhook")  # only loaded when webhooks are in use
    if webhook is not None:
        webhook.mark_handled(sid)


def view_from_kaphila(body: dict[str, Any], client: Client) -> dict[str, Any]:
    """A Kaphila call (``GET /calls`` or ``/hangup`` answer) in Twilio terms."""
    status = kaphila.STATUS_TO_TWILIO.get(str(body.get(kaphila.F_STATUS)))
    amd = body.get(kaphila.F_AMD)
    view: dict[str, Any] = {
        "status": status,
        "to": e164(body.get(kaphila.F_NUMBER)),
        "from": e164(body.get(kaphila.F_CALLER_ID)),
        "date_created": parse_time(body.get("createdAt")),
        "start_time": parse_time(body.get("answeredAt")),
        "end_time": parse_time(body.get("endedAt")),
        "date_updated": datetime.now(UTC),
        "parent_call_sid": body.get("forwardedFrom"),
        "forwarded_to": e164(body.get("forwardedTo")),
        "voice": body.get(kaphila.F_VOICE_NAME),
    }
    if isinstance(body.get(kaphila.F_DURATION), int):
        view["duration"] = body[kaphila.F_DURATION]
    if isinstance(amd, dict):
        view["answered_by"] = answered_by(amd.get("status"), client)
    if body.get("amdEnabled") is not None:
        view["machine_detection"] = "enable" if body["amdEnabled"] else "none"
    return view


def answered_by(amd_status: object, client: Client) -> str | None:
    if not isinstance(amd_status, str):
        return None
    if amd_status.upper() == kaphila.AMD_NOT_SURE:
        return client.amd_not_sure_as
    return kaphila.AMD_TO_TWILIO.get(amd_status.upper(), "unknown")


def _view_from_gateway(seen: dict[str, Any]) -> dict[str, Any]:
    """One entry of a gateway's ``GET /calls`` (Twilio's statuses already)."""
    view: dict[str, Any] = {
        "status": seen.get("status"),
        "to": seen.get("to") or None,
        "from": seen.get("from") or None,
        "date_created": parse_time(seen.get("createdAt")),
        "start_time": parse_time(seen.get("startTime")),
        "end_time": parse_time(seen.get("endTime")),
        "answered_by": seen.get("answeredBy"),
        "direction": "outbound-api",
    }
    if isinstance(seen.get("duration"), int):
        view["duration"] = seen["duration"]
    return {k: v for k, v in view.items() if v is not None}


def _given(value: Any) -> bool:
    return value is not values.unset and value is not None


def checked_twiml(twiml: Any, uri: str) -> str:
    """An inline document as text, once Kaphila can run every verb in it: a verb it
    cannot do fails here, before anything is sent."""
    text = twiml.render() if isinstance(twiml, TwiML) else str(twiml)
    try:
        compile_document(text)
    except DocumentError as exc:
        suffix = " is not supported by Kaphila"
        if exc.code == ERROR_UNSUPPORTED and exc.message.endswith(suffix):
            raise KaphilaNotSupportedError(exc.message.removesuffix(suffix), uri=uri) from None
        raise TwilioRestException(400, uri, exc.message, kaphila.CODE_BAD_REQUEST, "POST") from None
    return text


# Twilio create() parameters a gateway honours (talking to Kaphila, they are not).
_GATEWAY_HONOURS = (
    "method",
    "fallback_url",
    "fallback_method",
    "status_callback_method",
    "status_callback_event",
)

# Twilio create() parameters Kaphila has no equivalent for.
_UNHONOURED_CREATE = (
    "method",
    "fallback_url",
    "fallback_method",
    "status_callback_method",
    "send_digits",
    "recording_channels",
    "recording_status_callback",
    "recording_status_callback_method",
    "sip_auth_username",
    "sip_auth_password",
    "machine_detection_timeout",
    "recording_status_callback_event",
    "trim",
    "caller_id",
    "machine_detection_speech_threshold",
    "machine_detection_speech_end_threshold",
    "machine_detection_silence_timeout",
    "async_amd",
    "async_amd_status_callback",
    "async_amd_status_callback_method",
    "byoc",
    "call_reason",
    "call_token",
    "recording_track",
    "time_limit",
    "application_sid",
    "status_callback_event",
)


def _warn_unhonoured(given: dict[str, Any], extra: tuple[str, ...] = ()) -> None:
    names = [*extra, *(k for k, v in given.items() if v is not values.unset and v is not None)]
    if names:
        warnings.warn(
            f"Kaphila cannot honour these Twilio parameters, so they were not sent: "
            f"{', '.join(names)}",
            KaphilaCompatibilityWarning,
            stacklevel=3,
        )


# machine_detection values, compared without case or surrounding spaces. Twilio's
# are "Enable" and "DetectMessageEnd" (kaphila.AMD_ON); apps also send a boolean
# or its spellings. Kaphila has one switch, so both of Twilio's turn it on.
_AMD_ON = kaphila.AMD_ON | {"true", "on", "yes", "1"}
_AMD_OFF = frozenset({"", "none", "false", "off", "no", "0", "disable", "disabled"})


def amd_on(machine_detection: Any) -> bool:
    """Does ``machine_detection`` turn answering-machine detection on? A value that
    means neither on nor off is named in a warning (AMD stays off), never dropped
    silently."""
    if machine_detection is values.unset or machine_detection is None:
        return False
    word = str(machine_detection).strip().lower()
    if word in _AMD_ON:
        return True
    if word not in _AMD_OFF:
        warnings.warn(
            f"Kaphila does not know machine_detection={machine_detection!r}, so "
            "answering-machine detection stays off for this call; 'Enable' or "
            "'DetectMessageEnd' turn it on",
            KaphilaCompatibilityWarning,
            stacklevel=3,
        )
    return False


class CallList:
    def __init__(self, client: Client) -> None:
        self._client = client

    def __repr__(self) -> str:
        return "<Twilio.Api.V2010.CallList>"

    def __call__(self, sid: str) -> CallContext:
        return CallContext(self._client, sid)

    def get(self, sid: str) -> CallContext:
        return CallContext(self._client, sid)

    def create(
        self,
        to: str,
        from_: str,
        url: Any = values.unset,
        twiml: Any = values.unset,
        machine_detection: Any = values.unset,
        voice: Any = values.unset,
        status_callback: Any = values.unset,
        timeout: Any = values.unset,
        record: Any = values.unset,
        *,
        webhook_url: Any = values.unset,
        **kwargs: Any,
    ) -> CallInstance:
        """Place a call (``POST /makecall``).

        Through a Kaphila gateway, ``url`` is Twilio's: the gateway fetches TwiML
        from it when the call is answered and runs it (``method``, ``fallback_url``,
        ``status_callback`` and its method and events are honoured too). Talking to
        Kaphila directly, ``url`` (else ``status_callback``) receives Kaphila's JSON
        events for the ``WebhookHelper`` idiom. ``twiml`` runs once the call is
        answered, either way. ``webhook_url`` (Kaphila-native, not Twilio's) asks
        for Kaphila's plain JSON events at that URL and nothing else."""
        api = self._client.kaphila
        uri = api.url(kaphila.MAKE_CALL)
        unknown = [k for k in kwargs if k not in _UNHONOURED_CREATE]
        if unknown:
            raise TypeError(f"create() got unexpected keyword arguments: {', '.join(unknown)}")
        body: dict[str, Any] = {
            kaphila.F_NUMBER: kaphila_number(to, field="To", code=kaphila.CODE_INVALID_TO, uri=uri),
            kaphila.F_CALLER_ID: kaphila_number(
                from_, field="From", code=kaphila.CODE_INVALID_FROM, uri=uri
            ),
        }
        document = None if twiml is values.unset or twiml is None else checked_twiml(twiml, uri)
        through_gateway = gateway.is_gateway(self._client)
        amd = amd_on(machine_detection)
        extra_ignored: tuple[str, ...] = ()
        if through_gateway:
            if _given(webhook_url):
                body[kaphila.F_WEBHOOK_URL] = str(webhook_url)
            honoured = {name: kwargs.pop(name, values.unset) for name in _GATEWAY_HONOURS}
            body[kaphila.F_GATEWAY_EXTENSION] = gateway.extension(
                self._client,
                url=url,
                method=honoured["method"],
                fallback_url=honoured["fallback_url"],
                fallback_method=honoured["fallback_method"],
                status_callback=status_callback,
                status_callback_method=honoured["status_callback_method"],
                status_callback_event=honoured["status_callback_event"],
                twiml=document,
                machine_detection="Enable" if amd else values.unset,
            )
        else:
            # The SDK runs twiml (else url's TwiML, fetched as Twilio would) itself
            # once the call is answered (twilio.rest.twiml_runner); Kaphila's JSON
            # events go to url, else status_callback, for the WebhookHelper idiom.
            webhook = next((str(u) for u in (webhook_url, url, status_callback) if _given(u)), None)
            if _given(url) and _given(status_callback) and status_callback != url:
                extra_ignored = ("status_callback (Kaphila sends every event to url)",)
            if webhook is not None:
                body[kaphila.F_WEBHOOK_URL] = webhook
            from twilio.rest.twiml_runner import twilio_method

            fallback = kwargs.pop("fallback_url", None)
            in_process: dict[str, Any] = {
                "twiml": document,
                "url": str(url) if _given(url) else None,
                "method": twilio_method(kwargs.pop("method", None), "method", self._client),
                "fallback_url": str(fallback) if _given(fallback) else None,
                "fallback_method": twilio_method(
                    kwargs.pop("fallback_method", None), "fallback_method", self._client
                ),
                "webhook_url": webhook,
            }
        body[kaphila.F_USE_AMD] = amd
        if voice is not values.unset and voice is not None:
            body[kaphila.F_VOICE_NAME] = str(voice)
        if timeout is not values.unset and timeout is not None:
            body[kaphila.F_RING_TIMEOUT] = _whole_number(timeout, "timeout", uri)
        if record is not values.unset and record is not None:
            body[kaphila.F_RECORD] = bool(record)
        _warn_unhonoured(kwargs, extra_ignored)
        answer = api.post(kaphila.MAKE_CALL, body)
        sid = answer.get(kaphila.F_CALL_ID)
        if not isinstance(sid, str) or not sid:
            # Without a call id the call cannot be followed or hung up: say so
            # instead of handing back a call nobody can act on.
            raise TwilioRestException(
                200,
                uri,
                "Kaphila's answer to /makecall has no callId; the call may or may "
                "not have been placed (is the base URL right?)",
                kaphila.CODE_SERVER,
                "POST",
                details=answer,
            )
        view = self._client.call_store.update(
            sid,
            status=kaphila.STATUS_TO_TWILIO.get(str(answer.get(kaphila.F_STATUS)), "queued"),
            to=e164(body[kaphila.F_NUMBER]),
            **{"from": e164(body[kaphila.F_CALLER_ID])},
            machine_detection="enable" if amd else "none",
            date_created=parse_time(answer.get(kaphila.F_TIMESTAMP)) or datetime.now(UTC),
            date_updated=datetime.now(UTC),
            direction="outbound-api",
            voice=answer.get(kaphila.F_VOICE_NAME),
            credits=answer.get(kaphila.F_CREDITS),
            webhook_url=body.get(kaphila.F_WEBHOOK_URL),
        )
        if not through_gateway:
            ring_timeout = body.get(kaphila.F_RING_TIMEOUT)
            self._client.twiml_runner.start(sid, ring_timeout=ring_timeout, **in_process)
        return CallInstance(self._client, view)

    async def create_async(self, to: str, from_: str, **kwargs: Any) -> CallInstance:
        """``create()`` for asyncio, with the same parameters."""
        return await run_in_thread(self.create, to, from_, **kwargs)

    async def list_async(self, *args: Any, **kwargs: Any) -> list[CallInstance]:
        """``list()`` for asyncio (the calls this client knows: nothing to wait for)."""
        return self.list(*args, **kwargs)

    async def stream_async(self, *args: Any, **kwargs: Any) -> AsyncIterator[CallInstance]:
        """``stream()`` for asyncio: ``async for call in await calls.stream_async()``,
        as in Twilio's SDK."""
        return _async_iter(self.list(*args, **kwargs))

    def stream(
        self,
        to: Any = values.unset,
        from_: Any = values.unset,
        parent_call_sid: Any = values.unset,
        status: Any = values.unset,
        start_time: Any = values.unset,
        start_time_before: Any = values.unset,
        start_time_after: Any = values.unset,
        end_time: Any = values.unset,
        end_time_before: Any = values.unset,
        end_time_after: Any = values.unset,
        limit: int | None = None,
        page_size: int | None = None,
    ) -> Iterator[CallInstance]:
        """The calls this client knows (created, fetched or seen in webhooks), newest
        first, filtered as Twilio filters. Kaphila has no listing endpoint, so this is
        local; through a gateway, every call of the account the gateway has seen."""
        if gateway.is_gateway(self._client):
            for seen in gateway.list_calls(self._client):
                sid = seen.get(kaphila.F_CALL_ID)
                if isinstance(sid, str) and sid:
                    self._client.call_store.update(sid, **_view_from_gateway(seen))
        wanted = {
            "to": None if to is values.unset else e164(str(to)),
            "from": None if from_ is values.unset else e164(str(from_)),
            "parent_call_sid": None if parent_call_sid is values.unset else parent_call_sid,
            "status": None if status is values.unset else status,
        }
        views = sorted(
            self._client.call_store.all(),
            key=lambda v: v.get("date_created") or datetime.min.replace(tzinfo=UTC),
            reverse=True,
        )
        count = 0
        for view in views:
            if any(value is not None and view.get(key) != value for key, value in wanted.items()):
                continue
            if not _in_range(
                view.get("start_time") or view.get("date_created"),
                start_time,
                start_time_before,
                start_time_after,
            ):
                continue
            if not _in_range(view.get("end_time"), end_time, end_time_before, end_time_after):
                continue
            if limit is not None and count >= limit:
                return
            count += 1
            yield CallInstance(self._client, view)

    def list(
        self,
        to: Any = values.unset,
        from_: Any = values.unset,
        parent_call_sid: Any = values.unset,
        status: Any = values.unset,
        start_time: Any = values.unset,
        start_time_before: Any = values.unset,
        start_time_after: Any = values.unset,
        end_time: Any = values.unset,
        end_time_before: Any = values.unset,
        end_time_after: Any = values.unset,
        limit: int | None = None,
        page_size: int | None = None,
    ) -> list[CallInstance]:
        return list(
            self.stream(
                to,
                from_,
                parent_call_sid,
                status,
                start_time,
                start_time_before,
                start_time_after,
                end_time,
                end_time_before,
                end_time_after,
                limit,
                page_size,
            )
        )


async def _async_iter(items: Iterable[CallInstance]) -> AsyncIterator[CallInstance]:
    for item in items:
        yield item


def _whole_number(value: Any, name: str, uri: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value))
        except ValueError:
            raise TwilioRestException(
                400,
                uri,
                f"{name} must be a whole number of seconds, not {value!r}",
                kaphila.CODE_BAD_REQUEST,
                "POST",
            ) from None
    return int(value)


def _in_range(moment: datetime | None, exact: Any, before: Any, after: Any) -> bool:
    def as_time(value: Any) -> datetime | None:
        if value is values.unset or value is None:
            return None
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        return parse_time(str(value))

    exact_t, before_t, after_t = as_time(exact), as_time(before), as_time(after)
    if exact_t is None and before_t is None and after_t is None:
        return True
    if moment is None:
        return False
    if exact_t is not None and moment.date() != exact_t.date():
        return False
    if before_t is not None and moment > before_t:
        return False
    return not (after_t is not None and moment < after_t)
