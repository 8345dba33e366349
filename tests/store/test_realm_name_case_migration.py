"""Realm names are unique regardless of case, enforced by the database (migration 0009); realms
that differed only in case before it are kept with everything in them."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tokensmith.store import Conflict, Database, realms

from .conftest import alembic_to, create_realm

_REALM = (
    "INSERT INTO realms (name, access_token_ttl, refresh_token_ttl, alg, response_style, "
    "version, created_at) VALUES (:name, 300, 1800, 'ES256', 'standard', 1, 0)"
)
_RACING_REALM = (
    "INSERT INTO realms (name, name_folded, access_token_ttl, refresh_token_ttl, alg, "
    "response_style, version, created_at) "
    "VALUES (:name, :folded, 300, 1800, 'ES256', 'standard', 1, 0)"
)
"""What ``create_realm`` inserts, without the check it makes first."""
_CLIENT = (
    "INSERT INTO clients (realm_id, client_id, enabled, scopes, default_scopes, refresh_tokens, "
    "created_at) SELECT id, 'svc', true, '', '', false, 0 FROM realms WHERE name = 'Acme'"
)
_CLIENT_REALM = "SELECT realms.name FROM clients JOIN realms ON realms.id = clients.realm_id"


async def test_the_database_refuses_a_name_differing_only_in_case(db: Database) -> None:
    """The INSERT of a realm whose name another realm has in another case, made after the
    store's check (by a writer racing another), is refused by the unique index."""
    await create_realm(db)

    with pytest.raises(IntegrityError):
        async with db.write() as conn:
            await conn.execute(text(_RACING_REALM), {"name": "ACME", "folded": "acme"})


async def test_upgrade_keeps_realms_that_differ_only_in_case(database_url: str) -> None:
    """Realms "acme", "Acme" and "ACME" made at 0008 survive the upgrade with their clients,
    are reported as clashing, and no new realm may take their name in any case."""
    db = Database(database_url)
    try:
        async with db.write() as conn:
            await conn.run_sync(alembic_to(command.upgrade, "0008"))
            for name in ("acme", "Acme", "ACME", "other"):
                await conn.execute(text(_REALM), {"name": name})
            await conn.execute(text(_CLIENT))

        await db.migrate()

        async with db.read() as conn:
            names = await realms.realm_names(conn)
            clashes = await realms.case_clashes(conn)
            client_realm = (await conn.execute(text(_CLIENT_REALM))).scalar_one()
        for taken in ("aCmE", "OTHER"):
            with pytest.raises(Conflict, match="unique regardless of case"):
                async with db.write() as conn:
                    await realms.create_realm(
                        conn,
                        name=taken,
                        access_token_ttl=300,
                        refresh_token_ttl=1800,
                        alg="ES256",
                        response_style="standard",
                        audience=None,
                        paths=(),
                        now=0,
                    )
        for raced in ("aCmE", "OTHER"):
            with pytest.raises(IntegrityError):
                async with db.write() as conn:
                    await conn.execute(
                        text(_RACING_REALM), {"name": raced, "folded": raced.lower()}
                    )
        await create_realm(db, name="initech")
    finally:
        await db.close()

    assert names == sorted(["acme", "Acme", "ACME", "other"])
    assert clashes == [["acme", "Acme", "ACME"]]
    assert client_realm == "Acme"
