"""The default transport: one ``requests.Session`` (keep-alive), with connect
and read timeouts, turning "no answer" into ``TwilioConnectionError`` /
``TwilioTimeoutError`` that say whether the request may have been sent."""

from __future__ import annotations

import logging
from typing import Any, cast

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from twilio.base.exceptions import TwilioConnectionError, TwilioTimeoutError
from twilio.http import HttpClient
from twilio.http.response import Response

_logger = logging.getLogger("twilio.http_client")

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0


class TwilioHttpClient(HttpClient):
    def __init__(
        self,
        pool_connections: bool = True,
        request_hooks: dict[str, Any] | None = None,
        timeout: float | None = None,
        logger: logging.Logger = _logger,
        proxy: dict[str, str] | None = None,
        max_retries: int | None = None,
    ) -> None:
        super().__init__(logger, False, timeout)
        self.session: requests.Session | None = requests.Session() if pool_connections else None
        if self.session is not None:
            # Retries are decided above the transport, where we know which are safe.
            adapter = HTTPAdapter(max_retries=max_retries or 0, pool_maxsize=32)
            self.session.mount("https://", adapter)
            self.session.mount("http://", adapter)
            # Never pick up credentials for the API host from ~/.netrc.
            self.session.trust_env = False
        self.request_hooks = request_hooks or {}
        self.proxy = proxy

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
        limit = timeout if timeout is not None else self.timeout
        timeouts = (
            (min(CONNECT_TIMEOUT, limit), limit) if limit else (CONNECT_TIMEOUT, READ_TIMEOUT)
        )
        session = self.session or requests.Session()
        try:
            answer = session.request(
                method,
                uri,
                params=cast(Any, params),
                data=data,
                headers=headers,
                auth=auth,
                timeout=timeouts,
                allow_redirects=allow_redirects,
                hooks=self.request_hooks,
                proxies=self.proxy,
            )
        except requests.ConnectTimeout as exc:
            raise _no_answer(
                TwilioTimeoutError, method, uri, "connecting timed out", sent=False
            ) from exc
        except requests.ReadTimeout as exc:
            raise _no_answer(
                TwilioTimeoutError, method, uri, f"no answer within {timeouts[1]:g} s", sent=True
            ) from exc
        except requests.ConnectionError as exc:
            refused = _connection_refused(exc)
            cause = "connection refused" if refused else _describe(exc)
            raise _no_answer(TwilioConnectionError, method, uri, cause, sent=not refused) from exc
        except requests.RequestException as exc:
            raise _no_answer(TwilioConnectionError, method, uri, _describe(exc), sent=None) from exc
        finally:
            if self.session is None:
                session.close()
        response = Response(answer.status_code, answer.text, answer.headers)
        self.last_response = response
        return response

    def close(self) -> None:
        if self.session is not None:
            self.session.close()


def _no_answer(
    kind: type[TwilioConnectionError], method: str, uri: str, cause: str, sent: bool | None
) -> TwilioConnectionError:
    error = kind(method, uri, cause)
    error.request_sent = sent
    return error


def _connection_refused(exc: BaseException) -> bool:
    """True when the connection never opened, so nothing was sent."""
    seen: set[int] = set()
    stack: list[object] = [exc]
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, ConnectionRefusedError | NewConnectionError):
            return True
        stack.extend((item.__cause__, item.__context__, getattr(item, "reason", None), *item.args))
    return False


def _describe(exc: BaseException) -> str:
    # requests' messages are long chains; the innermost reason is what helps.
    reason = exc
    while reason.__cause__ is not None or reason.__context__ is not None:
        reason = reason.__cause__ or reason.__context__  # type: ignore[assignment]
    return f"{type(reason).__name__}: {reason}"[:300]
