"""Which schema a database holds, against this version's migrations, read without writing.

A SQLite file is read through a read-only connection of the standard library's ``sqlite3``, so
that neither the file (which may be another application's) nor its journal mode changes, and a
missing file is not created. PostgreSQL is read in a plain read transaction.

The revisions are the migration files' names (``versions/NNNN_what.py`` holds revision ``NNNN``,
each revising the one before it; ``tests/store/test_schema.py`` checks that against Alembic's own
reading), so knowing them does not import Alembic.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection as SyncConnection

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"

REVISIONS: tuple[str, ...] = tuple(
    sorted(p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("[0-9]*_*.py"))
)
"""This version's schema revisions, oldest first."""
HEAD = REVISIONS[-1]
"""The revision this version's code reads and writes."""

UPGRADE = "run `tokensmith db upgrade` (or start `tokensmith serve`, which upgrades it too)"


@dataclass(frozen=True)
class Found:
    """What a database holds: whether it exists at all (a SQLite file may not), its tables other
    than Alembic's, and the revision Alembic recorded (None without one)."""

    exists: bool
    tables: tuple[str, ...] = ()
    revision: str | None = None


class NotADatabase(Exception):
    """The SQLite file exists but is not a SQLite database."""


def read_sqlite(path: Path, timeout: float) -> Found:
    """What the SQLite file at ``path`` holds, read through a read-only connection.

    Raises:
        NotADatabase: the file is not a SQLite database.
        sqlite3.Error: the file cannot be opened or read.
    """
    if not path.exists():
        return Found(exists=False)
    uri = f"{path.resolve().as_uri()}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=timeout)
    try:
        try:
            names = [
                row[0]
                for row in conn.execute(
                    "SELECT name FROM sqlite_master "
                    "WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                )
            ]
        except sqlite3.DatabaseError as exc:
            if "not a database" in str(exc):
                raise NotADatabase from None
            raise
        revisions: list[str] = []
        if VERSION_TABLE in names:
            revisions = [r[0] for r in conn.execute(f"SELECT version_num FROM {VERSION_TABLE}")]  # noqa: S608
    finally:
        conn.close()
    return _found(names, revisions)


def read(conn: SyncConnection) -> Found:
    """What the database of ``conn`` holds (in its default schema)."""
    names = inspect(conn).get_table_names()
    revisions: list[str] = []
    if VERSION_TABLE in names:
        revisions = list(conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())  # noqa: S608
    return _found(names, revisions)


def _found(names: list[str], revisions: list[str]) -> Found:
    tables = tuple(sorted(n for n in names if n != VERSION_TABLE))
    # Alembic keeps one row per branch head; tokensmith's history has one branch.
    revision = ",".join(str(r) for r in revisions) if revisions else None
    return Found(exists=True, tables=tables, revision=revision)


def problem(found: Found, where: str) -> str | None:
    """Why code of this version cannot work on the database ``found`` (at ``where``), saying what
    to do about it, or None when its schema is at :data:`HEAD`."""
    if not found.exists:
        return f"there is no database at {where}; create it with `tokensmith db upgrade`"
    if found.revision == HEAD:
        return None
    if found.revision is not None:
        return unknown(found.revision) or (
            f"the database's tokensmith schema is at revision {found.revision}, older than this "
            f"version's {HEAD}; {UPGRADE}"
        )
    if not found.tables:
        return (
            "the database is empty: it has no tokensmith schema; create it with "
            "`tokensmith db upgrade`"
        )
    shown = ", ".join(found.tables[:5]) + (", …" if len(found.tables) > 5 else "")
    return (
        f"this database has no tokensmith schema (it holds other tables: {shown}); check "
        "--database or $TOKENSMITH_DATABASE_URL (`tokensmith db upgrade` would add tokensmith's "
        "tables beside them)"
    )


def unknown(revision: str | None) -> str | None:
    """Why a recorded ``revision`` that is none of this version's cannot be upgraded, or None
    when it is one of them (or there is none)."""
    if revision is None or revision in REVISIONS:
        return None
    shown = revision if len(revision) <= 40 else revision[:40] + "…"
    return (
        f"the database's {VERSION_TABLE} table names revision {shown!r}, which is not one of "
        f"this tokensmith's (its newest is {HEAD}): the database belongs to another application, "
        "or a newer tokensmith upgraded it; nothing was changed"
    )
