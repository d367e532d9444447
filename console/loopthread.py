"""A server with ``start()``/``stop()`` coroutines, run on its own asyncio loop in
a daemon thread, for blocking callers (the SDK's tests, scripts): the one
mechanism behind ``SandboxThread`` and ``GatewayThread``.

Outside the layers: the sandbox and the gateway may both use it, and it
imports nothing of the project's.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

T = TypeVar("T")


class Server(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class LoopThread:
    def __init__(self, server: Server, name: str, timeout: float = 10.0) -> None:
        self._server = server
        self._timeout = timeout  # for starting and for stopping
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        """Run ``coro`` on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def start(self) -> None:
        self._thread.start()
        try:
            self.run(self._server.start(), timeout=self._timeout)
        except BaseException:
            self._end_loop()
            raise

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        try:
            self.run(self._server.stop(), timeout=self._timeout)
        finally:
            self._end_loop()

    def _end_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        with contextlib.suppress(RuntimeError):  # still running: the thread did not stop
            self._loop.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
