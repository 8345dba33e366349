"""The two event logs: admin events (every change made to a realm, and who made it) and events
(refused client authentications, refresh-token reuse), each row timed in milliseconds and kept
until retention prunes it (:func:`delete_older`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ._models import AdminEventRecord, EventRecord
from ._tables import admin_events, events


async def add_admin_event(
    conn: AsyncConnection,
    *,
    time: int,
    realm: str,
    operation: str,
    resource_type: str,
    resource_path: str,
    via: str,
    actor: str | None,
    address: str | None,
    details: str,
) -> None:
    """Record one change made to ``realm`` (in the transaction that makes it)."""
    await conn.execute(
        insert(admin_events).values(
            time=time,
            realm=realm,
            operation=operation,
            resource_type=resource_type,
            resource_path=resource_path,
            via=via,
            actor=actor,
            address=address,
            details=details,
        )
    )


async def list_admin_events(
    conn: AsyncConnection, realm: str, *, first: int, limit: int
) -> list[AdminEventRecord]:
    """The realm's admin events, newest first, skipping ``first``, at most ``limit``."""
    rows = await conn.execute(
        select(admin_events)
        .where(admin_events.c.realm == realm)
        .order_by(admin_events.c.time.desc(), admin_events.c.id.desc())
        .offset(first)
        .limit(limit)
    )
    return [AdminEventRecord(**row._mapping) for row in rows]


async def add_events(conn: AsyncConnection, rows: Sequence[Mapping[str, object]]) -> None:
    """Record security events, in one batched statement: each a mapping of ``time``,
    ``realm``, ``type``, ``client_id``, ``address``, ``error`` and ``details``."""
    if rows:
        await conn.execute(insert(events), list(rows))


async def list_events(
    conn: AsyncConnection, realm: str, *, first: int, limit: int
) -> list[EventRecord]:
    """The realm's events, newest first, skipping ``first``, at most ``limit``."""
    rows = await conn.execute(
        select(events)
        .where(events.c.realm == realm)
        .order_by(events.c.time.desc(), events.c.id.desc())
        .offset(first)
        .limit(limit)
    )
    return [EventRecord(**row._mapping) for row in rows]


async def delete_older(conn: AsyncConnection, before: int, *, limit: int = 5000) -> int:
    """Forget admin events and events older than ``before`` (milliseconds), at most ``limit``
    of each (so that each statement stays short); returns how many went. Call again while it
    returns ``limit`` or more."""
    gone = 0
    for table in (admin_events, events):
        gone += await _delete_older(conn, table, before, limit)
    return gone


async def _delete_older(conn: AsyncConnection, table: Table, before: int, limit: int) -> int:
    old = select(table.c.id).where(table.c.time < before).order_by(table.c.time).limit(limit)
    result = await conn.execute(delete(table).where(table.c.id.in_(old)))
    return result.rowcount
