"""Refresh tokens: stored as digests, grouped in families, used once."""

from __future__ import annotations

import dataclasses

from sqlalchemy import ColumnElement, and_, delete, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ..oauth import sha256_hex
from ._models import RefreshTokenRecord
from ._tables import clients, refresh_tokens, revoked_access_tokens, used_assertions


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
    """Forget refresh tokens, revoked access tokens and used assertions that expired before
    ``now``, at most ``limit`` of each (so that every statement stays short); returns how many
    rows went. Call again while it returns ``limit`` or more."""
    oldest = select(refresh_tokens.c.digest).where(refresh_tokens.c.expires_at < now)
    result = await conn.execute(
        delete(refresh_tokens).where(refresh_tokens.c.digest.in_(oldest.limit(limit)))
    )
    gone = result.rowcount
    for table in (revoked_access_tokens, used_assertions):
        expired = select(table.c.realm_id, table.c.jti).where(table.c.expires_at < now)
        result = await conn.execute(
            delete(table).where(tuple_(table.c.realm_id, table.c.jti).in_(expired.limit(limit)))
        )
        gone += result.rowcount
    return gone


async def client_id_of(conn: AsyncConnection, client_pk: int) -> str | None:
    """The ``client_id`` of the client with this primary key."""
    value = await conn.scalar(select(clients.c.client_id).where(clients.c.id == client_pk))
    return str(value) if value is not None else None


async def revoke_access_token(
    conn: AsyncConnection, realm_id: int, jti: str, expires_at: int
) -> None:
    """Deny the access token ``jti`` until ``expires_at`` (idempotent)."""
    exists = await conn.scalar(
        select(revoked_access_tokens.c.jti).where(
            and_(revoked_access_tokens.c.realm_id == realm_id, revoked_access_tokens.c.jti == jti)
        )
    )
    if exists is None:
        try:
            async with conn.begin_nested():
                await conn.execute(
                    insert(revoked_access_tokens).values(
                        realm_id=realm_id, jti=jti, expires_at=expires_at
                    )
                )
        except IntegrityError:
            pass  # revoked concurrently: the outcome is the same


async def access_token_revoked(conn: AsyncConnection, realm_id: int, jti: str) -> bool:
    """Whether the access token ``jti`` of the realm is on the deny list."""
    found = await conn.scalar(
        select(revoked_access_tokens.c.jti).where(
            and_(revoked_access_tokens.c.realm_id == realm_id, revoked_access_tokens.c.jti == jti)
        )
    )
    return found is not None
