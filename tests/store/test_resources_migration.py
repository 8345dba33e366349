"""Revision 0007 adds the realms' longest assertion lifetime and the resources of clients and
refresh tokens: rows written before it read as "the default" and "no resources", and its
downgrade drops the columns without losing a row (on SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from tokensmith.store import DEFAULT_MAX_ASSERTION_LIFETIME, Database, clients, realms, refresh

from .conftest import alembic_to

_ROWS = (
    "INSERT INTO realms (id, name, access_token_ttl, refresh_token_ttl, alg, response_style, "
    "version, created_at) VALUES (1, 'acme', 300, 1800, 'ES256', 'standard', 1, 0)",
    "INSERT INTO clients (id, realm_id, client_id, enabled, scopes, default_scopes, "
    "refresh_tokens, created_at) VALUES (7, 1, 'svc', true, 'a', 'a', true, 0)",
    "INSERT INTO refresh_tokens (digest, family, realm_id, client_pk, scope, issued_at, "
    "expires_at, revoked) VALUES ('d1', 'f', 1, 7, 'a', 0, 9, false)",
)
_NEW_COLUMNS = {
    "realms": "max_assertion_lifetime",
    "clients": "resources",
    "refresh_tokens": "resources",
}


async def test_rows_from_0006_read_as_default_lifetime_and_no_resources(database_url: str) -> None:
    """A realm, client and refresh token written at 0006 upgrade to the service default
    assertion lifetime, a client that may name no resource and a token issued for none."""
    db = Database(database_url)
    try:
        async with db.write() as conn:
            await conn.run_sync(alembic_to(command.upgrade, "0006"))
            for row in _ROWS:
                await conn.execute(text(row))

        await db.migrate()

        async with db.read() as conn:
            realm = await realms.require_realm(conn, "acme")
            client = await clients.require_client(conn, 1, "svc")
            record = await refresh.get_refresh_token(conn, "d1")
    finally:
        await db.close()

    assert realm.max_assertion_lifetime is None
    assert realm.assertion_lifetime == DEFAULT_MAX_ASSERTION_LIFETIME
    assert client.resources == frozenset()
    assert record is not None
    assert (record.scope, record.resources) == ("a", "")


async def test_downgrade_to_0006_drops_the_columns_and_keeps_the_rows(database_url: str) -> None:
    """Downgrading to 0006 removes the three columns; the realm, client and refresh token stay."""
    db = Database(database_url)
    try:
        await db.migrate()
        async with db.write() as conn:
            for row in _ROWS:
                await conn.execute(text(row))
            await conn.execute(text("UPDATE realms SET max_assertion_lifetime = 600 WHERE id = 1"))
            await conn.execute(text("UPDATE clients SET resources = 'https://api.example/'"))
            await conn.execute(text("UPDATE refresh_tokens SET resources = 'https://api.example/'"))

        async with db.write() as conn:
            await conn.run_sync(alembic_to(command.downgrade, "0006"))

        async with db.read() as conn:
            columns = {
                table: await conn.run_sync(
                    lambda sync, t=table: {c["name"] for c in inspect(sync).get_columns(t)}
                )
                for table in _NEW_COLUMNS
            }
            kept = [
                (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()  # noqa: S608
                for table in _NEW_COLUMNS
            ]
            indexes = await conn.run_sync(
                lambda sync: {i["name"] for i in inspect(sync).get_indexes("refresh_tokens")}
            )
    finally:
        await db.close()

    assert all(_NEW_COLUMNS[t] not in columns[t] for t in _NEW_COLUMNS)
    assert kept == [1, 1, 1]
    assert {"ix_refresh_tokens_parent", "ix_refresh_tokens_family"} <= indexes


async def test_upgrade_after_a_downgrade_restores_the_columns(database_url: str) -> None:
    """0007 applies again after its downgrade, so an operator can step back and forth."""
    db = Database(database_url)
    try:
        await db.migrate()
        async with db.write() as conn:
            await conn.run_sync(alembic_to(command.downgrade, "0006"))

        await db.migrate()

        async with db.read() as conn:
            columns = await conn.run_sync(
                lambda sync: {c["name"] for c in inspect(sync).get_columns("clients")}
            )
    finally:
        await db.close()

    assert "resources" in columns
