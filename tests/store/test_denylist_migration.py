"""Revision 0006 merges ``used_assertions`` and ``revoked_access_tokens`` into ``denied_jtis``
without losing a row, and its downgrade splits them back (on SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from tokensmith.store import Database, clients, denylist

from .conftest import alembic_to

_REALM = (
    "INSERT INTO realms (id, name, access_token_ttl, refresh_token_ttl, alg, response_style, "
    "version, created_at) VALUES (1, 'acme', 300, 1800, 'ES256', 'standard', 1, 0)"
)


async def _rows(db: Database, table: str) -> set[tuple[object, ...]]:
    async with db.read() as conn:
        result = await conn.execute(text(f"SELECT realm_id, jti, expires_at FROM {table}"))  # noqa: S608
        return {tuple(row) for row in result}


async def test_upgrade_copies_used_assertions_and_revoked_tokens(database_url: str) -> None:
    """Rows of both old tables written at 0005 are denied, each as its own kind, after upgrading
    to the newest revision, and the old tables are gone."""
    db = Database(database_url)
    try:
        async with db.write() as conn:
            await conn.run_sync(alembic_to(command.upgrade, "0005"))
            await conn.execute(text(_REALM))
            await conn.execute(
                text(
                    "INSERT INTO used_assertions (realm_id, jti, expires_at) "
                    "VALUES (1, '7:a1', 1000), (1, '7:a2', 2000)"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO revoked_access_tokens (realm_id, jti, expires_at) "
                    "VALUES (1, 'tok-1', 3000)"
                )
            )

        await db.migrate()

        async with db.write() as conn:
            replayed = [await clients.use_assertion(conn, 1, jti, 9) for jti in ("7:a1", "7:a2")]
            revoked = await denylist.access_token_revoked(conn, 1, "tok-1")
            not_a_token = await denylist.access_token_revoked(conn, 1, "7:a1")
            copied = {
                tuple(row)
                for row in await conn.execute(
                    text("SELECT realm_id, kind, jti, expires_at FROM denied_jtis")
                )
            }
            tables = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await db.close()

    assert replayed == [False, False]
    assert (revoked, not_a_token) == (True, False)
    assert copied == {
        (1, "assertion", "7:a1", 1000),
        (1, "assertion", "7:a2", 2000),
        (1, "access_token", "tok-1", 3000),
    }
    assert not tables & {"used_assertions", "revoked_access_tokens"}


async def test_downgrade_splits_the_deny_list_back(database_url: str) -> None:
    """Downgrading to 0005 puts each denied jti back in the table of its kind."""
    db = Database(database_url)
    try:
        await db.migrate()
        async with db.write() as conn:
            await conn.execute(text(_REALM))
            await clients.use_assertion(conn, 1, "7:a1", 1000)
            await denylist.revoke_access_token(conn, 1, "tok-1", 3000)

        async with db.write() as conn:
            await conn.run_sync(alembic_to(command.downgrade, "0005"))

        used = await _rows(db, "used_assertions")
        revoked = await _rows(db, "revoked_access_tokens")
    finally:
        await db.close()

    assert used == {(1, "7:a1", 1000)}
    assert revoked == {(1, "tok-1", 3000)}
