"""Refresh tokens: stored as digests, grouped in families, used once.

The statements of a rotation (claim, insert) are built once, with bound parameters, and run as a
plan (:mod:`._direct`) by the driver itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..oauth import sha256_hex
from ._direct import Plan
from ._models import RefreshTokenRecord
from ._tables import clients, refresh_tokens

_c = refresh_tokens.c
_INSERT = insert(refresh_tokens)
_GET = select(refresh_tokens).where(_c.digest == bindparam("d"))
_GET_FOR_UPDATE = _GET.with_for_update()
_CLAIM_LIVE = (
    update(refresh_tokens)
    .where(
        _c.digest == bindparam("d"),
        _c.used_at.is_(None),
        _c.revoked.is_(False),
        _c.expires_at > bindparam("now"),
        _c.realm_id == bindparam("realm"),
        _c.client_pk == bindparam("client"),
    )
    .values(used_at=bindparam("used"))
    .returning(*refresh_tokens.c)
)


def digest(token: str) -> str:
    """How a refresh token is known in the store: the hex SHA-256 of its value."""
    return sha256_hex(token)


async def insert_refresh_token(conn: AsyncConnection, record: RefreshTokenRecord) -> None:
    """Store a new refresh token."""
    await conn.execute(_INSERT, _values(record))


async def get_refresh_token(
    conn: AsyncConnection, digest: str, *, for_update: bool = False
) -> RefreshTokenRecord | None:
    """The refresh token with this digest, or None. ``for_update`` locks its row until the
    transaction ends (PostgreSQL; SQLite writers hold the whole database already), so that two
    requests presenting one token are decided one after the other, each seeing the other's
    outcome."""
    query = _GET_FOR_UPDATE if for_update else _GET
    row = (await conn.execute(query, {"d": digest})).mappings().first()
    return None if row is None else _record(row)


def rotate(
    digest: str,
    *,
    realm_id: int,
    client_pk: int,
    now: int,
    successor: Callable[[RefreshTokenRecord], RefreshTokenRecord],
) -> Plan[RefreshTokenRecord | None]:
    """Use the token ``digest`` and store the one ``successor`` makes to replace it, as one
    transaction (run it with :meth:`Database.run`): the stored successor, or None, with nothing
    written, when the token is not a live (unused, unrevoked, unexpired) token of this client of
    this realm. ``successor`` raising rolls the transaction back.

    The token is claimed by one statement, so of requests presenting it at once exactly one
    claims it: on PostgreSQL the others wait for its row lock and then find it used; SQLite runs
    one writer at a time.
    """
    params = {"d": digest, "now": now, "used": now, "realm": realm_id, "client": client_pk}
    row = yield _CLAIM_LIVE, params
    if row is None:
        return None
    child = successor(_record(row))
    yield _INSERT, _values(child)
    return child


def _values(record: RefreshTokenRecord) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in _FIELDS}


def _record(row: Mapping[Any, Any]) -> RefreshTokenRecord:
    return RefreshTokenRecord(**{**row, "revoked": bool(row["revoked"])})


_FIELDS = dataclasses.fields(RefreshTokenRecord)


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
