"""Downgrading through every revision keeps the realms and clients written before (on SQLite,
a batch rebuild of ``realms`` under PRAGMA foreign_keys=ON would cascade into its clients)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from tokensmith.store import Database

from .conftest import alembic_to, create_realm


async def test_downgrade_to_0004_keeps_realms_and_clients(database_url: str) -> None:
    """A realm and its client written at the newest revision are still there at 0004."""
    db = Database(database_url)
    try:
        await db.migrate()
        realm_id = await create_realm(db)
        async with db.write() as conn:
            await conn.execute(
                text(
                    "INSERT INTO clients (realm_id, client_id, enabled, scopes, default_scopes, "
                    "refresh_tokens, created_at) VALUES (:realm, 'svc', true, 'a', 'a', true, 0)"
                ),
                {"realm": realm_id},
            )

        async with db.write() as conn:
            await conn.run_sync(alembic_to(command.downgrade, "0004"))

        async with db.read() as conn:
            realms = (await conn.execute(text("SELECT count(*) FROM realms"))).scalar_one()
            clients = (await conn.execute(text("SELECT count(*) FROM clients"))).scalar_one()
    finally:
        await db.close()

    assert (realms, clients) == (1, 1)
