"""Service-wide values (``service_meta``) and what the master-key check needs to read."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ._tables import service_meta, signing_keys, trusted_issuers

MASTER_KEY_CHECK = "master_key_check"
"""A known value encrypted under the master key: a wrong key fails to decrypt it."""


async def get_value(conn: AsyncConnection, name: str) -> str | None:
    """The value called ``name``, or None."""
    value = await conn.scalar(select(service_meta.c.value).where(service_meta.c.name == name))
    return None if value is None else str(value)


async def add_value(conn: AsyncConnection, name: str, value: str) -> bool:
    """Store ``value`` as ``name`` unless a value is already there; False when one was."""
    try:
        async with conn.begin_nested():
            await conn.execute(insert(service_meta).values(name=name, value=value))
    except IntegrityError:
        return False
    return True


async def encrypted_sample(conn: AsyncConnection) -> bytes | None:
    """One value the master key encrypted (a signing key or a demo issuer's key), or None when
    the database holds none."""
    key = await conn.scalar(select(signing_keys.c.private_key).limit(1))
    if key is None:
        key = await conn.scalar(
            select(trusted_issuers.c.private_key)
            .where(trusted_issuers.c.private_key.is_not(None))
            .limit(1)
        )
    return None if key is None else bytes(key)
