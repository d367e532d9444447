"""Messaging TwiML: ``MessagingResponse`` with ``<Message>`` (``<Body>``,
``<Media>``) and ``<Redirect>``, byte-identical to Twilio's SDK 9.x output
(the rendering rules are ``twilio.twiml``'s).

Kaphila has no SMS, so a messaging document renders but never runs: apps
that answer SMS webhooks keep building and testing their replies.
"""

from __future__ import annotations

from typing import Any

from twilio.twiml import TwiML


class MessagingResponse(TwiML):
    """<Response> TwiML for Messages."""

    TAG = "Response"

    def message(
        self,
        body: Any = None,
        to: Any = None,
        from_: Any = None,
        action: Any = None,
        method: Any = None,
        status_callback: Any = None,
        **kwargs: Any,
    ) -> Message:
        """Nest a <Message> element."""
        message: Message = self.nest(
            Message(
                body=body,
                to=to,
                from_=from_,
                action=action,
                method=method,
                status_callback=status_callback,
                **kwargs,
            )
        )
        return message

    def redirect(self, url: Any, method: Any = None, **kwargs: Any) -> Redirect:
        """Nest a <Redirect> element."""
        redirect: Redirect = self.nest(Redirect(url, method=method, **kwargs))
        return redirect


class Redirect(TwiML):
    """<Redirect> TwiML Verb."""

    def __init__(self, url: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.value = url


class Message(TwiML):
    """<Message> TwiML Verb."""

    def __init__(self, body: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Twilio's: an empty body writes no text.
        if body:
            self.value = body

    def body(self, message: Any, **kwargs: Any) -> Body:
        """Nest a <Body> element."""
        body: Body = self.nest(Body(message, **kwargs))
        return body

    def media(self, url: Any, **kwargs: Any) -> Media:
        """Nest a <Media> element."""
        media: Media = self.nest(Media(url, **kwargs))
        return media


class Media(TwiML):
    """<Media> TwiML Noun."""

    def __init__(self, url: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.value = url


class Body(TwiML):
    """<Body> TwiML Noun."""

    def __init__(self, message: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.value = message


__all__ = ["Body", "Media", "Message", "MessagingResponse", "Redirect"]
