"""Revision 0008 adds the origins a realm lets call its token endpoint: a realm written before
it allows none, and its downgrade drops the column without losing a realm or a client (on SQLite
and PostgreSQL)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from tokensmith.store import Database, realms

from .conftest import alembic_to, create_realm

_ROWS = (
    "INSERT INTO realms (id, name, access_token_ttl, refresh_token_ttl, alg, response_style, "
    "version, created_at) VALUES (1, 'acme', 300, 1800, 'ES256', 'standard', 1, 0)",
    "INSERT INTO clients (id, realm_id, client_id, enabled, scopes, default_scopes, "
    "refresh_tokens, created_at) VALUES (7, 1, 'svc', true, 'a', 'a', true, 0)",
)


async def _realm_columns(db: Database) -> set[str]:
    async with db.read() as conn:
        return await conn.run_sync(
            lambda sync: {c["name"] for c in inspect(sync).get_columns("realms")}
        )


async def test_a_realm_from_0007_allows_no_origin(database_url: str) -> None:
    """A realm written at 0007 upgrades to a realm whose token endpoint allows no origin."""
    db = Database(database_url)
    try:
        async with db.write() as conn:
            await conn.run_sync(alembic_to(command.upgrade, "0007"))
            for row in _ROWS:
                await conn.execute(text(row))

        await db.migrate()

        async with db.read() as conn:
            realm = await realms.require_realm(conn, "acme")
    finally:
        await db.close()

    assert realm.cors_origins == ()


async def test_origins_are_read_back_in_order(database_url: str) -> None:
    """The origins a realm is created with read back as they were given."""
    db = Database(database_url)
    try:
        await db.migrate()
        await create_realm(db, cors_origins=("https://app.example.com", "http://localhost:3000"))

        async with db.read() as conn:
            realm = await realms.require_realm(conn, "acme")
    finally:
        await db.close()

    assert realm.cors_origins == ("https://app.example.com", "http://localhost:3000")


async def test_downgrade_to_0007_drops_the_column_and_keeps_the_rows(database_url: str) -> None:
    """Downgrading to 0007 removes realms.cors_origins; the realm and its client stay (no copy
    of realms whose drop would cascade into clients)."""
    db = Database(database_url)
    try:
        await db.migrate()
        async with db.write() as conn:
            for row in _ROWS:
                await conn.execute(text(row))
            await conn.execute(text("UPDATE realms SET cors_origins = 'https://app.example.com'"))

        async with db.write() as conn:
            await conn.run_sync(alembic_to(command.downgrade, "0007"))

        columns = await _realm_columns(db)
        async with db.read() as conn:
            # Read in SQL: the repository reads the newest schema's columns, which 0007 lacks.
            client_id = await conn.scalar(text("SELECT client_id FROM clients WHERE id = 7"))
    finally:
        await db.close()

    assert "cors_origins" not in columns
    assert client_id == "svc"


async def test_upgrade_after_a_downgrade_restores_the_column(database_url: str) -> None:
    """0008 applies again after its downgrade, so an operator can step back and forth."""
    db = Database(database_url)
    try:
        await db.migrate()
        async with db.write() as conn:
            await conn.run_sync(alembic_to(command.downgrade, "0007"))

        await db.migrate()

        columns = await _realm_columns(db)
    finally:
        await db.close()

    assert "cors_origins" in columns
