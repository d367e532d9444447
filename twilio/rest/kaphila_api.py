"""One door to the Kaphila API: JSON in and out, the Bearer key, Twilio error
codes, retries only where they are safe, and logs with the key redacted.

Safe to retry: a request that never left (connection refused), and a GET
(idempotent) that failed with 429/5xx or a timeout. Never retried: a POST
that may have reached the server — above all ``/makecall``, which would
dial twice.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from twilio import kaphila
from twilio.base.exceptions import TwilioConnectionError, TwilioException, TwilioRestException
from twilio.http import HttpClient

log = logging.getLogger("twilio.kaphila")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDACTED = "[redacted]"


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

    @property
    def http_client(self) -> HttpClient:
        if self._http is None:
            # requests costs ~50 ms to import: pay it on the first request, not at import.
            from twilio.http.http_client import TwilioHttpClient

            self._http = TwilioHttpClient(timeout=self.timeout)
        return self._http

    def url(self, path: str) -> str:
        return self.base_url + path

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", path, body)

    def get(self, path: str) -> dict[str, Any]:
        return self.request("GET", path, None)

    def request(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        url = self.url(path)
        headers = {
            "Authorization": f"Bearer {self._key}",
            "Accept": "application/json",
            "User-Agent": self.user_agent,
        }
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body, separators=(",", ":"))
        attempts = 1 + max(0, self.max_retries)
        for attempt in range(1, attempts + 1):
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "%s %s attempt %d headers=%s body=%s",
                    method,
                    url,
                    attempt,
                    self.redact(repr(_safe_headers(headers))),
                    self.redact(data or ""),
                )
            try:
                response = self.http_client.request(
                    method, url, data=data, headers=headers, timeout=self.timeout
                )
            except TwilioConnectionError as exc:
                safe = exc.request_sent is False or method == "GET"
                log.debug("%s %s failed: %s", method, url, self.redact(exc.msg))
                if safe and attempt < attempts:
                    self._pause(attempt, None)
                    continue
                raise
            except TwilioException:
                raise
            except Exception as exc:
                # A custom http_client raised something of its own: say what, never the key.
                raise TwilioConnectionError(
                    method, url, self.redact(f"{type(exc).__name__}: {exc}")
                ) from exc
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
                self._pause(attempt, _retry_after(response.headers))
                continue
            return self._parse(method, url, status, response.text)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def redact(self, text: str) -> str:
        """``text`` without the key, also as ``repr`` or a JSON string would escape it."""
        if not self._key:
            return text
        for form in (self._key, repr(self._key)[1:-1], json.dumps(self._key)[1:-1]):
            text = text.replace(form, REDACTED)
        return text

    def _pause(self, attempt: int, retry_after: float | None) -> None:
        delay = retry_after if retry_after is not None else self.backoff * 2 ** (attempt - 1)
        time.sleep(min(delay, 10.0))

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
