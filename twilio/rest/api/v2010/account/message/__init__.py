"""Twilio's module path for messages; the classes live in ``twilio.rest.messages``
(Kaphila has no SMS: sending one fails clearly)."""

from twilio.rest.messages import MessageContext, MessageInstance, MessageList

__all__ = ["MessageContext", "MessageInstance", "MessageList"]
