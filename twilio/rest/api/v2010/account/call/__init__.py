"""Twilio's module path for calls (``from twilio.rest.api.v2010.account.call
import CallInstance``, as type hints write it); the classes live in
``twilio.rest.calls``."""

from twilio.rest.calls import CallContext, CallInstance, CallList

__all__ = ["CallContext", "CallInstance", "CallList"]
