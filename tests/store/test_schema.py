"""The schema revisions tokensmith knows without importing Alembic agree with Alembic's reading of
the migrations, and a database's revision is read without writing to it."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from tokensmith.store import SCHEMA_REVISION, Database, SchemaError
from tokensmith.store._schema import MIGRATIONS, REVISIONS

from .conftest import alembic_to


def test_the_migration_files_name_alembics_linear_history() -> None:
    """Each migration file is named for its revision, each revises the one before it, and the
    last is Alembic's single head."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(config)

    history = list(reversed(list(script.walk_revisions())))

    assert [r.revision for r in history] == list(REVISIONS)
    assert [r.down_revision for r in history] == [None, *REVISIONS[:-1]]
    assert [Path(r.path).name.split("_", 1)[0] for r in history] == list(REVISIONS)
    assert script.get_heads() == [SCHEMA_REVISION]


async def test_revision_follows_the_migrations(database_url: str) -> None:
    """A new database has no revision, one migrated to 0005 has 0005, and a migrated one the
    newest; check_schema passes only for the newest."""
    db = Database(database_url)
    try:
        empty = await db.revision()
        async with db.write() as conn:
            await conn.run_sync(alembic_to(command.upgrade, "0005"))
        older = await db.revision()
        with pytest.raises(SchemaError, match="older than this version's"):
            await db.check_schema()
        await db.migrate()
        newest = await db.revision()
        await db.check_schema()
    finally:
        await db.close()

    assert (empty, older, newest) == (None, "0005", SCHEMA_REVISION)


async def test_an_unopened_sqlite_database_is_not_created(tmp_path: Path) -> None:
    """``Database(create=False)`` on a missing file reports no revision and creates no file."""
    path = tmp_path / "absent.db"
    db = Database(f"sqlite:///{path}", create=False)
    try:
        revision = await db.revision()
        with pytest.raises(SchemaError, match="there is no database at"):
            await db.check_schema()
    finally:
        await db.close()

    assert revision is None
    assert not path.exists()
