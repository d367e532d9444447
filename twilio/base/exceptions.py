"""Errors, with Twilio's names, constructors and ``str()``.

``TwilioRestException`` is an HTTP error from the API (its ``code`` is
Twilio's: 20001 bad request, 20003 authentication, 20404 not found, 20429
rate limit or credits, 21210/21211/21212 caller ID and number problems).
``TwilioConnectionError`` and ``TwilioTimeoutError`` mean no answer came at
all; they name the URL and the cause, never the API key.

Every error pickles (Celery and multiprocessing send them between
processes): it comes back with the same class, ``args``, attributes and
``str()``, however its constructor is called.
"""

from __future__ import annotations

import sys
from typing import Any


class TwilioException(Exception):
    """Base of every SDK error. ``msg``, ``code`` and ``status`` are always
    there (``code``/``status`` are None when they do not apply)."""

    code: int | None = None
    status: int | None = None

    @property
    def msg(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __reduce__(self) -> tuple[Any, ...]:
        # Exception's own pickling calls cls(*self.args), which fails for errors
        # whose args are not their constructor's (KaphilaNotSupportedError,
        # TwilioConnectionError) or that were built with keywords. Rebuild without
        # calling __init__: the args, then the attributes.
        return (_rebuild, (type(self), self.args), self.__dict__.copy())


def _rebuild(cls: type[TwilioException], args: tuple[Any, ...]) -> TwilioException:
    error = cls.__new__(cls, *args)
    return error


class TwilioRestException(TwilioException):
    """A 4xx or 5xx answer from the API.

    :param status: the HTTP status returned
    :param uri: the URI that caused the error
    :param msg: a human-readable message
    :param code: Twilio's error code, when known
    :param method: the HTTP method used
    :param details: additional error details
    """

    def __init__(
        self,
        status: int,
        uri: str,
        msg: str = "",
        code: int | None = None,
        method: str = "GET",
        details: object | None = None,
    ) -> None:
        # Twilio's does not call Exception.__init__: ``args`` stays exactly the
        # positional arguments given (Exception.__new__ stores them).
        self.uri = uri
        self.status = status
        self._msg = msg
        self.code = code
        self.method = method
        self.details = details

    @property
    def msg(self) -> str:
        return self._msg

    @msg.setter
    def msg(self, value: str) -> None:
        self._msg = value

    def __str__(self) -> str:
        # Twilio pretty-prints for a terminal and stays plain otherwise;
        # apps and logs compare the plain form.
        if hasattr(sys.stderr, "isatty") and sys.stderr.isatty():
            msg = (
                f"\n{_red('HTTP Error')} {_white('Your request was:')}\n\n"
                f"{_teal(f'{self.method} {self.uri}')}\n\n"
                f"{_white('Twilio returned the following information:')}\n\n"
                f"{_blue(str(self.msg))}\n"
            )
            if self.code:
                msg += (
                    f"\n{_white('More information may be available here:')}\n\n"
                    f"{_blue(f'https://www.twilio.com/docs/errors/{self.code}')}\n\n"
                )
            return msg
        return f"HTTP {self.status} error: {self.msg}"


class TwilioConnectionError(TwilioException):
    """No answer: the server could not be reached (or the connection broke)."""

    def __init__(self, method: str, url: str, cause: str) -> None:
        super().__init__(f"cannot reach the Kaphila API at {method} {url}: {cause}")
        self.method = method
        self.uri = url
        self.cause = cause
        # False: it never left (safe to retry); True: it may have arrived; None: unknown.
        self.request_sent: bool | None = None


class TwilioTimeoutError(TwilioConnectionError):
    """The server did not answer in time."""


class KaphilaNotSupportedError(TwilioRestException):
    """A Twilio feature that Kaphila does not have; nothing was sent."""

    def __init__(self, what: str, uri: str = "", method: str = "POST") -> None:
        super().__init__(
            status=501, uri=uri, msg=f"{what} is not supported by Kaphila", code=None, method=method
        )


def _red(words: str) -> str:
    return f"\033[31m\033[49m{words}\033[0m"


def _white(words: str) -> str:
    return f"\033[37m\033[49m{words}\033[0m"


def _blue(words: str) -> str:
    return f"\033[34m\033[49m{words}\033[0m"


def _teal(words: str) -> str:
    return f"\033[36m\033[49m{words}\033[0m"


class KaphilaCompatibilityWarning(UserWarning):
    """A Twilio parameter was accepted but Kaphila cannot honour it."""
