"""Twilio's ``AsyncTwilioHttpClient``: one aiohttp session, with connect and
read timeouts, turning "no answer" into ``TwilioConnectionError`` /
``TwilioTimeoutError`` that say whether the request may have been sent.

The only module of the package that imports aiohttp (an import-linter
contract says so): ``import twilio.rest`` never pays for it.

    http_client = AsyncTwilioHttpClient()
    client = Client(account_sid, api_key, http_client=http_client)
    call = await client.calls.create_async(to=..., from_=..., url=...)
    await http_client.close()

The session is made on the first request, inside the running loop, and is
bound to that loop: use one client per event loop. Retries are decided above
the transport (``Client(max_retries=...)``), where it is known which are safe;
``max_retries`` here is accepted for Twilio's signature and not used.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp

from twilio.base.exceptions import TwilioConnectionError, TwilioException, TwilioTimeoutError
from twilio.http import AsyncHttpClient
from twilio.http.response import Response

_logger = logging.getLogger("twilio.async_http_client")

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0


class AsyncTwilioHttpClient(AsyncHttpClient):
    def __init__(
        self,
        pool_connections: bool = True,
        trace_configs: list[aiohttp.TraceConfig] | None = None,
        timeout: float | None = None,
        logger: logging.Logger = _logger,
        proxy_url: str | None = None,
        max_retries: int | None = None,
    ) -> None:
        super().__init__(logger, True, timeout)
        self.pool_connections = pool_connections
        self.trace_configs = trace_configs
        self.proxy_url = proxy_url
        self.max_retries = max_retries
        self.session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

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
        if timeout is not None and timeout <= 0:
            raise ValueError(timeout)
        limit = timeout if timeout is not None else self.timeout
        connect = min(CONNECT_TIMEOUT, limit) if limit else CONNECT_TIMEOUT
        read = limit if limit else READ_TIMEOUT
        kwargs: dict[str, Any] = {
            "params": params,
            "headers": headers,
            "auth": aiohttp.BasicAuth(auth[0], auth[1]) if auth is not None else None,
            "timeout": aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read),
            "allow_redirects": allow_redirects,
            "proxy": self.proxy_url,
        }
        # The SDK sends its JSON already encoded; a dict for a JSON request is
        # encoded here, as Twilio's client does.
        json_body = (headers or {}).get("Content-Type") in (
            "application/json",
            "application/scim+json",
        )
        if json_body and not isinstance(data, str | bytes) and data is not None:
            kwargs["json"] = data
        else:
            kwargs["data"] = data
        self.last_request = {"method": method, "url": uri, **kwargs}
        session, temporary = self._session()
        try:
            async with session.request(method.upper(), uri, **kwargs) as answer:
                text = await answer.text(errors="replace")
                response = Response(answer.status, text, answer.headers)
        except aiohttp.ConnectionTimeoutError as exc:
            raise _no_answer(
                TwilioTimeoutError, method, uri, "connecting timed out", sent=False
            ) from exc
        except aiohttp.SocketTimeoutError as exc:
            raise _no_answer(
                TwilioTimeoutError, method, uri, f"no answer within {read:g} s", sent=True
            ) from exc
        except TimeoutError as exc:
            raise _no_answer(TwilioTimeoutError, method, uri, "timed out", sent=None) from exc
        except aiohttp.ClientConnectorError as exc:
            # The connection never opened: nothing was sent.
            refused = isinstance(exc.os_error, ConnectionRefusedError)
            cause = "connection refused" if refused else _describe(exc)
            raise _no_answer(TwilioConnectionError, method, uri, cause, sent=False) from exc
        except aiohttp.ServerDisconnectedError as exc:
            raise _no_answer(TwilioConnectionError, method, uri, _describe(exc), sent=True) from exc
        except aiohttp.ClientError as exc:
            raise _no_answer(TwilioConnectionError, method, uri, _describe(exc), sent=None) from exc
        finally:
            if temporary:
                await session.close()
        self.last_response = response
        return response

    def _session(self) -> tuple[aiohttp.ClientSession, bool]:
        """The pooled session (made on first use, in the running loop), or a
        temporary one when ``pool_connections`` is False."""
        loop = asyncio.get_running_loop()
        if not self.pool_connections:
            return aiohttp.ClientSession(trace_configs=self.trace_configs), True
        if self.session is None or self.session.closed:
            self.session = aiohttp.ClientSession(trace_configs=self.trace_configs)
            self._loop = loop
        elif self._loop is not loop:
            raise TwilioException(
                "this AsyncTwilioHttpClient's session belongs to another event loop: "
                "make one client per event loop"
            )
        return self.session, False

    async def close(self) -> None:
        """Close the session (a later request opens a new one)."""
        session, self.session = self.session, None
        if session is not None:
            await session.close()

    async def __aenter__(self) -> AsyncTwilioHttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _no_answer(
    kind: type[TwilioConnectionError], method: str, uri: str, cause: str, sent: bool | None
) -> TwilioConnectionError:
    error = kind(method, uri, cause)
    error.request_sent = sent
    return error


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]
