"""Only `serve` and `tokensmith db upgrade` create or change the schema: every other command, on a
database that is missing, empty, someone else's or at an older revision, says so and what to do,
and writes nothing (on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text

from tokensmith.store import SCHEMA_REVISION, Database

from .cli_run import CliRun, run_cli
from .store.conftest import alembic_to

_ENV = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSMITH_")}

ADMIN_COMMANDS = [
    ("realm", "list"),
    ("realm", "show", "acme"),
    ("realm", "create", "acme"),
    ("realm", "delete", "acme"),
    ("client", "list", "acme"),
    ("client", "create", "acme", "svc"),
    ("client", "disable", "acme", "svc"),
    ("key", "list", "acme"),
    ("key", "rotate", "acme"),
    ("issuer", "list", "acme"),
    ("issuer", "add-demo", "acme"),
]
"""Commands that read, write, or need the master key (those may make a key file)."""

_REALM_AT_0005 = (
    "INSERT INTO realms (id, name, access_token_ttl, refresh_token_ttl, alg, response_style, "
    "version, created_at) VALUES (1, 'old', 300, 1800, 'ES256', 'standard', 1, 0)"
)


def tokensmith(url: str, cwd: Path, *args: str) -> CliRun:
    return run_cli(*args, "--database", url, cwd=cwd, env=_ENV)


async def _execute(url: str, *statements: str, revision: str | None = None) -> None:
    """Run Alembic up to ``revision`` (if given), then ``statements``, in one transaction."""
    db = Database(url)
    try:
        async with db.write() as conn:
            if revision is not None:
                await conn.run_sync(alembic_to(command.upgrade, revision))
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await db.close()


def rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Each table of the database with its rows, sorted."""
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True) as conn:
            names = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            ]
            found = {n: sorted(conn.execute(f'SELECT * FROM "{n}"')) for n in names}  # noqa: S608
        conn.close()
        return found

    async def tables() -> dict[str, list[tuple[Any, ...]]]:
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            names = [
                r[0]
                for r in await conn.fetch(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                )
            ]
            return {
                name: sorted(map(tuple, await conn.fetch(f'SELECT * FROM "{name}"')))  # noqa: S608
                for name in names
            }
        finally:
            await conn.close()

    return asyncio.run(tables())


def snapshot(url: str) -> Any:
    """What the database holds, to compare before and after: a SQLite file's bytes (None when
    there is no file), or each PostgreSQL table with its rows."""
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None
    return rows(url)


@pytest.fixture
def empty_url(database_url: str) -> str:
    """An empty database of each kind: a zero-byte SQLite file, a new PostgreSQL database."""
    if database_url.startswith("sqlite"):
        Path(database_url.removeprefix("sqlite:///")).touch()
    return database_url


def refused_unchanged(url: str, cwd: Path, expected: str) -> None:
    """Every admin command exits 1 with one line holding ``expected``, writes nothing to the
    database and makes no key file."""
    before = snapshot(url)
    for args in ADMIN_COMMANDS:
        done = tokensmith(url, cwd, *args)

        assert (done.returncode, done.stdout) == (1, ""), args
        assert done.stderr.startswith("error: "), (args, done.stderr)
        assert expected in done.stderr, (args, done.stderr)
        assert done.stderr.count("\n") == 1, (args, done.stderr)
    assert snapshot(url) == before
    assert not list(cwd.glob("*.key"))


def test_admin_commands_refuse_an_empty_database(empty_url: str, tmp_path: Path) -> None:
    """An empty database is named as such, with `tokensmith db upgrade` as the remedy."""
    refused_unchanged(
        empty_url,
        tmp_path,
        "the database is empty: it has no tokensmith schema; create it with "
        "`tokensmith db upgrade`",
    )


def test_admin_commands_refuse_a_database_of_other_tables(empty_url: str, tmp_path: Path) -> None:
    """A database holding another application's tables (and no tokensmith schema) is left as it
    was: the message names its tables and says tokensmith's schema is not there."""
    asyncio.run(
        _execute(empty_url, "CREATE TABLE widgets (x INTEGER)", "INSERT INTO widgets VALUES (1)")
    )

    refused_unchanged(
        empty_url,
        tmp_path,
        "this database has no tokensmith schema (it holds other tables: widgets)",
    )


def test_admin_commands_refuse_an_older_schema_until_db_upgrade(
    empty_url: str, tmp_path: Path
) -> None:
    """A schema at an older revision is refused, naming both revisions and `db upgrade`; after
    `db upgrade` the same command works and finds the rows written at the older revision."""
    asyncio.run(_execute(empty_url, _REALM_AT_0005, revision="0005"))
    refused_unchanged(
        empty_url,
        tmp_path,
        f"the database's tokensmith schema is at revision 0005, older than this version's "
        f"{SCHEMA_REVISION}; run `tokensmith db upgrade`",
    )

    upgraded = tokensmith(empty_url, tmp_path, "db", "upgrade")
    listed = tokensmith(empty_url, tmp_path, "realm", "list")

    assert upgraded.stdout == f"upgraded the schema from revision 0005 to {SCHEMA_REVISION}\n"
    assert listed.returncode == 0, listed.stderr
    assert "old" in listed.stdout


def test_a_foreign_alembic_revision_is_refused_by_db_upgrade_too(
    empty_url: str, tmp_path: Path
) -> None:
    """A database whose alembic_version is another application's is refused by every command,
    `db upgrade` included, and left unchanged."""
    asyncio.run(
        _execute(
            empty_url,
            "CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)",
            "INSERT INTO alembic_version VALUES ('3f2a1c9b7d10')",
            "CREATE TABLE widgets (x INTEGER)",
        )
    )
    expected = "names revision '3f2a1c9b7d10', which is not one of this tokensmith's"
    refused_unchanged(empty_url, tmp_path, expected)
    before = snapshot(empty_url)

    upgraded = tokensmith(empty_url, tmp_path, "db", "upgrade")

    assert upgraded.returncode == 1
    assert expected in upgraded.stderr
    assert "belongs to another application, or a newer tokensmith upgraded it" in upgraded.stderr
    assert snapshot(empty_url) == before


def test_admin_commands_do_not_create_a_missing_sqlite_file(tmp_path: Path) -> None:
    """A SQLite path where no file exists is reported, and no file is made there."""
    path = tmp_path / "nowhere.db"
    url = f"sqlite:///{path}"

    refused_unchanged(
        url, tmp_path, f"there is no database at {path}; create it with `tokensmith db upgrade`"
    )

    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_admin_commands_name_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    """A file that is not a SQLite database is said to be so, and left as it was."""
    path = tmp_path / "notes.db"
    path.write_text("not a database\n" * 100)

    refused_unchanged(f"sqlite:///{path}", tmp_path, f"{path} is not a SQLite database")


def test_db_upgrade_creates_the_schema_once(empty_url: str, tmp_path: Path) -> None:
    """`db upgrade` creates the schema on an empty database and says so; run again it changes
    nothing and says the schema is current; admin commands then work."""
    first = tokensmith(empty_url, tmp_path, "db", "upgrade")
    again = tokensmith(empty_url, tmp_path, "db", "upgrade")
    listed = tokensmith(empty_url, tmp_path, "realm", "list")

    assert (first.returncode, first.stdout) == (
        0,
        f"created the tokensmith schema at revision {SCHEMA_REVISION}\n",
    )
    assert again.stdout == f"the schema is at the newest revision already, {SCHEMA_REVISION}\n"
    assert listed.returncode == 0, listed.stderr


def test_db_upgrade_creates_a_new_sqlite_file_0600(tmp_path: Path) -> None:
    """`db upgrade` on a path where no file exists creates the database there, mode 0600."""
    path = tmp_path / "new.db"

    done = tokensmith(f"sqlite:///{path}", tmp_path, "db", "upgrade")

    assert done.returncode == 0, done.stderr
    assert path.stat().st_mode & 0o777 == 0o600
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (SCHEMA_REVISION,)
        ]


def test_db_upgrade_keeps_other_applications_tables(empty_url: str, tmp_path: Path) -> None:
    """`db upgrade` on a database of other tables adds tokensmith's beside them, rows kept."""
    asyncio.run(
        _execute(empty_url, "CREATE TABLE widgets (x INTEGER)", "INSERT INTO widgets VALUES (7)")
    )

    done = tokensmith(empty_url, tmp_path, "db", "upgrade")
    after = rows(empty_url)

    assert done.returncode == 0, done.stderr
    assert after["widgets"] == [(7,)]
    assert after["alembic_version"] == [(SCHEMA_REVISION,)]


def test_db_current_prints_the_revision_and_exits_1_unless_newest(
    empty_url: str, tmp_path: Path
) -> None:
    """`db current` prints `REV (head)` with status 0 at the newest revision; an older revision
    is printed with status 1 and the upgrade hint; an empty database is status 1."""
    empty = tokensmith(empty_url, tmp_path, "db", "current")
    asyncio.run(_execute(empty_url, revision="0005"))
    older = tokensmith(empty_url, tmp_path, "db", "current")
    tokensmith(empty_url, tmp_path, "db", "upgrade")
    newest = tokensmith(empty_url, tmp_path, "db", "current")

    assert (empty.returncode, empty.stdout) == (1, "")
    assert "has no tokensmith schema" in empty.stderr
    assert (older.returncode, older.stdout) == (1, "0005\n")
    assert "run `tokensmith db upgrade`" in older.stderr
    assert (newest.returncode, newest.stdout, newest.stderr) == (
        0,
        f"{SCHEMA_REVISION} (head)\n",
        "",
    )


def test_db_current_does_not_create_a_missing_sqlite_file(tmp_path: Path) -> None:
    """`db current` on a path where no file exists says so and makes none."""
    path = tmp_path / "nowhere.db"

    done = tokensmith(f"sqlite:///{path}", tmp_path, "db", "current")

    assert done.returncode == 1
    assert f"there is no database at {path}" in done.stderr
    assert not path.exists()


def test_help_says_what_db_upgrade_does(tmp_path: Path) -> None:
    """`tokensmith --help` lists `db`; `db upgrade --help` says it creates or upgrades the
    schema and leaves other tables alone; `db current --help` gives its exit status."""
    top = run_cli("--help", cwd=tmp_path, env=_ENV)
    upgrade = run_cli("db", "upgrade", "--help", cwd=tmp_path, env=_ENV)
    current = run_cli("db", "current", "--help", cwd=tmp_path, env=_ENV)

    assert "db upgrade" in " ".join(top.stdout.split())
    assert "db" in top.stdout.split()
    text = " ".join(upgrade.stdout.split())
    assert "Create tokensmith's tables" in text
    assert "other applications' tables are left alone" in text
    assert "Exit status 0" in " ".join(current.stdout.split())


def test_db_upgrade_keeps_and_names_realms_differing_only_in_case(
    empty_url: str, tmp_path: Path
) -> None:
    """Realms "acme" and "Acme", made before names had to differ in more than case, are both
    kept by `db upgrade`, which names them; both keep their own realm."""
    asyncio.run(
        _execute(
            empty_url,
            _REALM_AT_0005,
            _REALM_AT_0005.replace("(1, 'old'", "(2, 'Old'"),
            revision="0005",
        )
    )

    upgraded = tokensmith(empty_url, tmp_path, "db", "upgrade")
    shown = [tokensmith(empty_url, tmp_path, "realm", "show", name) for name in ("old", "Old")]

    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stderr == (
        "note: realms 'old' and 'Old' differ only in case (they were made before realm names "
        "had to differ in more than case); each keeps working at its own URLs, and no new realm "
        "may take the name in any case\n"
    )
    assert [s.stdout.splitlines()[0].split()[-1] for s in shown] == ["old", "Old"]
