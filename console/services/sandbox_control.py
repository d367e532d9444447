"""The embedded sandbox's control API, for the operator playing the callee
(``/sandbox/calls/{id}/press`` and ``/hangup``): only with the sandbox profile."""

from __future__ import annotations

import logging

import aiohttp

log = logging.getLogger("kaphila.console.sandbox_control")


class SandboxControl:
    def __init__(self, http: aiohttp.ClientSession, base_url: str) -> None:
        self._http = http
        self._base = base_url.rstrip("/")

    async def press(self, sid: str, digits: str) -> None:
        await self._post(f"/sandbox/calls/{sid}/press", {"digits": digits})

    async def hang_up(self, sid: str) -> None:
        await self._post(f"/sandbox/calls/{sid}/hangup", {})

    async def _post(self, path: str, body: dict[str, str]) -> None:
        try:
            async with self._http.post(self._base + path, json=body) as resp:
                if resp.status >= 400:
                    answer = await resp.json(content_type=None)
                    log.warning("sandbox control %s: %s", path, answer.get("error"))
        except (aiohttp.ClientError, ValueError, AttributeError) as exc:
            log.warning("sandbox control %s failed: %s", path, exc)
