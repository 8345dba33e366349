"""Refresh tokens: stored as digests, grouped in families, used once."""

from __future__ import annotations

import dataclasses

from sqlalchemy import ColumnElement, and_, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..oauth import sha256_hex
from ._models import RefreshTokenRecord
from ._tables import clients, refresh_tokens


def digest(token: str) -> str:
    """How a refresh token is known in the store: the hex SHA-256 of its value."""
    return sha256_hex(token)


async def insert_refresh_token(conn: AsyncConnection, record: RefreshTokenRecord) -> None:
    """Store a new refresh token."""
    await conn.execute(insert(refresh_tokens).values(**dataclasses.asdict(record)))


async def get_refresh_token(
    conn: AsyncConnection, digest: str, *, for_update: bool = False
) -> RefreshTokenRecord | None:
    """The refresh token with this digest, or None. ``for_update`` locks its row until the
    transaction ends (PostgreSQL; SQLite writers hold the whole database already), so that two
    requests presenting one token are decided one after the other, each seeing the other's
    outcome."""
    query = select(refresh_tokens).where(refresh_tokens.c.digest == digest)
    row = (await conn.execute(query.with_for_update() if for_update else query)).first()
    if row is None:
        return None
    return RefreshTokenRecord(**{**row._mapping, "revoked": bool(row.revoked)})


async def claim_refresh_token(conn: AsyncConnection, digest: str, now: int) -> bool:
    """Mark the token used, atomically; False when it was already used or revoked."""
    result = await conn.execute(
        update(refresh_tokens).where(_live(refresh_tokens.c.digest == digest)).values(used_at=now)
    )
    return result.rowcount == 1


async def has_live_child(conn: AsyncConnection, parent: str) -> bool:
    """Whether the token that replaced ``parent`` is still unused and unrevoked."""
    found = await conn.scalar(
        select(refresh_tokens.c.digest).where(_live(refresh_tokens.c.parent == parent))
    )
    return found is not None


async def supersede_child(conn: AsyncConnection, parent: str) -> bool:
    """Revoke the live (unused, unrevoked) token that replaced ``parent``, atomically; False
    when there is none (it was used, revoked, or never issued)."""
    result = await conn.execute(
        update(refresh_tokens).where(_live(refresh_tokens.c.parent == parent)).values(revoked=True)
    )
    return result.rowcount == 1


def _live(which: ColumnElement[bool]) -> ColumnElement[bool]:
    """``which`` refresh tokens, of those neither used nor revoked."""
    return and_(which, refresh_tokens.c.used_at.is_(None), refresh_tokens.c.revoked.is_(False))


async def revoke_family(conn: AsyncConnection, family: str) -> int:
    """Revoke every token of a family; returns how many were still live."""
    result = await conn.execute(
        update(refresh_tokens)
        .where(and_(refresh_tokens.c.family == family, refresh_tokens.c.revoked.is_(False)))
        .values(revoked=True)
    )
    return result.rowcount


async def delete_expired(conn: AsyncConnection, now: int, *, limit: int = 5000) -> int:
    """Forget refresh tokens that expired before ``now``, at most ``limit`` of them (so that the
    statement stays short); returns how many went. Call again while it returns ``limit``."""
    oldest = select(refresh_tokens.c.digest).where(refresh_tokens.c.expires_at < now)
    result = await conn.execute(
        delete(refresh_tokens).where(refresh_tokens.c.digest.in_(oldest.limit(limit)))
    )
    return result.rowcount


async def client_id_of(conn: AsyncConnection, client_pk: int) -> str | None:
    """The ``client_id`` of the client with this primary key."""
    value = await conn.scalar(select(clients.c.client_id).where(clients.c.id == client_pk))
    return str(value) if value is not None else None
