"""Talking to a Kaphila gateway instead of Kaphila itself.

A gateway (``kaphila-gateway``) serves Kaphila's API and runs Twilio's server
half: it fetches the app's ``url`` like Twilio, runs TwiML, posts Gather results
and status callbacks. The SDK finds out once per client whether its base URL is
a gateway (``GET /.well-known/kaphila-gateway``: Kaphila answers 404) and then
sends, besides Kaphila's own fields, the Twilio intents Kaphila cannot hold in
the ``twilio`` extension of ``/makecall``, which only the gateway reads:

    url, method, fallbackUrl, fallbackMethod, statusCallback, statusCallbackMethod,
    statusCallbackEvent, twiml, accountSid, machineDetection

``calls(sid).update(twiml=|url=)`` becomes ``POST /calls/{callId}/twiml``, and
``calls.list()`` asks ``GET /calls`` for every call the gateway has seen for
the account (not only those this client placed).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from twilio import kaphila
from twilio.base import values
from twilio.base.exceptions import TwilioException, TwilioRestException

if TYPE_CHECKING:
    from twilio.rest import Client

_lock = threading.Lock()
_ATTRIBUTE = "_kaphila_gateway"


def is_gateway(client: Client) -> bool:
    """Is the client's base URL a Kaphila gateway? Asked once per client."""
    known = client.__dict__.get(_ATTRIBUTE)
    if known is not None:
        return bool(known)
    with _lock:
        known = client.__dict__.get(_ATTRIBUTE)
        if known is None:
            known = _probe(client)
            if known is not None:
                client.__dict__[_ATTRIBUTE] = known
    return bool(known)


def _probe(client: Client) -> bool | None:
    """True for a gateway, False for Kaphila, None when the server could not be
    asked (the request that follows reports that, under its own name)."""
    try:
        answer = client.kaphila.get(kaphila.GATEWAY_DISCOVERY)
    except TwilioRestException:
        return False  # Kaphila: 404 (or anything but a gateway's answer)
    except TwilioException:
        return None
    return answer.get("gateway") == "kaphila"


def _given(value: Any) -> bool:
    return value is not values.unset and value is not None


def extension(
    client: Client,
    *,
    url: Any,
    method: Any,
    fallback_url: Any,
    fallback_method: Any,
    status_callback: Any,
    status_callback_method: Any,
    status_callback_event: Any,
    twiml: str | None,
    machine_detection: Any,
) -> dict[str, Any]:
    """The ``twilio`` extension of ``/makecall`` (camelCase, as on the wire)."""
    ext: dict[str, Any] = {"accountSid": client.account_sid}
    if _given(url):
        ext["url"] = str(url)
        ext["method"] = str(method).upper() if _given(method) else "POST"
    if twiml is not None:
        ext["twiml"] = twiml
    if _given(fallback_url):
        ext["fallbackUrl"] = str(fallback_url)
        ext["fallbackMethod"] = str(fallback_method).upper() if _given(fallback_method) else "POST"
    if _given(status_callback):
        ext["statusCallback"] = str(status_callback)
        ext["statusCallbackMethod"] = (
            str(status_callback_method).upper() if _given(status_callback_method) else "POST"
        )
        events = status_callback_event if _given(status_callback_event) else ["completed"]
        if isinstance(events, str):
            events = events.replace(",", " ").split()
        ext["statusCallbackEvent"] = [str(e).strip().lower() for e in events]
    if _given(machine_detection):
        ext["machineDetection"] = str(machine_detection)
    return ext


def run_document(
    client: Client, sid: str, *, twiml: str | None, url: str | None, method: str
) -> None:
    """Replace the document running on a live call (Twilio's ``update(twiml|url)``)."""
    body: dict[str, Any] = {"twiml": twiml} if twiml is not None else {"url": url, "method": method}
    client.kaphila.post(kaphila.GATEWAY_DOCUMENT.format(call_id=sid), body)


def list_calls(client: Client) -> list[dict[str, Any]]:
    """Every call the gateway has seen for this account, newest first (Kaphila's names)."""
    answer = client.kaphila.get(kaphila.GATEWAY_CALLS)
    calls = answer.get("calls")
    return [c for c in calls if isinstance(c, dict)] if isinstance(calls, list) else []
