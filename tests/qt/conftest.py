"""Qt tests run their async parts on a qasync loop: asyncio on Qt's event loop,
as the console itself does. Wait with ``asyncio.sleep``, never ``qtbot.wait``,
inside an async test (TOOLCHAIN.md)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication

from console.app import Console, build_window, start_console
from console.qt.main_window import MainWindow
from console.qt.theme import apply_theme
from console.services.secrets import MemoryStore
from tests.helpers import until


def _qasync_loop() -> asyncio.AbstractEventLoop:
    app = QApplication.instance() or QApplication([])
    return qasync.QEventLoop(app)


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], Any]]:
    return {"qasync": _qasync_loop}


@pytest.fixture(autouse=True)
def _delete_closed_windows() -> None:
    """Delete the windows earlier tests closed. pytest-qt closes a test's widgets
    and calls ``deleteLater``, which only an event loop carries out: after sync
    tests nothing ran one, so every window stayed alive and each theme change
    restyled all of them (4,500 widgets, 1.8 s a test, after 18 tests)."""
    if QApplication.instance() is not None:
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


class Running:
    def __init__(self, console: Console, window: MainWindow) -> None:
        self.console = console
        self.window = window

    def call(self, number: str) -> Any:
        calls = [c for c in self.console.session.state.calls.values() if c.to == number]
        return calls[-1] if calls else None

    async def dial(self, number: str) -> Any:
        self.window.number.setText(number)
        self.window.dial()
        await until(lambda: self.call(number) is not None, what=f"{number} on the board")
        return self.call(number)

    def select(self, sid: str) -> None:
        self.window.table.selectRow(self.window.board.row_of(sid))

    async def sandbox_call(self, sid: str) -> dict[str, Any]:
        assert self.console.sandbox is not None
        async with self.console.http.get(f"{self.console.sandbox.url}/sandbox/calls/{sid}") as resp:
            return dict((await resp.json())["call"])


@pytest.fixture
async def running(tmp_path: Path, qtbot: Any) -> AsyncIterator[Running]:
    apply_theme("light")  # a test that switched themes does not leak it into the next
    console = await start_console(
        settings_path=tmp_path / "settings.json", store=MemoryStore(), data_dir=tmp_path / "data"
    )
    assert console.sandbox is not None
    # Tests run the embedded sandbox 20x faster than real time.
    console.sandbox.simulator.clock.scale = 20.0
    window = build_window(console)
    qtbot.addWidget(window)
    window.show()
    yield Running(console, window)
    await console.close()
