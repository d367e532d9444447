"""The socket guard refuses everything but loopback, however the code connects."""

from __future__ import annotations

import socket

import aiohttp
import pytest
import requests

from tests.conftest import NonLoopbackError, take_violations

# TEST-NET-1 (RFC 5737): reserved for documentation, never routed.
UNROUTABLE = "192.0.2.1"


def test_plain_socket_to_a_public_address_is_refused() -> None:
    with pytest.raises(NonLoopbackError), socket.create_connection((UNROUTABLE, 80), timeout=1):
        pass
    assert take_violations() == [f"'{UNROUTABLE}' (socket AF_INET)"]


def test_name_lookup_of_a_public_host_is_refused() -> None:
    with pytest.raises(NonLoopbackError):
        socket.getaddrinfo("example.com", 443)
    assert take_violations() == ["a name look-up of 'example.com'"]


def test_requests_to_a_public_address_is_refused_even_when_wrapped() -> None:
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://{UNROUTABLE}:3000/", timeout=1)
    assert take_violations(), "requests wrapped the refusal; the guard must still record it"


async def test_aiohttp_to_a_public_address_is_refused() -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(f"http://{UNROUTABLE}:3000/")
    assert take_violations()


def test_udp_datagram_to_a_public_address_is_refused() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, pytest.raises(NonLoopbackError):
        sock.sendto(b"x", (UNROUTABLE, 53))
    assert take_violations()


def test_loopback_is_allowed() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=1):
            pass
    # No name that must resolve: a bare Debian root has no /etc/hosts.
    assert socket.getaddrinfo("127.0.0.1", 80)
    assert take_violations() == []
