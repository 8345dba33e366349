"""Refresh tokens: stored as digests, grouped in families, used once."""

from __future__ import annotations

import dataclasses

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ._models import RefreshTokenRecord
from ._tables import refresh_tokens


async def insert_refresh_token(conn: AsyncConnection, record: RefreshTokenRecord) -> None:
    """Store a new refresh token."""
    await conn.execute(insert(refresh_tokens).values(**dataclasses.asdict(record)))


async def get_refresh_token(conn: AsyncConnection, digest: str) -> RefreshTokenRecord | None:
    """The refresh token with this digest, or None."""
    row = (
        await conn.execute(select(refresh_tokens).where(refresh_tokens.c.digest == digest))
    ).first()
    if row is None:
        return None
    return RefreshTokenRecord(**{**row._mapping, "revoked": bool(row.revoked)})


async def claim_refresh_token(conn: AsyncConnection, digest: str, now: int) -> bool:
    """Mark the token used, atomically; False when it was already used or revoked."""
    result = await conn.execute(
        update(refresh_tokens)
        .where(
            and_(
                refresh_tokens.c.digest == digest,
                refresh_tokens.c.used_at.is_(None),
                refresh_tokens.c.revoked.is_(False),
            )
        )
        .values(used_at=now)
    )
    return result.rowcount == 1


async def revoke_family(conn: AsyncConnection, family: str) -> int:
    """Revoke every token of a family; returns how many were still live."""
    result = await conn.execute(
        update(refresh_tokens)
        .where(and_(refresh_tokens.c.family == family, refresh_tokens.c.revoked.is_(False)))
        .values(revoked=True)
    )
    return result.rowcount


async def delete_expired(conn: AsyncConnection, now: int) -> int:
    """Forget refresh tokens that expired before ``now``; returns how many."""
    result = await conn.execute(delete(refresh_tokens).where(refresh_tokens.c.expires_at < now))
    return result.rowcount
