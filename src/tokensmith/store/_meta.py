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


async def encrypted_values(conn: AsyncConnection) -> list[bytes]:
    """Every value the master key encrypted that is still in use (signing keys not retired,
    demo issuers' keys); empty when the database holds none."""
    keys = await conn.scalars(
        select(signing_keys.c.private_key).where(signing_keys.c.state != "retired")
    )
    issuer_keys = await conn.scalars(
        select(trusted_issuers.c.private_key).where(trusted_issuers.c.private_key.is_not(None))
    )
    return [bytes(k) for k in [*keys, *issuer_keys] if k is not None]
