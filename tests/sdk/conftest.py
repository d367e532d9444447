from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from werkzeug.serving import BaseWSGIServer, make_server

from console.sandbox import SandboxConfig, SandboxThread
from tests.helpers import TEST_KEY
from tests.sandbox.conftest import make_config
from twilio.rest import Client


class SandboxHandle:
    """A running sandbox plus blocking helpers to look at it as the test."""

    def __init__(self, thread: SandboxThread) -> None:
        self.thread = thread
        self.url = thread.url
        self.session = requests.Session()

    def call(self, call_id: str) -> dict[str, Any]:
        response = self.session.get(f"{self.url}/sandbox/calls/{call_id}", timeout=5)
        assert response.status_code == 200, response.text
        return dict(response.json()["call"])

    def calls(self) -> list[dict[str, Any]]:
        return list(self.session.get(f"{self.url}/sandbox/calls", timeout=5).json()["calls"])

    def requests_received(self, path: str) -> int:
        stats = self.session.get(f"{self.url}/sandbox/stats", timeout=5).json()
        return int(stats["requests"].get(path, 0))

    def press(self, call_id: str, digits: str) -> None:
        response = self.session.post(
            f"{self.url}/sandbox/calls/{call_id}/press", json={"digits": digits}, timeout=5
        )
        assert response.status_code == 200, response.text

    def faults(self, **faults: Any) -> None:
        response = self.session.put(f"{self.url}/sandbox/faults", json=faults, timeout=5)
        assert response.status_code == 200, response.text

    def wait(
        self, predicate: Callable[[], bool], within: float = 10.0, what: str = "condition"
    ) -> None:
        deadline = time.monotonic() + within
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.01)

    def wait_status(self, call_id: str, status: str, within: float = 10.0) -> dict[str, Any]:
        self.wait(
            lambda: self.call(call_id)["status"] == status, within, f"call {call_id} to be {status}"
        )
        return self.call(call_id)


def start_sandbox(config: SandboxConfig | None = None) -> SandboxThread:
    thread = SandboxThread(config or make_config())
    thread.start()
    return thread


@pytest.fixture
def sandbox() -> Iterator[SandboxHandle]:
    thread = start_sandbox()
    handle = SandboxHandle(thread)
    yield handle
    handle.session.close()
    thread.stop()


@pytest.fixture
def client(sandbox: SandboxHandle) -> Iterator[Client]:
    sdk = Client("AC" + "1" * 32, TEST_KEY, base_url=sandbox.url, environment={}, backoff=0.01)
    yield sdk
    sdk.close()


class AppServer:
    """A WSGI app (Flask) on a loopback port, in a thread, as a real webhook server."""

    def __init__(self, app: Any) -> None:
        self._server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def serve() -> Iterator[Callable[[Any], AppServer]]:
    servers: list[AppServer] = []

    def start(app: Any) -> AppServer:
        server = AppServer(app)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
