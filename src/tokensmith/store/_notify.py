"""Change notifications on PostgreSQL: ``NOTIFY`` when a realm changes, one ``LISTEN``
connection per process to hear it.

A change to a realm (its settings, clients, secrets, keys, paths, or its deletion) sends
``NOTIFY tokensmith_realm_changed, '<realm name>'`` in the transaction that makes it, so that
PostgreSQL delivers it when, and only if, that transaction commits; every listening service
drops what it cached of the realm at once instead of at its next poll. Notifications are not
stored: one sent while a listener is away is lost, so services keep polling as the fallback and
re-read the realms they hold each time their listener (re)connects.

SQLite has no such channel; a service on SQLite polls only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.url import URL
from sqlalchemy.ext.asyncio import AsyncConnection

from ._tables import realms

log = logging.getLogger("tokensmith.store")

CHANNEL = "tokensmith_realm_changed"
"""The channel realm changes are announced on; the payload is the realm's name. PostgreSQL
channels belong to one database, so services on different databases never hear each other."""

KEEPALIVE = 15.0
"""Seconds between the listener's checks that its connection still answers: a connection whose
server vanished without closing it (a frozen host, a dropped route) is noticed within this."""
_BACKOFF_FIRST = 0.5
_BACKOFF_MAX = 30.0


async def notify_realm_id(conn: AsyncConnection, realm_id: int) -> None:
    """Announce (on PostgreSQL, when the transaction commits) that the realm with id
    ``realm_id`` changed; nothing on SQLite."""
    if conn.dialect.name == "postgresql":
        await conn.execute(
            select(func.pg_notify(literal(CHANNEL), realms.c.name)).where(realms.c.id == realm_id)
        )


async def notify_realm(conn: AsyncConnection, name: str) -> None:
    """Announce (on PostgreSQL, when the transaction commits) that the realm ``name`` changed or
    is gone; nothing on SQLite."""
    if conn.dialect.name == "postgresql":
        await conn.execute(select(func.pg_notify(literal(CHANNEL), literal(name))))


class ChangeListener:
    """One dedicated asyncpg connection that ``LISTEN``\\s on :data:`CHANNEL` and calls
    ``on_change(realm name)`` for each notification, in the event loop.

    :meth:`run` keeps it connected: after each (re)connection it awaits ``on_connect()`` (the
    service re-reads what it may have missed); a lost connection is retried with exponential
    backoff from 0.5 s to 30 s, and nothing it raises reaches the caller, so serving never
    depends on it.
    """

    def __init__(
        self,
        dialect: Dialect,
        url: URL,
        on_change: Callable[[str], None],
        on_connect: Callable[[], Awaitable[None]],
        *,
        timeout: float,
        keepalive: float = KEEPALIVE,
    ) -> None:
        self._dialect = dialect
        self._url = url
        self.on_change = on_change
        self.on_connect = on_connect
        self.timeout = timeout
        self.keepalive = keepalive
        self.connected = asyncio.Event()
        self.notifications = 0

    def __repr__(self) -> str:
        return f"ChangeListener({self._url.render_as_string(hide_password=True)!r})"

    async def run(self) -> None:
        """Listen until cancelled, reconnecting with backoff whenever the connection is lost."""
        delay = _BACKOFF_FIRST
        failing = False
        while True:
            try:
                conn = await self._connect()
            except Exception as exc:  # an outage: try again later
                if not failing:
                    log.warning(
                        "cannot listen for realm changes (%s); polling until it can, retrying",
                        type(exc).__name__,
                    )
                failing = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, _BACKOFF_MAX)
                continue
            if failing:
                log.info("listening for realm changes again")
            failing = False
            delay = _BACKOFF_FIRST
            try:
                await self._listen(conn)
            except Exception as exc:
                log.warning(
                    "lost the connection listening for realm changes (%s); reconnecting",
                    type(exc).__name__,
                )
            finally:
                self.connected.clear()
                with contextlib.suppress(Exception):
                    conn.terminate()

    async def _connect(self) -> Any:
        import asyncpg

        args, kwargs = self._dialect.create_connect_args(self._url)
        return await asyncpg.connect(*args, **kwargs, timeout=self.timeout)

    async def _listen(self, conn: Any) -> None:
        """Hear notifications on ``conn`` until it is lost; raise when it is."""
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        await conn.add_listener(CHANNEL, self._heard)
        self.connected.set()
        await self.on_connect()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), self.keepalive)
            if lost.is_set() or conn.is_closed():
                raise ConnectionError("the listening connection closed")
            await conn.fetchval("SELECT 1", timeout=self.timeout)

    def _heard(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self.notifications += 1
        try:
            self.on_change(payload)
        except Exception:
            log.exception("could not act on a realm change notification")
