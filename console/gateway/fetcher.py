"""Requests to the call center's apps, as Twilio makes them.

TwiML fetches and status callbacks are form requests (GET: the query string;
POST: ``application/x-www-form-urlencoded``) signed with ``X-Twilio-Signature``
under the app's auth token, so Twilio's own ``RequestValidator`` (and the
``validate_twilio_request`` decorators built on it) accept them. Redirects are
followed like a browser (301/302/303 -> GET; 307/308 keep the method and the
form), each hop checked against the host policy and signed for its own URL.
Plain-Kaphila relays are the JSON event, posted as Kaphila posts it.
"""

from __future__ import annotations

import errno
import json
import logging
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

import aiohttp
from yarl import URL

from console.gateway.hosts import HostPolicy, connector_kwargs
from twilio.request_validator import SIGNATURE_HEADER, RequestValidator
from twilio.twiml.program import ERROR_FETCH

log = logging.getLogger("kaphila.gateway.fetch")

USER_AGENT = "TwilioProxy/1.1 (Kaphila gateway)"
MAX_REDIRECTS = 10
MAX_DOCUMENT_BYTES = 1024 * 1024
TIMEOUT_SECONDS = 15.0  # Twilio's
QUERY_SAFE = ",:/;@!$'()*?"


class FetchError(Exception):
    """The app could not give a document; ``code`` is Twilio's error code."""

    def __init__(self, message: str, code: int = ERROR_FETCH) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def signed_url(url: str, method: str, params: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The URL to request and the form to send: GET puts the form in the query."""
    if method == "GET" and params:
        parts = urlsplit(url)
        # Characters a query may hold as they are stay as they are (RFC 3986): web
        # frameworks show the app its URL in that form (werkzeug turns %2C back
        # into ","), and the app checks the signature over the URL it is shown.
        query = "&".join(q for q in (parts.query, urlencode(params, safe=QUERY_SAFE)) if q)
        return urlunsplit(parts._replace(query=query)), {}
    return url, params


class AppClient:
    """One aiohttp session for every app request the gateway makes."""

    def __init__(self, policy: HostPolicy, timeout: float = TIMEOUT_SECONDS) -> None:
        self._policy = policy
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=256, **connector_kwargs(self._policy)),
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                headers={"User-Agent": USER_AGENT},
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def twiml(
        self, url: str, method: str, params: dict[str, str], auth_token: str | None
    ) -> tuple[str, str]:
        """(the document, the URL it finally came from); raises FetchError."""
        status, text, final = await self.form(url, method, params, auth_token, want_body=True)
        if status >= 400:
            raise FetchError(f"{method} {_shown(final)} answered HTTP {status}")
        if not text.strip():
            raise FetchError(f"{method} {_shown(final)} answered an empty document")
        return text, final

    async def form(
        self,
        url: str,
        method: str,
        params: dict[str, str],
        auth_token: str | None,
        *,
        want_body: bool = False,
    ) -> tuple[int, str, str]:
        """Make one Twilio-style request (redirects followed): (status, body, final URL)."""
        method = method.upper()
        for _ in range(MAX_REDIRECTS + 1):
            problem = self._policy.problem(url)
            if problem is not None:
                raise FetchError(f"the gateway may not request that URL: {problem}")
            target, form = signed_url(url, method, params)
            headers = {"Accept": "text/xml, application/xml, */*"}
            if auth_token:
                signature = RequestValidator(auth_token).compute_signature(target, form)
                headers[SIGNATURE_HEADER] = signature
            try:
                async with self._request(method, target, form, headers) as response:
                    if response.status in (301, 302, 303, 307, 308):
                        location = response.headers.get("Location")
                        if not location:
                            raise FetchError(f"{_shown(target)} redirected without a Location")
                        url = urljoin(url, location)
                        if response.status in (301, 302, 303):
                            # Like a browser the next request is a GET; Twilio's
                            # parameters go with it in the query, so the app still
                            # knows the call.
                            method = "GET"
                        continue
                    body = ""
                    if want_body:
                        raw = await response.content.read(MAX_DOCUMENT_BYTES + 1)
                        if len(raw) > MAX_DOCUMENT_BYTES:
                            raise FetchError(f"{_shown(target)} answered more than 1 MiB")
                        body = raw.decode(response.charset or "utf-8", errors="replace")
                    return response.status, body, url
            except (aiohttp.ClientError, OSError) as exc:
                raise FetchError(f"{method} {_shown(target)} failed: {_reason(exc)}") from None
            except TimeoutError:
                raise FetchError(
                    f"{method} {_shown(target)} did not answer within {self._timeout:g} s"
                ) from None
        raise FetchError(f"{_shown(url)} redirected more than {MAX_REDIRECTS} times")

    def _request(
        self, method: str, target: str, form: dict[str, str], headers: dict[str, str]
    ) -> Any:
        return _Retrying(
            lambda: self._client().request(
                method,
                # Sent exactly as signed: aiohttp would re-quote the query
                # (%2C -> ","), and the app validates the URL it received.
                URL(target, encoded=True),
                data=form if method == "POST" else None,
                headers=headers,
                allow_redirects=False,
            )
        )

    async def post_json(
        self, url: str, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> int:
        """Relay a Kaphila event to a plain-Kaphila client's own webhook URL."""
        problem = self._policy.problem(url)
        if problem is not None:
            raise FetchError(f"the gateway may not post to that URL: {problem}")
        try:
            async with self._client().post(
                url,
                data=json.dumps(payload),
                headers={"Content-Type": "application/json", **(headers or {})},
                allow_redirects=False,
            ) as response:
                await response.read()
                return response.status
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise FetchError(f"POST {_shown(url)} failed: {_reason(exc)}") from None


class _Retrying:
    """``async with`` one request, made again once if the app closed a kept-alive
    connection just as it was reused (the request never reached the app)."""

    def __init__(self, make: Any) -> None:
        self._make = make
        self._context: Any = None

    async def __aenter__(self) -> aiohttp.ClientResponse:
        for attempt in (1, 2):
            self._context = self._make()
            try:
                return await self._context.__aenter__()  # type: ignore[no-any-return]
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                stale = isinstance(exc, aiohttp.ServerDisconnectedError) or exc.errno in (
                    errno.ECONNRESET,
                    errno.EPIPE,
                )
                if attempt == 2 or not stale:
                    raise
        raise AssertionError("unreachable")

    async def __aexit__(self, *exc: object) -> None:
        await self._context.__aexit__(*exc)


def _shown(url: str) -> str:
    """A URL fit for a log line or a status callback: no query (it may hold secrets)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query="", fragment=""))


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 200 else text[:200] + "…"
