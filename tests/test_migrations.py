"""Migrations keep stored data: a database made at an older revision upgrades without loss."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from tokensmith.store import Database
from tokensmith.store._database import _MIGRATIONS


def test_upgrade_from_0002_keeps_clients_secrets_and_refresh_tokens(database_url: str) -> None:
    """Rows written at revision 0002 are all there after upgrading to the newest revision."""

    async def go() -> list[int]:
        db = Database(database_url)
        async with db.write() as conn:

            def to_0002(sync_conn: object) -> None:
                config = Config()
                config.set_main_option("script_location", str(_MIGRATIONS))
                config.attributes["connection"] = sync_conn
                command.upgrade(config, "0002")

            await conn.run_sync(to_0002)
            await conn.execute(
                text(
                    "INSERT INTO realms (id, name, access_token_ttl, refresh_token_ttl, alg, "
                    "response_style, version, created_at) VALUES (1, 'r', 300, 1800, 'ES256', "
                    "'standard', 1, 0)"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO clients (id, realm_id, client_id, enabled, scopes, "
                    "default_scopes, refresh_tokens, created_at) "
                    "VALUES (1, 1, 'c', true, '', '', true, 0)"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO client_secrets (client_pk, digest, created_at) VALUES (1, 'd', 0)"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO refresh_tokens (digest, family, realm_id, client_pk, scope, "
                    "issued_at, expires_at, revoked) VALUES ('x', 'f', 1, 1, '', 0, 9, false)"
                )
            )
        await db.migrate()
        async with db.read() as conn:
            counts = [
                (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()  # noqa: S608
                for table in ("clients", "client_secrets", "refresh_tokens")
            ]
            grant_types = (await conn.execute(text("SELECT grant_types FROM clients"))).scalar_one()
        await db.close()
        assert grant_types == ""
        return counts

    assert asyncio.run(go()) == [1, 1, 1]
