"""One door to the Kaphila API: JSON in and out, the Bearer key, Twilio error
codes, retries only where they are safe, and logs with the key redacted.

Safe to retry: a request that never left (connection refused), and a GET
(idempotent) that failed with 429/5xx or a timeout. Never retried: a POST
that may have reached the server — above all ``/makecall``, which would
dial twice.

Two ways through the door, with the same rules: ``request`` (blocking) and
``request_async`` (a coroutine). ``request_async`` awaits an asynchronous
``http_client`` (``AsyncTwilioHttpClient``) and runs a blocking one in a
worker thread. ``request`` with an asynchronous ``http_client`` hands the
request to the event loop the client works on (see ``_request_on_loop``), so
the SDK's blocking code runs unchanged in ``asyncio.to_thread`` for the
``*_async`` methods.
"""

from __future__ import annotations

import contextvars
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from twilio import kaphila
from twilio.base.exceptions import TwilioConnectionError, TwilioException, TwilioRestException
from twilio.http import HttpClient
from twilio.http.response import Response

if TYPE_CHECKING:
    import asyncio

    from twilio.http import AsyncHttpClient

log = logging.getLogger("twilio.kaphila")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDACTED = "[redacted]"

T = TypeVar("T")

# The event loop of the ``*_async`` call a worker thread is running for
# (``asyncio.to_thread`` copies context variables into the thread).
_calling_loop: contextvars.ContextVar[asyncio.AbstractEventLoop | None] = contextvars.ContextVar(
    "kaphila_calling_loop", default=None
)


async def run_in_thread(func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``await func(*args, **kwargs)`` run in a worker thread, knowing the caller's
    loop: the SDK's ``*_async`` methods are its blocking methods run this way."""
    import asyncio

    token = _calling_loop.set(asyncio.get_running_loop())
    try:
        return await asyncio.to_thread(func, *args, **kwargs)
    finally:
        _calling_loop.reset(token)


class KaphilaApi:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        http_client: HttpClient | None,
        timeout: float | None,
        max_retries: int,
        backoff: float,
        user_agent: str,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = api_key
        self._http = http_client
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.user_agent = user_agent
        # The loop an asynchronous http_client last ran on (see _request_on_loop).
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def http_client(self) -> HttpClient:
        if self._http is None:
            # requests costs ~50 ms to import: pay it on the first request, not at import.
            from twilio.http.http_client import TwilioHttpClient

            self._http = TwilioHttpClient(timeout=self.timeout)
        return self._http

    @property
    def is_async(self) -> bool:
        """True when the http_client is asynchronous (its ``request`` is a coroutine)."""
        return bool(getattr(self._http, "is_async", False))

    def url(self, path: str) -> str:
        return self.base_url + path

    # ------------------------------------------------------------- blocking

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", path, body)

    def get(self, path: str) -> dict[str, Any]:
        return self.request("GET", path, None)

    def request(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        if self.is_async:
            return self._request_on_loop(method, path, body)
        url, headers, data = self._prepare(method, path, body)
        attempts = 1 + max(0, self.max_retries)
        for attempt in range(1, attempts + 1):
            self._log_attempt(method, url, attempt, headers, data)
            try:
                response = self.http_client.request(
                    method, url, data=data, headers=headers, timeout=self.timeout
                )
            except Exception as exc:
                if not self._retry_after_failure(exc, method, url, attempt, attempts):
                    raise
                time.sleep(self._delay(attempt, None))
                continue
            outcome = self._answer(method, url, attempt, attempts, response)
            if isinstance(outcome, dict):
                return outcome
            time.sleep(outcome)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    # ------------------------------------------------------------- asynchronous

    async def post_async(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self.request_async("POST", path, body)

    async def get_async(self, path: str) -> dict[str, Any]:
        return await self.request_async("GET", path, None)

    async def request_async(
        self, method: str, path: str, body: dict[str, Any] | None
    ) -> dict[str, Any]:
        """``request`` as a coroutine: the same retries, errors and redaction. An
        asynchronous http_client is awaited; a blocking one runs in a worker thread."""
        import asyncio

        is_async = self.is_async
        if is_async:
            self._loop = asyncio.get_running_loop()
        http = self.http_client
        url, headers, data = self._prepare(method, path, body)
        attempts = 1 + max(0, self.max_retries)
        for attempt in range(1, attempts + 1):
            self._log_attempt(method, url, attempt, headers, data)
            try:
                if is_async:
                    response = await cast("AsyncHttpClient", http).request(
                        method, url, data=data, headers=headers, timeout=self.timeout
                    )
                else:
                    response = await asyncio.to_thread(
                        http.request, method, url, data=data, headers=headers, timeout=self.timeout
                    )
            except Exception as exc:
                if not self._retry_after_failure(exc, method, url, attempt, attempts):
                    raise
                await asyncio.sleep(self._delay(attempt, None))
                continue
            outcome = self._answer(method, url, attempt, attempts, response)
            if isinstance(outcome, dict):
                return outcome
            await asyncio.sleep(outcome)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _request_on_loop(
        self, method: str, path: str, body: dict[str, Any] | None
    ) -> dict[str, Any]:
        """A blocking request with an asynchronous http_client: run ``request_async``
        on the loop the client works on and wait for it here. That works from a
        worker thread (an ``*_async`` method's, or a webhook's TwiML worker while the
        app's loop runs); on the loop's own thread it would block the loop, so it is
        refused with the way out."""
        import asyncio

        loop = _calling_loop.get() or self._loop
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is not None or loop.is_closed() or not loop.is_running():
            raise TwilioException(
                f"{method} {self.url(path)} was not sent: this client's http_client is "
                "asynchronous, so await the *_async methods (calls.create_async, "
                "calls(sid).fetch_async, update_async ...) from a running event loop"
            )
        return asyncio.run_coroutine_threadsafe(
            self.request_async(method, path, body), loop
        ).result()

    # ------------------------------------------------------------- shared steps

    def _prepare(
        self, method: str, path: str, body: dict[str, Any] | None
    ) -> tuple[str, dict[str, str], str | None]:
        headers = {
            "Authorization": f"Bearer {self._key}",
            "Accept": "application/json",
            "User-Agent": self.user_agent,
        }
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body, separators=(",", ":"))
        return self.url(path), headers, data

    def _log_attempt(
        self, method: str, url: str, attempt: int, headers: dict[str, str], data: str | None
    ) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s attempt %d headers=%s body=%s",
                method,
                url,
                attempt,
                self.redact(repr(_safe_headers(headers))),
                self.redact(data or ""),
            )

    def _retry_after_failure(
        self, exc: Exception, method: str, url: str, attempt: int, attempts: int
    ) -> bool:
        """True to try again after no answer came; False to re-raise ``exc`` as it is.
        Anything but a ``TwilioException`` (a custom http_client's own error) is
        turned into a ``TwilioConnectionError`` that says what, never the key."""
        if isinstance(exc, TwilioConnectionError):
            safe = exc.request_sent is False or method == "GET"
            log.debug("%s %s failed: %s", method, url, self.redact(exc.msg))
            return safe and attempt < attempts
        if isinstance(exc, TwilioException):
            return False
        raise TwilioConnectionError(
            method, url, self.redact(f"{type(exc).__name__}: {exc}")
        ) from exc

    def _answer(
        self, method: str, url: str, attempt: int, attempts: int, response: Response
    ) -> dict[str, Any] | float:
        """The answer's JSON object, or the seconds to wait before trying again."""
        status = response.status_code
        log.debug("%s %s -> %d %s", method, url, status, self.redact(response.text[:2000]))
        if 300 <= status < 400:
            # Redirects are not followed: the Bearer key would go wherever the
            # Location says, and a POST would turn into a GET.
            where = _header(response.headers, "Location")
            raise TwilioRestException(
                status,
                url,
                f"Kaphila answered HTTP {status}, a redirect"
                + (f" to {self.redact(where)}" if where else "")
                + "; redirects are not followed: check the base URL (http or https?)",
                kaphila.CODE_SERVER,
                method,
            )
        if status in RETRY_STATUSES and method == "GET" and attempt < attempts:
            return self._delay(attempt, _retry_after(response.headers))
        return self._parse(method, url, status, response.text)

    def redact(self, text: str) -> str:
        """``text`` without the key, also as ``repr`` or a JSON string would escape it."""
        if not self._key:
            return text
        for form in (self._key, repr(self._key)[1:-1], json.dumps(self._key)[1:-1]):
            text = text.replace(form, REDACTED)
        return text

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        delay = retry_after if retry_after is not None else self.backoff * 2 ** (attempt - 1)
        return min(delay, 10.0)

    def _parse(self, method: str, url: str, status: int, text: str) -> dict[str, Any]:
        try:
            body = json.loads(text) if text else {}
        except ValueError:
            body = None
        if not isinstance(body, dict):
            snippet = self.redact(text[:200])
            if status >= 400:
                raise TwilioRestException(
                    status, url, f"HTTP {status}: {snippet}", kaphila.error_code(status, ""), method
                )
            raise TwilioRestException(
                status,
                url,
                f"the server answered with something that is not a JSON object: {snippet!r}",
                kaphila.CODE_SERVER,
                method,
            )
        if status >= 400 or body.get(kaphila.F_SUCCESS) is False:
            message = self.redact(str(body.get(kaphila.F_ERROR) or f"HTTP {status}"))
            error_status = status if status >= 400 else 400
            raise TwilioRestException(
                error_status,
                url,
                message,
                kaphila.error_code(error_status, message),
                method,
                details=body,
            )
        return body


def _safe_headers(headers: dict[str, str]) -> dict[str, str]:
    return {
        k: (f"Bearer {REDACTED}" if k.lower() == "authorization" else v) for k, v in headers.items()
    }


def _header(headers: Any, name: str) -> str:
    try:
        value = headers.get(name) if headers is not None else None
    except (AttributeError, TypeError):
        return ""
    return str(value)[:200] if value else ""


def _retry_after(headers: Any) -> float | None:
    try:
        value = headers.get("Retry-After") if headers is not None else None
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
