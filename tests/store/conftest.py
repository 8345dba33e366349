"""A migrated database of each kind with one realm, for the store's repositories."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from alembic.config import Config
from sqlalchemy.engine import Connection as SyncConnection

from tokensmith.store import Database, realms
from tokensmith.store._database import _MIGRATIONS


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """The newest schema on a fresh SQLite file or PostgreSQL database."""
    database = Database(database_url)
    await database.migrate()
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
async def realm_id(db: Database) -> int:
    """The id of a realm called ``acme``."""
    return await create_realm(db)


async def create_realm(db: Database, **changes: Any) -> int:
    """Create a realm called ``acme`` (with ``changes`` to its settings); its id."""
    settings: dict[str, Any] = {
        "name": "acme",
        "access_token_ttl": 300,
        "refresh_token_ttl": 1800,
        "alg": "ES256",
        "response_style": "standard",
        "audience": None,
        "paths": (),
        "now": 0,
    }
    async with db.write() as conn:
        realm = await realms.create_realm(conn, **{**settings, **changes})
    return realm.id


def alembic_to(
    step: Callable[[Config, str], None], revision: str
) -> Callable[[SyncConnection], None]:
    """Run one Alembic command (``command.upgrade`` or ``downgrade``) to ``revision`` on the
    connection it is given (with ``AsyncConnection.run_sync``)."""

    def run(connection: SyncConnection) -> None:
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        config.attributes["connection"] = connection
        step(config, revision)

    return run
