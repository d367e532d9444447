"""What keeps a web page in the user's browser away from the sandbox.

The sandbox listens on loopback without authentication on ``/sandbox/``, so any
page the user visits could otherwise drive it:

- **DNS rebinding**: a page on ``evil.example`` re-points its name at 127.0.0.1
  and its scripts then read and write the sandbox as their own origin. The
  browser still sends ``Host: evil.example``; only the sandbox's own names pass
  (``HostPolicy``), refused with 421.
- **Cross-site requests**: a page posts a form or a ``fetch`` to 127.0.0.1.
  Browsers mark those with ``Origin`` (every POST and PUT, and every CORS
  request) and ``Sec-Fetch-Site``; no tool the sandbox serves (curl, the SDK,
  the console) sends either, so a request carrying ``Origin`` or a cross-site
  ``Sec-Fetch-Site`` is refused with 403. The sandbox sends no CORS headers,
  so a preflight is refused too.
- Bodies must be ``application/json`` (``api.json_body_middleware``): a page
  can only send that type cross-origin after a preflight, so this holds even
  for a browser that leaves ``Origin`` out.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from aiohttp import hdrs, web

from console.sandbox.api import Handler, error_response

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
# Bound to these, the sandbox answers on every address the machine has.
WILDCARD_HOSTS = ("", "0.0.0.0", "::")  # noqa: S104 - recognising them, not binding
CROSS_SITE = ("cross-site", "same-site")
_HOST_NAME = re.compile(r"[A-Za-z0-9._-]+")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def split_host(header: str) -> tuple[str, IPAddress | None] | None:
    """A Host header's name, lower-cased and without the port, and its IP
    address when it is one; None when it is not a well-formed host[:port]."""
    if header.startswith("["):
        name, sep, port = header[1:].partition("]")
        address = _address(name)
        if not sep or not isinstance(address, ipaddress.IPv6Address):
            return None
        if port and not port.startswith(":"):
            return None
        port = port[1:]
    else:
        if header.count(":") > 1:  # an IPv6 address must come in brackets
            return None
        name, _, port = header.partition(":")
        address = _address(name)
        if address is None and not _HOST_NAME.fullmatch(name):
            return None
        if isinstance(address, ipaddress.IPv6Address):
            return None
    if port and not (port.isascii() and port.isdigit() and int(port) <= 65535):
        return None
    return name.lower(), address


class HostPolicy:
    """Which ``Host`` headers name this sandbox: loopback names, the address it
    is bound to and any extra names configured; any IP address when bound to
    all interfaces (an address, unlike a name, cannot be re-pointed by DNS).
    The port is not compared: a port forward may change it, and DNS rebinding
    is about the name."""

    def __init__(self, bind_host: str, extra: Iterable[str] = ()) -> None:
        self.any_address = bind_host in WILDCARD_HOSTS
        self._names: set[str] = set()
        self._addresses: set[IPAddress] = set()
        for host in (*LOOPBACK_NAMES, bind_host, *extra):
            address = _address(host.strip("[]"))
            if address is not None:
                self._addresses.add(address)
            elif host:
                self._names.add(host.lower())

    def allows(self, header: str) -> bool:
        parsed = split_host(header)
        if parsed is None:
            return False
        name, address = parsed
        if address is not None:
            return self.any_address or address in self._addresses
        return name in self._names


HOST_POLICY_KEY = web.AppKey("host_policy", HostPolicy)


def browser_refusal(request: web.Request) -> web.Response | None:
    """The error for a request a web page could have made, or None."""
    host = request.headers.getall(hdrs.HOST, [])
    # No Host at all is an HTTP/1.0 tool; browsers always send one.
    if len(host) > 1 or (host and not request.app[HOST_POLICY_KEY].allows(host[0])):
        return error_response(
            421,
            "this sandbox does not serve that Host; use http://127.0.0.1:<port> or "
            "another name it listens on (a page that re-points its own name at "
            "127.0.0.1 is refused)",
        )
    if hdrs.ORIGIN in request.headers:
        return error_response(
            403,
            "requests from web browsers are refused (they carry an Origin header): "
            "a web page must not drive the sandbox; use curl, the SDK or the console",
        )
    if request.headers.get("Sec-Fetch-Site", "").lower() in CROSS_SITE:
        return error_response(
            403,
            "cross-site requests from web browsers are refused (Sec-Fetch-Site); "
            "use curl, the SDK or the console",
        )
    return None


@web.middleware
async def browser_guard_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse foreign ``Host`` names and browser requests before anything else
    looks at them: no fault fires, nothing is counted, no body is read."""
    refusal = browser_refusal(request)
    if refusal is not None:
        return refusal
    return await handler(request)
