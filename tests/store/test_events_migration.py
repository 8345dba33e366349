"""Revision 0011 adds the event tables and ``clients.last_used_at``: a client written before it
has never been used, and the downgrade drops them without losing a client or its secret (on
SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from tokensmith.store import Database, clients

from .conftest import alembic_to

_ROWS = (
    "INSERT INTO realms (id, name, name_folded, access_token_ttl, refresh_token_ttl, alg, "
    "response_style, version, created_at) VALUES (1, 'acme', 'acme', 300, 1800, 'ES256', "
    "'standard', 1, 0)",
    "INSERT INTO clients (id, realm_id, client_id, enabled, scopes, default_scopes, "
    "refresh_tokens, created_at) VALUES (7, 1, 'svc', true, 'a', 'a', true, 0)",
    "INSERT INTO client_secrets (client_pk, digest, created_at) VALUES (7, 'sha256$00', 0)",
)


async def test_a_client_from_0010_has_never_been_used(database_url: str) -> None:
    """A client written at 0010 reads back with no last use after the upgrade."""
    db = Database(database_url)
    try:
        async with db.write() as conn:
            await conn.run_sync(alembic_to(command.upgrade, "0010"))
            for row in _ROWS:
                await conn.execute(text(row))

        await db.migrate()

        async with db.read() as conn:
            client = await clients.require_client(conn, 1, "svc")
    finally:
        await db.close()

    assert client.last_used_at is None
    assert len(client.secrets) == 1


async def test_downgrade_to_0010_drops_the_events_and_keeps_clients_and_secrets(
    database_url: str,
) -> None:
    """Downgrading to 0010 removes both event tables and the column; the client and its secret
    stay (no copy of clients whose drop would cascade into its secrets)."""
    db = Database(database_url)
    try:
        await db.migrate()
        async with db.write() as conn:
            for row in _ROWS:
                await conn.execute(text(row))
            await conn.execute(text("UPDATE clients SET last_used_at = 5"))

        async with db.write() as conn:
            await conn.run_sync(alembic_to(command.downgrade, "0010"))

        async with db.read() as conn:
            tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
            columns = await conn.run_sync(
                lambda sync: {c["name"] for c in inspect(sync).get_columns("clients")}
            )
            secrets = await conn.scalar(text("SELECT count(*) FROM client_secrets"))
    finally:
        await db.close()

    assert not {"admin_events", "events"} & tables
    assert "last_used_at" not in columns
    assert secrets == 1
