"""Test-wide rules: Qt runs offscreen, and nothing leaves the machine.

The socket guard is installed when this file is imported, before any test
module, so it also covers threads a test starts. It refuses connections,
datagrams and name look-ups for anything but loopback, and every refused
attempt also fails the test that made it, even if the code under test
swallowed the error.
"""

from __future__ import annotations

import gc
import ipaddress
import os
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from console.sandbox import Sandbox, SandboxConfig
    from tests.helpers import SandboxApi, WebhookReceiver

# Without a platform plugin and without DISPLAY, Qt aborts the whole process.
os.environ["QT_QPA_PLATFORM"] = "offscreen"


class NonLoopbackError(ConnectionRefusedError):
    """Raised instead of reaching a non-loopback address from a test."""


_violations: list[str] = []
_violations_lock = threading.Lock()

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def _is_loopback_host(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if not isinstance(host, str):
        return False
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _refuse(what: str) -> NonLoopbackError:
    with _violations_lock:
        _violations.append(what)
    return NonLoopbackError(f"network guard: tests may only reach loopback, not {what}")


def _check_address(sock: socket.socket, address: Any) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return  # AF_UNIX and friends never leave the machine
    host = address[0] if isinstance(address, tuple) and address else address
    if not _is_loopback_host(host):
        raise _refuse(f"{host!r} (socket {sock.family.name})")


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_sendto = socket.socket.sendto
_real_getaddrinfo = socket.getaddrinfo


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check_address(self, address)
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check_address(self, address)
    return _real_connect_ex(self, address)


def _guarded_sendto(self: socket.socket, data: Any, *args: Any) -> int:
    _check_address(self, args[-1])
    return _real_sendto(self, data, *args)  # type: ignore[arg-type]


def _is_ip_literal(host: Any) -> bool:
    try:
        ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError:
        return False
    return True


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    # An IP literal resolves without the network; connect() is checked for it.
    if host is not None and not _is_loopback_host(host) and not _is_ip_literal(host):
        raise _refuse(f"a name look-up of {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
socket.socket.sendto = _guarded_sendto  # type: ignore[method-assign, assignment]
socket.getaddrinfo = _guarded_getaddrinfo


def take_violations() -> list[str]:
    """Read and clear the refused attempts (the guard's own tests use this)."""
    with _violations_lock:
        taken = list(_violations)
        _violations.clear()
    return taken


def pytest_configure(config: pytest.Config) -> None:
    # The cyclic collector runs only between tests, on the main thread (below).
    gc.disable()


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Collect each test's garbage here, on the thread that runs Qt.

    A Qt test leaves Python wrappers of QObjects in reference cycles (a window's
    widgets hold its bound methods, each qasync loop its timers). Left to the
    automatic cyclic GC, they are freed by whichever thread happens to allocate
    next (a sandbox, journal or SDK worker): the C++ objects die off the GUI
    thread and a later event segfaults the run, tests afterwards. So automatic
    collection is off for the session and every test's garbage goes here. What
    survives is frozen (never scanned again), so each collection costs only what
    the test itself allocated."""
    result = yield
    gc.collect()
    gc.freeze()
    return result


@pytest.fixture(autouse=True)
def _private_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test reads or writes the real user's config or history."""
    home = tmp_path_factory.mktemp("home")
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(name, str(home / name.lower()))


@pytest.fixture(autouse=True)
def _network_guard() -> Iterator[None]:
    take_violations()
    yield
    refused = take_violations()
    if refused:
        pytest.fail("the test tried to leave loopback: " + "; ".join(refused), pytrace=False)


# ---------------------------------------------------------------------------------
# A sandbox on the test's own loop, a webhook receiver and an API client: the real
# peers of the sandbox, service and console tests (tests/sdk has its own threaded
# sandbox for the blocking SDK).


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    from tests.sandbox.conftest import make_config

    return make_config()


@pytest.fixture
async def sandbox(sandbox_config: SandboxConfig) -> AsyncIterator[Sandbox]:
    from console.sandbox import Sandbox

    async with Sandbox(sandbox_config) as running:
        yield running


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    from tests.helpers import WebhookReceiver

    hook = WebhookReceiver()
    await hook.start()
    yield hook
    await hook.stop()


@pytest.fixture
async def api(sandbox: Sandbox) -> AsyncIterator[SandboxApi]:
    import aiohttp

    from tests.helpers import TEST_KEY, SandboxApi

    async with aiohttp.ClientSession() as session:
        yield SandboxApi(sandbox.url, TEST_KEY, session)
