"""Requests to Kaphila (``--upstream``), answered back verbatim.

One ``aiohttp.ClientSession`` per process (``GatewayContext.upstream``). It never
follows a redirect: every request passes ``allow_redirects=False``, and a
session middleware refuses any request that is not for the upstream's origin,
so a Bearer key cannot be carried elsewhere even by a caller that forgets.

Every request is counted in its session's metrics (``instrument``), by Kaphila's
status or ``timeout``/``error``: ``kgw_upstream_requests_total``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import ClientHandlerType, ClientRequest, ClientResponse, hdrs, web
from yarl import URL

from console.gateway.config import GatewayConfig
from console.gateway.context import GatewayContext
from console.gateway.metrics import Metrics
from twilio import kaphila

log = logging.getLogger("kaphila.gateway.upstream")

USER_AGENT = "kaphila-gateway/1"
MAX_ANSWER_BYTES = 1024 * 1024
REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Each session's metrics: request() is called with the session alone (the proxy's
# callers too), and an aiohttp session takes no attributes of ours.
_METRICS: weakref.WeakKeyDictionary[aiohttp.ClientSession, Metrics] = weakref.WeakKeyDictionary()


class UpstreamError(Exception):
    """Kaphila gave no usable answer, or refused.

    ``status`` is Kaphila's HTTP status when it answered (a refusal: 4xx, 5xx),
    None when it did not (no connection, a timeout, a body that is not JSON).
    ``maybe_done`` says whether the request may still have taken effect (a
    timeout: maybe; a refused connection: no). ``http_status`` is what the
    gateway answers its own caller: Kaphila's status, else 502, or 504 for a
    timeout. ``answered`` is the HTTP status of an answer the gateway could not
    use (a redirect, a body that is not JSON), for metrics."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None,
        maybe_done: bool,
        http_status: int = 502,
        answered: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.maybe_done = maybe_done
        self.http_status = status if status is not None else http_status
        self.answered = answered if answered is not None else status


def make_session(config: GatewayConfig) -> aiohttp.ClientSession:
    origin = URL(config.upstream).origin()

    async def only_upstream(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        if request.url.origin() != origin:
            raise aiohttp.InvalidUrlClientError(
                request.url.with_query(None), "the upstream session only talks to --upstream"
            )
        return await handler(request)

    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=config.upstream_timeout),
        headers={"User-Agent": USER_AGENT},
        middlewares=(only_upstream,),
        # Each gateway request is one upstream request; keep-alive is the saving.
        connector=aiohttp.TCPConnector(limit=256, ttl_dns_cache=60),
    )


def instrument(session: aiohttp.ClientSession, metrics: Metrics) -> None:
    """Count ``session``'s requests in ``metrics`` (the gateway's, at start)."""
    _METRICS[session] = metrics


@dataclass
class Answer:
    """Kaphila's answer: status, body bytes (JSON), its parsed form, Retry-After."""

    status: int
    body: bytes
    data: Any
    retry_after: str | None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300 and not (
            isinstance(self.data, dict) and self.data.get("success") is False
        )

    def response(self) -> web.Response:
        headers = {hdrs.RETRY_AFTER: self.retry_after} if self.retry_after else None
        return web.Response(
            body=self.body, status=self.status, content_type="application/json", headers=headers
        )


async def request(
    session: aiohttp.ClientSession,
    base: str,
    method: str,
    path: str,
    key: str,
    body: bytes | None = None,
    content_type: str | None = None,
) -> Answer:
    """``method base+path`` with the caller's key; Answer, or UpstreamError (502/504)."""
    metrics = _METRICS.get(session)
    try:
        answer = await _request(session, base, method, path, key, body, content_type)
    except UpstreamError as exc:
        if metrics is not None:
            metrics.upstream(exc.answered, timeout=exc.answered is None and exc.http_status == 504)
        raise
    if metrics is not None:
        metrics.upstream(answer.status)
    return answer


async def _request(
    session: aiohttp.ClientSession,
    base: str,
    method: str,
    path: str,
    key: str,
    body: bytes | None,
    content_type: str | None,
) -> Answer:
    headers = {hdrs.AUTHORIZATION: f"Bearer {key}"}
    if content_type:
        headers[hdrs.CONTENT_TYPE] = content_type
    try:
        async with session.request(
            method,
            base + path,
            data=body,
            headers=headers,
            skip_auto_headers=() if content_type else (hdrs.CONTENT_TYPE,),
            allow_redirects=False,
        ) as resp:
            raw = await resp.content.read(MAX_ANSWER_BYTES + 1)
            status, location = resp.status, resp.headers.get(hdrs.LOCATION, "")
            retry_after = resp.headers.get(hdrs.RETRY_AFTER)
    except TimeoutError:
        raise UpstreamError(
            f"Kaphila did not answer: no answer to {method} {path} within "
            f"{session.timeout.total:g} s",
            status=None,
            maybe_done=True,
            http_status=504,
        ) from None
    except aiohttp.ClientConnectorError as exc:
        raise UpstreamError(
            f"Kaphila did not answer: cannot connect to {exc.host}:{exc.port} "
            f"({exc.strerror or exc.os_error})",
            status=None,
            maybe_done=False,
        ) from None
    except aiohttp.ClientError as exc:
        raise UpstreamError(
            f"Kaphila did not answer: {type(exc).__name__}: {exc}", status=None, maybe_done=True
        ) from None
    if status in REDIRECTS:
        raise UpstreamError(
            f"Kaphila answered {method} {path} with a redirect (HTTP {status} to "
            f"{location[:120]!r}); the gateway does not follow redirects: check --upstream",
            status=None,
            maybe_done=False,
            answered=status,
        )
    if len(raw) > MAX_ANSWER_BYTES:
        raise UpstreamError(
            f"Kaphila's answer to {method} {path} is larger than 1 MiB",
            status=None,
            maybe_done=True,
            answered=status,
        )
    try:
        data = json.loads(raw)
    except ValueError:
        raise UpstreamError(
            f"Kaphila answered {method} {path} with HTTP {status} and a body that is not JSON",
            status=None,
            maybe_done=status < 400,
            answered=status,
        ) from None
    log.debug("upstream %s %s -> %d", method, path, status)
    return Answer(status, raw, data, retry_after)


async def call_upstream(
    ctx: GatewayContext, key: str, path: str, body: dict[str, Any]
) -> dict[str, Any]:
    """POST ``body`` as JSON to Kaphila's ``path`` with ``key`` (the plain Bearer key);
    Kaphila's JSON answer on success, else UpstreamError (``status`` set when
    Kaphila refused: its HTTP status; the message carries Kaphila's words)."""
    answer = await request(
        ctx.upstream,
        ctx.config.upstream,
        "POST",
        path,
        key,
        json.dumps(body, separators=(",", ":")).encode(),
        "application/json",
    )
    if not answer.ok:
        said = answer.data.get(kaphila.F_ERROR) if isinstance(answer.data, dict) else None
        raise UpstreamError(
            f"Kaphila refused {path} (HTTP {answer.status}): {said or 'no reason given'}",
            status=answer.status if answer.status >= 400 else 502,
            maybe_done=False,
        )
    return answer.data if isinstance(answer.data, dict) else {}


async def close_session(session: aiohttp.ClientSession) -> None:
    await session.close()
    await asyncio.sleep(0)  # let the connector's transports finish closing
