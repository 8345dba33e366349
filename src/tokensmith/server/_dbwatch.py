"""Whether the database answers, as the requests of one process find it: the events
``database_unavailable`` and ``database_recovered`` are edge-triggered (one each per outage and
process, not one per failing request); every failing request is a ``database_error`` event,
logged at DEBUG only."""

from __future__ import annotations

import time

from ..store import Database
from ._events import emit


class DatabaseWatch:
    """Reports the database going away (at the first request that fails) and coming back (at
    the first :meth:`probe` that writes to it afterwards)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.down_since: float | None = None

    def failed(self, exc: BaseException) -> None:
        """Report a request that failed because the database could not be reached."""
        kind = type(exc.__cause__ or exc).__name__
        emit("database_error", error=kind)
        if self.down_since is None:
            self.down_since = time.monotonic()
            emit("database_unavailable", error=kind)

    async def probe(self) -> None:
        """While the database is reported unavailable, try a write (of no row, rolled back: a
        SQLite file locked by another process still reads); report it recovered when that
        works. Does nothing while it is available."""
        if self.down_since is None:
            return
        try:
            await self.db.check_writable()
        except Exception:  # still away, whichever way it fails
            return
        seconds = round(time.monotonic() - self.down_since, 3)
        self.down_since = None
        emit("database_recovered", unavailable_seconds=seconds)
