"""The desk's HTTP client for a team's gateway (docs/TEAM.md), besides the SDK.

aiohttp with ``trust_env=True``: HTTP(S)_PROXY and NO_PROXY are honoured, so a
desk behind a call center's proxy reaches the gateway like any browser. Every
request carries the operator token as its Bearer key. The SDK (telephony)
places calls and acts; this client reads the team's snapshots, posts the
desk's presence and opens the stream (``services.team_stream``).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp

log = logging.getLogger("kaphila.console.team")

ME = "/team/me"
CALLS = "/team/calls"
PRESENCE = "/team/presence"
STATS = "/team/stats"
EVENTS = "/team/events"
REQUEST_TIMEOUT = 10.0


class TeamApiError(Exception):
    """The gateway answered no, or could not be reached (``status`` 0)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}" if status else message)
        self.status = status
        self.message = message

    @property
    def refused_token(self) -> bool:
        """401: the token is unknown, or its operator was removed."""
        return self.status == 401


class TeamApi:
    def __init__(
        self,
        base_url: str,
        token: str,
        http: aiohttp.ClientSession | None = None,
        timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._own_http = http is None
        self._http = http
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None:  # made on the loop that first uses it
            self._http = aiohttp.ClientSession(trust_env=True)
        return self._http

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}", **extra}

    async def get(self, path: str) -> dict[str, Any]:
        return await self._request("GET", path, None)

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._request("POST", path, body)

    async def _request(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        try:
            async with self.http.request(
                method,
                self.base_url + path,
                json=body,
                headers=self.headers(),
                timeout=self._timeout,
            ) as resp:
                text = await resp.text()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TeamApiError(0, f"{type(exc).__name__}: {exc}") from exc
        try:
            data = json.loads(text) if text else {}
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        if status >= 400:
            error = data.get("error")
            raise TeamApiError(status, error if isinstance(error, str) else text[:200])
        return data

    async def open_events(self, after: int, idle_timeout: float) -> aiohttp.ClientResponse:
        """The stream's response, once its headers are in (the caller reads and
        closes it). ``Last-Event-ID`` resumes after ``after``; a read that waits
        longer than ``idle_timeout`` (no event, no keepalive) raises."""
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10.0, sock_read=idle_timeout)
        headers = self.headers(Accept="text/event-stream", **{"Last-Event-ID": str(after)})
        try:
            resp = await self.http.get(self.base_url + EVENTS, headers=headers, timeout=timeout)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TeamApiError(0, f"{type(exc).__name__}: {exc}") from exc
        if resp.status != 200:
            try:
                text = await resp.text()
            finally:
                resp.release()
            try:
                error = json.loads(text).get("error")
            except (ValueError, AttributeError):
                error = None
            raise TeamApiError(resp.status, error if isinstance(error, str) else text[:200])
        return resp

    async def close(self) -> None:
        if self._own_http and self._http is not None:
            await self._http.close()
