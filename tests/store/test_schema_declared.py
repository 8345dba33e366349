"""The migrations make exactly the schema ``_tables.py`` declares, indexes included: what loading
one realm or one client reads is found through an index, not by scanning a table that grows
with every realm."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection as SyncConnection

from tokensmith.store import Database
from tokensmith.store._tables import metadata


def _differences(connection: SyncConnection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), metadata))


def _indexed_columns(connection: SyncConnection) -> set[tuple[str, str]]:
    inspector = inspect(connection)
    return {
        (table, index["column_names"][0])
        for table in inspector.get_table_names()
        for index in inspector.get_indexes(table)
        if index["column_names"] and index["column_names"][0] is not None
    }


async def test_migrated_schema_is_the_declared_one(db: Database) -> None:
    """Alembic finds no difference between the migrated database and the declared tables."""
    async with db.read() as conn:
        differences = await conn.run_sync(_differences)

    assert differences == []


async def test_a_realms_keys_and_paths_and_a_clients_secrets_are_indexed(db: Database) -> None:
    """Signing keys and token paths by realm, and secrets by client, have an index each."""
    async with db.read() as conn:
        indexed = await conn.run_sync(_indexed_columns)

    assert {
        ("signing_keys", "realm_id"),
        ("token_paths", "realm_id"),
        ("client_secrets", "client_pk"),
    } <= indexed
