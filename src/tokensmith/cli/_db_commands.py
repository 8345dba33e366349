"""``tokensmith db upgrade|current``: the database schema. Besides ``serve``, ``db upgrade`` is the
only command that creates or changes it; every other command checks it first and refuses a
database without tokensmith's schema at the newest revision, writing nothing."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the server's dependencies load only when a command runs
    from ..server import Settings


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register the db commands."""
    db = sub.add_parser(
        "db",
        help="create or upgrade the database schema, or print its revision",
        description="The database schema (Alembic migrations). `serve` upgrades it on start; "
        "every other command needs it at this version's newest revision and changes nothing "
        "otherwise.",
    )
    dsub = db.add_subparsers(dest="action", required=True, metavar="ACTION")
    dsub.add_parser(
        "upgrade",
        parents=[common],
        help="create tokensmith's schema, or bring it to this version's newest revision",
        description="Create tokensmith's tables in the database (a new SQLite file, mode 0600, "
        "or an existing database), or run the migrations that bring an older schema to this "
        "version's newest revision. Rows are kept; other applications' tables are left alone; a "
        "database whose alembic_version names a revision tokensmith does not know is refused "
        "unchanged. Running it again changes nothing; on PostgreSQL, upgrades started together "
        "(several instances starting, say) take turns under a lock.",
    )
    dsub.add_parser(
        "current",
        parents=[common],
        help="print the database's schema revision; exit 1 unless it is the newest",
        description="Print the schema revision the database is at, followed by '(head)' when it "
        "is this version's newest. Exit status 0 then; 1, with what to do, when the schema is "
        "older, missing or not tokensmith's. Writes nothing.",
    )


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Carry out one db command; returns the exit status."""
    from ..store import SCHEMA_REVISION, Database, realms

    db = Database(settings.database_url, create=args.action == "upgrade")
    try:
        before = await db.revision()
        if args.action == "current":
            if before is not None:
                print(f"{before} (head)" if before == SCHEMA_REVISION else before)
            await db.check_schema()  # says what is wrong, and what to do, when it is not head
            return 0
        await db.migrate()
        await db.check_writable()  # at the newest revision already, a read-only file passed
        after = await db.revision()
        if before is None:
            print(f"created the tokensmith schema at revision {after}")
        elif before == after:
            print(f"the schema is at the newest revision already, {after}")
        else:
            print(f"upgraded the schema from revision {before} to {after}")
        async with db.read() as conn:
            clashes = await realms.case_clashes(conn)
        for names in clashes:
            print(
                f"note: realms {' and '.join(repr(n) for n in names)} differ only in case (they "
                "were made before realm names had to differ in more than case); each keeps "
                "working at its own URLs, and no new realm may take the name in any case",
                file=sys.stderr,
            )
        return 0
    finally:
        await db.close()
