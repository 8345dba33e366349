"""The database: engine set-up for SQLite (the embedded default) and PostgreSQL, and migrations.

SQLite runs in WAL mode with a busy timeout; write transactions start with ``BEGIN IMMEDIATE`` so
that two processes never deadlock upgrading a read lock. PostgreSQL migrations run under an
advisory lock so that a fleet starting together migrates once.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection as SyncConnection
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DataError, DBAPIError, IntegrityError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ..oauth import TokensmithError

DEFAULT_URL = "sqlite:///./tokensmith.db"
Connection = AsyncConnection
"""A database connection, as the repositories take it."""

_MIGRATIONS = Path(__file__).with_name("migrations")
_MIGRATION_LOCK = 0x746F6B73  # "toks"


class DatabaseError(TokensmithError):
    """The database URL is unusable or the database cannot be reached."""


class DatabaseUnavailable(DatabaseError):
    """The database could not be reached, or the connection broke, while serving a request."""


_UNAVAILABLE = (DBAPIError, OSError, TimeoutError)
# Errors in what we asked, not in reaching the database: bugs, never reported as an outage.
_OUR_FAULT = (IntegrityError, ProgrammingError, DataError)


def async_url(url: str) -> str:
    """Map a plain URL to its async driver: ``sqlite://`` → aiosqlite, ``postgresql://`` → asyncpg.

    Raises:
        DatabaseError: the URL is not a SQLite or PostgreSQL URL.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(f"cannot parse database URL {url!r}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    else:
        raise DatabaseError(
            f"unsupported database {backend!r}: use sqlite:///PATH or postgresql://HOST/DB"
        )
    return parsed.render_as_string(hide_password=False)


def sqlite_path(url: str) -> Path | None:
    """The file a SQLite URL points at, or None for PostgreSQL and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:":
        return None
    return Path(parsed.database)


class Database:
    """An async engine plus the transaction helpers the repositories use."""

    def __init__(self, url: str = DEFAULT_URL, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = make_url(async_url(url)).get_backend_name() == "sqlite"
        self.engine: AsyncEngine = create_async_engine(async_url(url), echo=echo)
        if self.is_sqlite:
            _configure_sqlite(self.engine)

    def __repr__(self) -> str:
        return f"Database({make_url(self.url).render_as_string(hide_password=True)!r})"

    async def migrate(self) -> None:
        """Bring the schema to the newest revision.

        Raises:
            DatabaseError: the database cannot be reached.
        """
        try:
            async with self.write() as conn:
                if not self.is_sqlite:
                    await conn.execute(
                        text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK}
                    )
                await conn.run_sync(_upgrade)
        except OSError as exc:
            raise DatabaseError(f"cannot reach the database: {exc.strerror or exc}") from None

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a read transaction.

        Raises:
            DatabaseUnavailable: the database cannot be reached or failed mid-transaction.
        """
        try:
            async with self.engine.connect() as conn, conn.begin():
                yield conn
        except _OUR_FAULT:
            raise
        except _UNAVAILABLE as exc:
            raise _unavailable(exc) from exc

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a write transaction, committed on success and rolled back on error.

        Raises:
            DatabaseUnavailable: the database cannot be reached or failed mid-transaction.
        """
        try:
            async with self.engine.connect() as conn:
                conn = await conn.execution_options(tokensmith_write=True)
                async with conn.begin():
                    yield conn
        except _OUR_FAULT:
            raise
        except _UNAVAILABLE as exc:
            raise _unavailable(exc) from exc

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def _unavailable(exc: BaseException) -> DatabaseUnavailable:
    # The driver's message may quote SQL parameters; name only the kind of failure.
    return DatabaseUnavailable(f"the database is unavailable ({type(exc).__name__})")


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the driver (SQLAlchemy's documented recipe) so that
        # BEGIN is emitted by us, IMMEDIATE for writers.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: SyncConnection) -> None:
        write = conn.get_execution_options().get("tokensmith_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _upgrade(connection: SyncConnection) -> None:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
