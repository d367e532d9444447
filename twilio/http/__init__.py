"""Twilio's ``HttpClient`` interface. Pass any object with this ``request``
method as ``Client(http_client=...)``; the default is ``TwilioHttpClient``
(one ``requests.Session``), imported only when the first request is made.

``AsyncHttpClient`` is the asynchronous interface (``is_async`` is True and
``request`` is a coroutine); ``twilio.http.async_http_client.AsyncTwilioHttpClient``
implements it with aiohttp, which only that module imports."""

from __future__ import annotations

import logging
from typing import Any

from twilio.base.exceptions import TwilioException
from twilio.http.response import Response

_logger = logging.getLogger("twilio.http_client")


class HttpClient:
    def __init__(
        self, logger: logging.Logger = _logger, is_async: bool = False, timeout: float | None = None
    ) -> None:
        if timeout is not None and timeout <= 0:
            raise ValueError(timeout)
        self.logger = logger
        self.is_async = is_async
        self.timeout = timeout
        self.last_request: dict[str, Any] | None = None
        self.last_response: Response | None = None

    def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        """Make one HTTP request; raise ``TwilioConnectionError`` when no answer came."""
        raise TwilioException("HttpClient is an abstract class")


class AsyncHttpClient(HttpClient):
    """An HTTP client whose ``request`` is a coroutine; the SDK's ``*_async``
    methods await it."""

    def __init__(
        self, logger: logging.Logger = _logger, is_async: bool = True, timeout: float | None = None
    ) -> None:
        super().__init__(logger, is_async, timeout)

    async def request(  # type: ignore[override]
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - Twilio's interface
        allow_redirects: bool = False,
    ) -> Response:
        """Make one HTTP request; raise ``TwilioConnectionError`` when no answer came."""
        raise TwilioException("AsyncHttpClient is an abstract class")
