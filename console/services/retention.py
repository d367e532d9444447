"""History retention: finished calls older than the setting leave the journal,
checked at most once an hour while the console runs."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from console.services.journal import Journal

log = logging.getLogger("kaphila.console.retention")

SWEEP_EVERY = 3600.0  # seconds between retention sweeps while running
DAY = 86400.0


class Retention:
    def __init__(self, journal: Journal | None, days: Callable[[], int]) -> None:
        self._journal = journal
        self._days = days
        self._swept_at = 0.0

    def due(self, now: float) -> bool:
        """True (once an hour) when a sweep should run now."""
        if not self._days() or now - self._swept_at <= SWEEP_EVERY:
            return False
        self._swept_at = now
        return True

    async def apply(self) -> int:
        """Delete finished calls older than the setting (0 keeps all); how many went."""
        days = self._days()
        if not days or self._journal is None:
            return 0
        deleted = await self._journal.delete(before=time.time() - days * DAY)
        if deleted:
            log.info("history: %d calls older than %d days deleted", deleted, days)
        return deleted

    async def delete_all(self) -> int:
        """Every finished call leaves the history (live calls stay)."""
        return await self._journal.delete(before=None) if self._journal is not None else 0
