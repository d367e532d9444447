"""Fixtures for the services' tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.services.rig import Rig


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    r = Rig(tmp_path / "journal.sqlite3")
    await r.journal.open()
    assert r.journal.on, r.journal.problem
    await r.listener.start()
    async with aiohttp.ClientSession() as http:
        r.http = http
        yield r
    await r.listener.stop()
    await r.journal.close()
