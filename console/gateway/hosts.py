"""Where the gateway may send requests: the apps' TwiML URLs, status callbacks and
plain-Kaphila relays are addresses its callers chose, so they are checked twice —
the URL when it is given, and every address a name resolves to when a
connection is made (a name that resolved to a public address at ``/makecall``
may resolve to 127.0.0.1 later).

Default: public addresses only. ``allow_loopback`` (``--allow-loopback``: tests,
the demo, a developer's laptop) also allows loopback; ``allow_private`` allows
private ranges (a call center's own LAN apps).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class HostPolicy:
    def __init__(self, *, allow_loopback: bool = False, allow_private: bool = False) -> None:
        self.allow_loopback = allow_loopback
        self.allow_private = allow_private

    def address_problem(self, address: Address) -> str | None:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if address.is_loopback:
            return None if self.allow_loopback else "is a loopback address"
        if address.is_link_local or address.is_multicast or address.is_unspecified:
            return "is not a routable address"
        if address.is_private or address.is_reserved:
            return None if self.allow_private else "is in a private range"
        return None

    def problem(self, url: str) -> str | None:
        """None when ``url`` may be requested, else why not (a sentence's end)."""
        try:
            parts = urlsplit(url)
            host = parts.hostname
            _ = parts.port
        except ValueError:
            return f"{url!r} is not a valid URL"
        if parts.scheme not in ("http", "https"):
            return f"{url!r} is not an http(s) URL"
        if not host:
            return f"{url!r} has no host"
        if parts.username or parts.password:
            return f"{url!r} carries a user name or password; put them elsewhere"
        if host.lower() in LOOPBACK_NAMES:
            return None if self.allow_loopback else f"{host} is a loopback host"
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return None  # a name: checked again at connect time by resolver()
        why = self.address_problem(address)
        return None if why is None else f"{host} {why}"

    def resolver(self) -> AbstractResolver:
        """An aiohttp resolver that refuses addresses outside this policy."""
        return _PolicyResolver(self)


class _PolicyResolver(AbstractResolver):
    def __init__(self, policy: HostPolicy) -> None:
        self._policy = policy
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        allowed: list[ResolveResult] = []
        refused: list[str] = []
        for result in results:
            try:
                address = ipaddress.ip_address(result["host"])
            except ValueError:
                refused.append(str(result["host"]))
                continue
            why = self._policy.address_problem(address)
            if why is None:
                allowed.append(result)
            else:
                refused.append(f"{address} {why}")
        if not allowed:
            raise OSError(f"{host} is not allowed: {'; '.join(refused) or 'no address'}")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


def connector_kwargs(policy: HostPolicy) -> dict[str, Any]:
    """Keyword arguments for ``aiohttp.TCPConnector`` that enforce ``policy``."""
    return {"resolver": policy.resolver(), "ttl_dns_cache": 10}
