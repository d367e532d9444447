"""A drop-in Twilio Python SDK on the Kaphila voice API.

``from twilio import Client, WebhookHelper, TwilioException, TwilioRestException``
works, and so do Twilio's module paths (``twilio.rest``,
``twilio.twiml.voice_response``, ``twilio.base.exceptions``). Names are
imported on first use so that ``from twilio.rest import Client`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# The Twilio SDK release whose public surface this package mirrors.
__version__ = "9.13.0"
__version_info__ = (9, 13, 0)

if TYPE_CHECKING:
    from twilio.base.exceptions import TwilioException, TwilioRestException
    from twilio.request_validator import RequestValidator
    from twilio.rest import Client
    from twilio.webhook import WebhookHelper

_LAZY = {
    "Client": "twilio.rest",
    "WebhookHelper": "twilio.webhook",
    "TwilioException": "twilio.base.exceptions",
    "TwilioRestException": "twilio.base.exceptions",
    "RequestValidator": "twilio.request_validator",
}

__all__ = ["Client", "RequestValidator", "TwilioException", "TwilioRestException", "WebhookHelper"]


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'twilio' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value
