"""What a service process writes about its traffic without writing per request: security events
(``events``: refused client authentications, rate-limit refusals, refresh-token reuse), when each
client last got a token (``clients.last_used_at``), and the pruning of both event logs.

An :class:`EventRecorder` observes the events of :mod:`._events` (a dict update or a list append,
nothing else, on the request's path) and writes from a task of its own: the security events
buffered since the last write once a second, in one batched statement of at most
:data:`MAX_ROWS` rows (what a flood of failures adds beyond that is dropped, counted, and reported
as the event ``events_dropped``); the clients' last use every ``last_used_interval`` seconds
(default a minute), in one batched UPDATE that leaves the realm's version alone (no worker reloads
anything); and, once an hour, rows of either event log older than the retention. A successful
token request reads and writes no database for any of this. On shutdown what is buffered is
written.

A client id an unauthenticated caller sent is written only when it names a client of the realm
this process holds (a made-up id could be a secret pasted in the wrong field).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import TYPE_CHECKING

from ..oauth import Clock, system_clock
from ..store import Database, clients, eventlog
from ._events import Fields, clip, emit
from ._ratelimit import REQUEST_ADDRESS

if TYPE_CHECKING:
    from ._state import Registry

log = logging.getLogger("tokensmith.server")

MAX_ROWS = 100
"""Security events one process writes per flush (a second) at most; the rest are dropped."""
FLUSH_INTERVAL = 1.0
"""Seconds between writes of the buffered security events."""
PRUNE_INTERVAL = 3600.0
"""Seconds between prunings of the event logs, per process."""
PRUNE_BATCH = 5000
_DAY_MS = 86_400_000


class EventRecorder:
    """Buffers security events and clients' last use in memory and writes them in batches;
    prunes event rows older than ``retention_days``."""

    def __init__(
        self,
        db: Database,
        registry: Registry,
        *,
        retention_days: int,
        last_used_interval: float = 60.0,
        flush_interval: float = FLUSH_INTERVAL,
        max_rows: int = MAX_ROWS,
        clock: Clock = system_clock,
    ) -> None:
        self.db = db
        self.registry = registry
        self.retention_days = retention_days
        self.last_used_interval = last_used_interval
        self.flush_interval = flush_interval
        self.max_rows = max_rows
        self.clock = clock
        self.dropped = 0
        """Security events dropped since the start, past :attr:`max_rows` per flush."""
        self._rows: list[dict[str, object]] = []
        self._dropped_since = 0
        self._used: dict[tuple[str, str], int] = {}
        self._task: asyncio.Task[None] | None = None
        self._on = {
            "client_auth_failed": self._auth_failed,
            "rate_limited": self._rate_limited,
            "refresh_token_reused": self._reused,
        }

    def __repr__(self) -> str:
        return f"EventRecorder(buffered={len(self._rows)}, dropped={self.dropped})"

    def observe(self, name: str, fields: Fields) -> None:
        """Take note of event ``name`` (an :mod:`._events` observer): a token issued updates its
        client's last use in memory; a security event is buffered (or counted as dropped)."""
        if name == "token_issued":
            self._used[(str(fields["realm"]), str(fields["client_id"]))] = int(self.clock())
            return
        row = self._on.get(name)
        if row is not None:
            if len(self._rows) < self.max_rows:
                self._rows.append(row(fields))
            else:
                self._dropped_since += 1

    def _row(self, fields: Fields, kind: str, error: str, **details: object) -> dict[str, object]:
        realm = str(fields["realm"])
        client_id = fields.get("client_id")
        known = isinstance(client_id, str) and self.registry.knows_client(realm, client_id)
        address = fields.get("address") or REQUEST_ADDRESS.get()
        return {
            "time": int(self.clock() * 1000),
            "realm": realm,
            "type": kind,
            "client_id": client_id if known else None,
            "address": clip(str(address), 255),
            "error": error,
            "details": json.dumps(details, separators=(",", ":"), sort_keys=True),
        }

    def _auth_failed(self, fields: Fields) -> dict[str, object]:
        return self._row(
            fields,
            "CLIENT_LOGIN_ERROR",
            "invalid_client",
            reason=fields.get("reason"),
            method=fields.get("method"),
        )

    def _rate_limited(self, fields: Fields) -> dict[str, object]:
        return self._row(fields, "CLIENT_LOGIN_ERROR", "slow_down", limit=fields.get("limit"))

    def _reused(self, fields: Fields) -> dict[str, object]:
        return self._row(
            fields, "REFRESH_TOKEN_ERROR", "reuse", tokenState=fields.get("token_state")
        )

    def start(self) -> None:
        """Start writing in the background."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop, and write what is buffered."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.write_events()
        await self.write_last_use()

    async def _run(self) -> None:
        now = time.monotonic()
        events_at, used_at, prune_at = now, now + self.last_used_interval, now
        while True:
            now = time.monotonic()
            if now >= prune_at:
                prune_at = now + PRUNE_INTERVAL
                await self.prune()
            if now >= events_at:
                events_at = now + self.flush_interval
                await self.write_events()
            if now >= used_at:
                used_at = now + self.last_used_interval
                await self.write_last_use()
            await asyncio.sleep(max(0.01, min(events_at, used_at, prune_at) - time.monotonic()))

    async def write_events(self) -> None:
        """Write the buffered security events in one statement; report the dropped ones."""
        rows, self._rows = self._rows, []
        dropped, self._dropped_since = self._dropped_since, 0
        if dropped:
            self.dropped += dropped
            emit("events_dropped", count=dropped, kept=len(rows))
        if not rows:
            return
        try:
            async with self.db.write() as conn:
                await eventlog.add_events(conn, rows)
        except Exception as exc:  # the database is away: these events are lost, say so
            log.warning("cannot write %d security events: %s", len(rows), type(exc).__name__)

    async def write_last_use(self) -> None:
        """Write when each client that got a token since the last write last got one."""
        used, self._used = self._used, {}
        if not used:
            return
        try:
            async with self.db.write() as conn:
                await clients.record_use(conn, [(r, c, at) for (r, c), at in used.items()])
        except Exception as exc:  # kept for the next write, unless a newer use replaced them
            for key, at in used.items():
                self._used.setdefault(key, at)
            log.warning("cannot record clients' last use: %s", type(exc).__name__)

    async def prune(self) -> None:
        """Delete admin events and events older than the retention, in bounded batches."""
        before = int(self.clock() * 1000) - self.retention_days * _DAY_MS
        try:
            while True:
                async with self.db.write() as conn:
                    gone = await eventlog.delete_older(conn, before, limit=PRUNE_BATCH)
                if gone < PRUNE_BATCH:
                    return
        except Exception as exc:
            log.warning("cannot prune the event logs: %s", type(exc).__name__)
