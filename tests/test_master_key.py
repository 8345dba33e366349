"""A master key that does not match the database is refused before anything is written, by every
command and by the service, and no new key file is made for a database that holds encrypted keys
(on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from sqlalchemy import delete

from tokensmith.server import Admin, MasterKey, MasterKeyError, Settings, TokensmithApp
from tokensmith.server._keys import new_master_key_value
from tokensmith.server._serve import prepare
from tokensmith.store import Database
from tokensmith.store._tables import service_meta

from .cli_run import CliRun, run_cli
from .conftest import run_admin

_BASE_ENV = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSMITH_")}


def _cli(*args: str, cwd: Path, **env: str) -> CliRun:
    return run_cli(*args, cwd=cwd, env={**_BASE_ENV, **env})


def _kids(settings: Settings) -> list[tuple[str, str]]:
    return [(k.kid, k.state) for k in run_admin(settings, lambda a: a.list_keys("acme"))]


@pytest.fixture
def realm(database_url: str) -> Settings:
    """Realm acme created with a master key given in the environment."""
    settings = Settings(database_url=database_url, master_key=new_master_key_value())
    run_admin(settings, lambda a: a.create_realm("acme"))
    return settings


def test_key_rotate_with_another_master_key_refuses_and_writes_nothing(
    realm: Settings, tmp_path: Path
) -> None:
    """Guards item 16: `key rotate` with a different TOKENSMITH_MASTER_KEY fails, naming where
    the key came from, and leaves the realm's keys as they were."""
    before = _kids(realm)

    result = _cli(
        "key",
        "rotate",
        "acme",
        "--database",
        realm.database_url,
        cwd=tmp_path,
        TOKENSMITH_MASTER_KEY=new_master_key_value(),
    )

    assert result.returncode == 1
    assert "TOKENSMITH_MASTER_KEY does not match this database" in result.stderr
    assert "Traceback" not in result.stderr
    assert _kids(realm) == before


def test_key_rotate_without_the_key_file_refuses_and_makes_none(
    realm: Settings, tmp_path: Path
) -> None:
    """Guards item 16: `key rotate` run where the key file does not exist refuses instead of
    making a new key file, and changes nothing."""
    before = _kids(realm)
    key_file = tmp_path / "tokensmith.key"

    result = _cli(
        "key",
        "rotate",
        "acme",
        "--database",
        realm.database_url,
        cwd=tmp_path,
        TOKENSMITH_MASTER_KEY_FILE=str(key_file),
    )

    assert result.returncode == 1
    assert f"the key file {key_file} does not exist" in result.stderr
    assert not key_file.exists()
    assert _kids(realm) == before


def test_postgres_key_rotate_from_another_directory_refuses(
    postgres_url: str, tmp_path: Path
) -> None:
    """Guards item 16: on PostgreSQL the key file defaults to ./tokensmith.key; run from another
    directory, `key rotate` refuses and leaves no key file there."""
    first, other = tmp_path / "first", tmp_path / "other"
    first.mkdir()
    other.mkdir()
    assert _cli("db", "upgrade", "--database", postgres_url, cwd=first).returncode == 0
    assert _cli("realm", "create", "acme", "--database", postgres_url, cwd=first).returncode == 0

    result = _cli("key", "rotate", "acme", "--database", postgres_url, cwd=other)

    assert result.returncode == 1, result.stdout
    assert "does not exist" in result.stderr
    assert not (other / "tokensmith.key").exists()
    assert _cli("key", "rotate", "acme", "--database", postgres_url, cwd=first).returncode == 0


def test_commands_that_need_no_key_still_work_without_it(realm: Settings, tmp_path: Path) -> None:
    """Listing realms needs no master key: it works without one and makes no key file."""
    key_file = tmp_path / "tokensmith.key"

    result = _cli(
        "realm",
        "list",
        "--database",
        realm.database_url,
        cwd=tmp_path,
        TOKENSMITH_MASTER_KEY_FILE=str(key_file),
    )

    assert result.returncode == 0, result.stderr
    assert "acme" in result.stdout
    assert not key_file.exists()


def test_service_refuses_to_start_with_another_master_key(realm: Settings) -> None:
    """Guards item 16: `serve` (its preparation) and the application's startup refuse a master
    key that does not match the database."""
    wrong = Settings(database_url=realm.database_url, master_key=new_master_key_value())

    async def start_app() -> None:
        app = TokensmithApp(wrong)
        try:
            await app.startup()
        finally:
            await app.shutdown()

    with pytest.raises(MasterKeyError, match="does not match this database"):
        asyncio.run(prepare(wrong, demo=False))
    with pytest.raises(MasterKeyError, match="does not match this database"):
        asyncio.run(start_app())


def test_database_without_check_value_is_verified_by_a_stored_key(realm: Settings) -> None:
    """A database from before the check value existed is checked by decrypting a stored key:
    a wrong key is refused, the right one is accepted and the check value stored."""

    async def forget_check() -> None:
        db = Database(realm.database_url)
        try:
            async with db.write() as conn:
                await conn.execute(delete(service_meta))
        finally:
            await db.close()

    asyncio.run(forget_check())
    wrong = Settings(database_url=realm.database_url, master_key=new_master_key_value())

    with pytest.raises(MasterKeyError):
        asyncio.run(prepare(wrong, demo=False))
    asyncio.run(prepare(realm, demo=False))
    with pytest.raises(MasterKeyError, match="does not match this database"):
        asyncio.run(prepare(wrong, demo=False))


def test_database_with_keys_under_two_master_keys_gets_no_check_value(realm: Settings) -> None:
    """A database from before the check value whose realms' keys were encrypted under two
    different master keys (the old bug) is refused with either key, so no check value hides
    the realm that would fail."""

    async def forget_check() -> None:
        db = Database(realm.database_url)
        try:
            async with db.write() as conn:
                await conn.execute(delete(service_meta))
        finally:
            await db.close()

    other = Settings(database_url=realm.database_url, master_key=new_master_key_value())

    async def damage() -> None:  # what the old code let a command run elsewhere do
        db = Database(realm.database_url)
        try:
            admin = Admin(db, MasterKey.load(other.master_key, other.key_file()))
            await admin.create_realm("beta")
            async with db.write() as conn:
                await conn.execute(delete(service_meta))
        finally:
            await db.close()

    asyncio.run(damage())

    for settings in (realm, other):
        with pytest.raises(MasterKeyError, match="does not match this database"):
            asyncio.run(prepare(settings, demo=False))
