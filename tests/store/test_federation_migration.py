"""Revision 0013 adds federated credentials and the trusted issuers' profile, client audience
and CA file: an issuer trusted before it reads as a generic ``oidc`` issuer, a credential goes
with its client and with its issuer, and the downgrade drops them without losing an issuer (on
SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from tokensmith.store import Database, clients, federation, issuers

from .conftest import alembic_to

_ROWS = (
    "INSERT INTO realms (id, name, access_token_ttl, refresh_token_ttl, alg, response_style, "
    "version, created_at) VALUES (1, 'acme', 300, 1800, 'ES256', 'standard', 1, 0)",
    "INSERT INTO clients (id, realm_id, client_id, enabled, scopes, default_scopes, "
    "refresh_tokens, created_at) VALUES (7, 1, 'svc', true, 'a', 'a', true, 0)",
    "INSERT INTO trusted_issuers (id, realm_id, issuer, audiences, algorithms, max_age, claims, "
    "created_at) VALUES (3, 1, 'https://sso.example.com', '', 'RS256', 3600, '', 0)",
)


async def _tables(db: Database) -> set[str]:
    async with db.read() as conn:
        return await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))


async def test_an_issuer_from_0010_is_a_generic_oidc_issuer(database_url: str) -> None:
    """An issuer trusted at 0010 upgrades with profile oidc, no client audience, no CA file."""
    db = Database(database_url)
    try:
        async with db.write() as conn:
            await conn.run_sync(alembic_to(command.upgrade, "0010"))
            for row in _ROWS:
                await conn.execute(text(row))

        await db.migrate()

        async with db.read() as conn:
            (trusted,) = await issuers.list_issuers(conn, 1)
    finally:
        await db.close()

    assert (trusted.profile, trusted.client_audience, trusted.ca_file) == ("oidc", None, None)


async def test_credentials_go_with_their_client_and_the_downgrade_keeps_issuers(
    database_url: str,
) -> None:
    """Deleting a client deletes its credentials; downgrading to 0010 drops the table and the
    new columns and keeps the trusted issuer."""
    db = Database(database_url)
    try:
        async with db.write() as conn:
            await conn.run_sync(alembic_to(command.upgrade, "0010"))
            for row in _ROWS:
                await conn.execute(text(row))
        await db.migrate()
        async with db.write() as conn:
            for name in ("one", "two"):
                await federation.add_credential(
                    conn, client_pk=7, issuer_id=3, name=name, subject="alice", condition=None,
                    now=0,
                )  # fmt: skip
        async with db.read() as conn:
            before = [c.name for c in await federation.list_credentials(conn, 1)]
        async with db.write() as conn:
            await clients.delete_client(conn, 7)
        async with db.read() as conn:
            after = await federation.list_credentials(conn, 1)

        async with db.write() as conn:
            await conn.run_sync(alembic_to(command.downgrade, "0010"))
        tables = await _tables(db)
        async with db.read() as conn:
            kept = (await conn.execute(text("SELECT issuer FROM trusted_issuers"))).scalars().all()
    finally:
        await db.close()

    assert (before, after) == (["one", "two"], [])
    assert "federated_credentials" not in tables
    assert kept == ["https://sso.example.com"]
