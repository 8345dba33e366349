"""The deny list: JWT IDs the service refuses until they expire, in one table (``denied_jtis``).

Each kind is kept apart per realm, so that a ``jti`` used for one purpose never burns
another's:

- ``"assertion"``: a client assertion once used, so that presenting it again is refused
  (RFC 7523 §3: the ``jti`` may be used only once), a federated platform token included;
- ``"dpop"``: a DPoP proof once used at the token endpoint (RFC 9449 §11.1);
- ``"access_token"``: a revoked access token (RFC 7009 §2), refused by introspection and by the
  service's own checks although its signature and expiry still hold.

A row is kept only until the token it names would have expired; :func:`delete_expired` then
prunes rows of every kind.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import and_, delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from ._tables import denied_jtis

Kind = Literal["assertion", "access_token", "dpop"]
"""What a denied jti names: a used client assertion, a revoked access token or a used DPoP
proof (RFC 9449 §11.1; the key's thumbprint and the proof's jti)."""

Purpose = Literal["assertion", "dpop"]
"""What a single-use jti is used for: a client assertion or a DPoP proof."""


async def deny(conn: AsyncConnection, realm_id: int, kind: Kind, jti: str, expires_at: int) -> bool:
    """Put ``jti`` of this kind on the realm's deny list until ``expires_at``, atomically; False
    when it was there already (its row stays as it was)."""
    # ON CONFLICT DO NOTHING rather than catching IntegrityError: one statement instead of
    # SAVEPOINT, INSERT, RELEASE, and no duplicate-key error in PostgreSQL's log for each replay.
    # Two transactions inserting one jti at once still see one winner: the second waits on the
    # first's index entry and then does nothing.
    # Each dialect's module is imported only where it is in use (PostgreSQL's is 2 MB).
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql as dialect
    else:
        from sqlalchemy.dialects import sqlite as dialect  # type: ignore[no-redef]
    statement = (
        dialect.insert(denied_jtis)
        .values(realm_id=realm_id, kind=kind, jti=jti, expires_at=expires_at)
        .on_conflict_do_nothing()
    )
    result = await conn.execute(statement)
    return result.rowcount == 1


async def is_denied(conn: AsyncConnection, realm_id: int, kind: Kind, jti: str) -> bool:
    """Whether ``jti`` of this kind is on the realm's deny list (expired rows not yet pruned
    included: the token they name is refused for its expiry anyway)."""
    found = await conn.scalar(
        select(denied_jtis.c.jti).where(
            and_(
                denied_jtis.c.realm_id == realm_id,
                denied_jtis.c.kind == kind,
                denied_jtis.c.jti == jti,
            )
        )
    )
    return found is not None


async def use_jti(
    conn: AsyncConnection, realm_id: int, purpose: Purpose, jti: str, expires_at: int
) -> bool:
    """Record the single-use ``jti`` of a token used for ``purpose`` until ``expires_at``; False
    when it was already used for that purpose (a replay). The same jti used for another purpose
    is a different row."""
    return await deny(conn, realm_id, purpose, jti, expires_at)


async def use_assertion(conn: AsyncConnection, realm_id: int, jti: str, expires_at: int) -> bool:
    """Record a client assertion's ``jti`` until ``expires_at``; False when it was already used
    (a replay)."""
    return await use_jti(conn, realm_id, "assertion", jti, expires_at)


async def revoke_access_token(
    conn: AsyncConnection, realm_id: int, jti: str, expires_at: int
) -> None:
    """Deny the access token ``jti`` until ``expires_at`` (idempotent: revoking it again, or
    concurrently, changes nothing)."""
    await deny(conn, realm_id, "access_token", jti, expires_at)


async def access_token_revoked(conn: AsyncConnection, realm_id: int, jti: str) -> bool:
    """Whether the access token ``jti`` of the realm is on the deny list."""
    return await is_denied(conn, realm_id, "access_token", jti)


async def delete_expired(conn: AsyncConnection, now: int, *, limit: int = 5000) -> int:
    """Forget denied jtis of every kind that expired before ``now``, at most ``limit`` of them
    (so that the statement stays short); returns how many went. Call again while it returns
    ``limit``."""
    key = tuple_(denied_jtis.c.realm_id, denied_jtis.c.kind, denied_jtis.c.jti)
    expired = (
        select(denied_jtis.c.realm_id, denied_jtis.c.kind, denied_jtis.c.jti)
        .where(denied_jtis.c.expires_at < now)
        .limit(limit)
    )
    result = await conn.execute(delete(denied_jtis).where(key.in_(expired)))
    return result.rowcount
