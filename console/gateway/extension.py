"""The ``/makecall`` extension only the gateway reads: ``"twilio": {...}``.

The SDK puts there what a Twilio app gave ``calls.create`` and Kaphila cannot
hold (the TwiML URL or document, callbacks, the app's credentials); it becomes
the registration's ``wire.TwilioIntent`` and never reaches Kaphila. Keys are
camelCase (the JSON side); each maps to one intent field (``FIELDS``). An
unknown key is refused by name, so a typo is never silently ignored, and
every URL must pass the host policy now (and again when it is requested).
"""

from __future__ import annotations

from typing import Any

from console.gateway import wire
from console.gateway.hosts import HostPolicy
from console.gateway.httpio import ApiError, json_type
from console.gateway.secrets import Sealer
from twilio import kaphila

# camelCase key -> TwilioIntent field
FIELDS = {
    "url": "url",
    "method": "method",
    "fallbackUrl": "fallback_url",
    "fallbackMethod": "fallback_method",
    "statusCallback": "status_callback",
    "statusCallbackMethod": "status_callback_method",
    "statusCallbackEvent": "status_callback_events",
    "twiml": "twiml",
    "accountSid": "account_sid",
    "authToken": "auth_token",
    "machineDetection": "machine_detection",
}
URL_KEYS = frozenset({"url", "fallbackUrl", "statusCallback"})
METHOD_KEYS = frozenset({"method", "fallbackMethod", "statusCallbackMethod"})
METHODS = ("GET", "POST")
STATUS_CALLBACK_EVENTS = ("initiated", "ringing", "answered", "completed")
MAX_URL = 2048
MAX_TWIML_BYTES = 64 * 1024
MAX_SHORT = 256


def check_url(name: str, value: Any, policy: HostPolicy) -> str:
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be a string, not {json_type(value)}")
    if len(value) > MAX_URL:
        raise ApiError(400, f"{name} is longer than {MAX_URL} characters")
    problem = policy.problem(value)
    if problem is not None:
        raise ApiError(400, f"{name} is refused: {problem}")
    return value


def check_method(name: str, value: Any) -> str:
    if not isinstance(value, str) or value.upper() not in METHODS:
        shown = repr(value[:20]) if isinstance(value, str) else json_type(value)
        raise ApiError(400, f"{name} must be GET or POST, not {shown}")
    return value.upper()


def check_twiml(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be a string, not {json_type(value)}")
    if len(value.encode()) > MAX_TWIML_BYTES:
        raise ApiError(400, f"{name} is larger than {MAX_TWIML_BYTES} bytes")
    return value


def _events(name: str, value: Any) -> list[str]:
    items = value.split() if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ApiError(400, f"{name} must be a list of event names, not {json_type(value)}")
    unknown = [item for item in items if item not in STATUS_CALLBACK_EVENTS]
    if unknown:
        raise ApiError(
            400,
            f"{name} has {unknown[0][:40]!r}; the events are {', '.join(STATUS_CALLBACK_EVENTS)}",
        )
    return list(dict.fromkeys(items))


def _short(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be a string, not {json_type(value)}")
    if len(value) > MAX_SHORT:
        raise ApiError(400, f"{name} is longer than {MAX_SHORT} characters")
    return value


def parse_intent(value: Any, policy: HostPolicy, sealer: Sealer) -> wire.TwilioIntent | None:
    """The extension object as a TwilioIntent (its auth token sealed); None when
    absent. Raises ApiError(400) naming the first key that is wrong."""
    if value is None:
        return None
    top = wire.EXTENSION_FIELD
    if not isinstance(value, dict):
        raise ApiError(400, f"{top} must be an object, not {json_type(value)}")
    for key in value:
        if key not in FIELDS:
            raise ApiError(
                400,
                f"{top}.{str(key)[:40]} is not a field the gateway knows; "
                f"it knows {', '.join(FIELDS)}",
            )
    intent = wire.TwilioIntent()
    for key, raw in value.items():
        if raw is None:  # as if not given: the intent's default stands
            continue
        name = f"{top}.{key}"
        checked: Any
        if key in URL_KEYS:
            checked = check_url(name, raw, policy)
        elif key in METHOD_KEYS:
            checked = check_method(name, raw)
        elif key == "statusCallbackEvent":
            checked = _events(name, raw)
        elif key == "twiml":
            checked = check_twiml(name, raw)
        elif key == "authToken":
            # Never echoed, not even its length: only that it is not a string.
            if not isinstance(raw, str) or len(raw) > MAX_SHORT:
                raise ApiError(400, f"{name} must be a string of at most {MAX_SHORT} characters")
            checked = sealer.seal(raw)
        elif key == "machineDetection":
            checked = _short(name, raw)
            if checked.lower() not in kaphila.AMD_ON:
                raise ApiError(
                    400, f"{name} must be Enable or DetectMessageEnd, not {checked[:40]!r}"
                )
        else:
            checked = _short(name, raw)
        setattr(intent, FIELDS[key], checked)
    return intent
