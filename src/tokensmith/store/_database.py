"""The database: engine set-up for SQLite (the embedded default) and PostgreSQL, and migrations.

SQLite runs in WAL mode with a busy timeout; write transactions start with ``BEGIN IMMEDIATE`` so
that two processes never deadlock upgrading a read lock, and a process's own ``write()``
transactions take turns on a lock of the process. Plans (:meth:`Database.run`, the refresh
grant's rotation) are run by the driver itself, on SQLite by :mod:`._sqlite_writer`. The SQLite
file (and so its ``-wal`` and ``-shm`` files, which SQLite creates with the database file's mode)
is readable by its owner only.
PostgreSQL migrations run under an advisory lock so that a fleet starting together migrates once.

Every wait on the database is bounded: connecting, each statement, a free pooled connection and
SQLite's lock. A database that stops answering makes requests fail with
:class:`DatabaseUnavailable` within a few seconds instead of hanging with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event, false, text
from sqlalchemy.engine import Connection as SyncConnection
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DataError,
    DBAPIError,
    IntegrityError,
    ProgrammingError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ..oauth import TokensmithError
from . import _schema
from ._direct import Compiled, Plan, is_asyncpg_error, run_on_asyncpg
from ._faults import permanent_fault, sqlite_url_problem
from ._notify import ChangeListener
from ._sqlite_writer import SQLiteWriter
from ._tables import service_meta

T = TypeVar("T")

DEFAULT_URL = "sqlite:///./tokensmith.db"
Connection = AsyncConnection
"""A database connection, as the repositories take it."""

_MIGRATIONS = _schema.MIGRATIONS
_MIGRATION_LOCK = 0x746F6B73  # "toks"


class DatabaseError(TokensmithError):
    """The database URL is unusable or the database cannot be reached."""


class DatabaseUnavailable(DatabaseError):
    """The database could not be reached, or the connection broke, while serving a request."""


class SchemaError(DatabaseError):
    """The database holds no tokensmith schema, or one at a revision other than the newest that
    this version knows; the message says what to do (usually ``tokensmith db upgrade``)."""


DEFAULT_TIMEOUT = 3.0
"""Seconds any one wait on the database may last (connect, statement, pool, SQLite lock)."""
POOL_SIZE = 10
"""Connections each process keeps open; requests beyond it wait for a free one. The pool never
opens extra connections to close them again after a burst: a new PostgreSQL connection costs
the server a process."""
_MIGRATION_WAIT = 120.0

# SQLAlchemy's pool TimeoutError is not Python's TimeoutError (asyncpg's command timeout).
_UNAVAILABLE = (DBAPIError, OSError, TimeoutError, PoolTimeout)
# Errors in what we asked, not in reaching the database: bugs, never reported as an outage.
_OUR_FAULT = (IntegrityError, ProgrammingError, DataError)
_SQLITE_OUR_FAULT = (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.DataError)


def async_url(url: str) -> str:
    """Map a plain URL to its async driver: ``sqlite://`` → aiosqlite, ``postgresql://`` → asyncpg.

    Raises:
        DatabaseError: the URL is not a SQLite or PostgreSQL URL, or a SQLite URL names no file.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(f"cannot parse database URL {url!r}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        why = sqlite_url_problem(url, parsed)
        if why is not None:
            raise DatabaseError(why)
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
    """An async engine plus the transaction helpers the repositories use.

    ``timeout`` bounds each wait on the database: connecting, a free pooled connection and,
    unless ``statement_timeout`` says otherwise, one statement and SQLite's busy wait for a
    lock. A SQLite file is created with mode 0600, and one found readable by others is narrowed
    to 0600 (with its ``-wal`` and ``-shm`` files).

    With ``create=False`` the database is only opened, never made: a SQLite file is neither
    created nor touched until :meth:`check_schema` finds tokensmith's schema in it (a caller
    that reads or writes rows checks first: a query would make a missing file).

    Raises:
        DatabaseError: the URL is not a SQLite or PostgreSQL URL, or the SQLite file cannot be
            created.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        echo: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        statement_timeout: float | None = None,
        create: bool = True,
    ) -> None:
        self.url = url
        self.timeout = timeout
        statement_timeout = statement_timeout or timeout
        driver_url = async_url(url)
        self.is_sqlite = make_url(driver_url).get_backend_name() == "sqlite"
        connect_args: dict[str, Any] = {}
        if not self.is_sqlite:
            # asyncpg: "timeout" bounds connecting, "command_timeout" every statement.
            connect_args = {"timeout": timeout, "command_timeout": statement_timeout}
        self.engine: AsyncEngine = create_async_engine(
            driver_url,
            echo=echo,
            pool_timeout=timeout,
            pool_size=POOL_SIZE,
            max_overflow=0,
            connect_args=connect_args,
        )
        self._path = sqlite_path(url) if self.is_sqlite else None
        # SQLite lets one transaction write at a time: this process's write() transactions take
        # turns here (waking as soon as the one before commits) rather than in SQLite's busy
        # wait, which sleeps 1, 2, 5, 10… ms between tries.
        self._turns = asyncio.Lock() if self.is_sqlite else None
        self._compiled = Compiled(self.engine.dialect)
        self._sqlite_writer: SQLiteWriter | None = None
        if self.is_sqlite:
            busy_ms = max(1, int(statement_timeout * 1000))
            if self._path is not None:
                if create:
                    _private_file(self._path)
                self._sqlite_writer = SQLiteWriter(
                    self._path,
                    self.engine.dialect,
                    pragmas=_sqlite_pragmas(busy_ms),
                    timeout=statement_timeout,
                )
            _configure_sqlite(self.engine, busy_ms=busy_ms)

    def __repr__(self) -> str:
        return f"Database({make_url(self.url).render_as_string(hide_password=True)!r})"

    async def revision(self) -> str | None:
        """The schema revision the database is at, or None when it holds no tokensmith schema
        (or, for SQLite, does not exist). Writes nothing.

        Raises:
            SchemaError: the SQLite file is not a SQLite database.
            DatabaseError: the database cannot be reached or read.
        """
        return (await self._found()).revision

    async def check_schema(self) -> None:
        """Make sure the database holds tokensmith's schema at the newest revision this version
        knows, without writing to it; then (SQLite) narrow the file to mode 0600 if need be.

        Raises:
            SchemaError: there is no database, no tokensmith schema, or one at another revision;
                the message says which and what to do.
            DatabaseError: the database cannot be reached or read.
        """
        where = str(self._path) if self._path is not None else "this URL"
        why = _schema.problem(await self._found(), where)
        if why is not None:
            raise SchemaError(why)
        if self._path is not None:
            _private_file(self._path)

    async def _found(self) -> _schema.Found:
        if self._path is None:
            try:
                async with self.read() as conn:
                    return await conn.run_sync(_schema.read)
            except DatabaseUnavailable as exc:
                self._refuse_permanent(exc)
                raise
        try:
            return await asyncio.to_thread(_schema.read_sqlite, self._path, self.timeout)
        except _schema.NotADatabase:
            raise SchemaError(f"{self._path} is not a SQLite database") from None
        except sqlite3.Error as exc:
            self._refuse_permanent(exc)
            raise DatabaseError(f"cannot read the database file {self._path}: {exc}") from None

    async def readiness(self, within: float) -> tuple[str | None, str | None]:
        """Whether the database answers now and holds this version's schema, within ``within``
        seconds: ``(why it cannot be used, why its schema is not this version's)``, each None
        when all is well. SQLite is read through a new read-only connection (a file moved away
        or unreadable shows, though the pool's open connections still reach it); PostgreSQL on
        a pooled connection. The reasons name no secret. Writes nothing.
        """
        try:
            async with asyncio.timeout(within):
                found = await self._found()
        except TimeoutError:
            return f"the database did not answer within {within:g} s", None
        except SchemaError as exc:
            return str(exc), None
        except DatabaseUnavailable as exc:
            return f"cannot reach the database: {exc}", None
        except DatabaseError as exc:
            return str(exc), None
        except Exception as exc:  # whatever the driver raised: never a traceback in a probe
            return f"cannot read the database ({type(exc).__name__})", None
        where = str(self._path) if self._path is not None else "this URL"
        if not found.exists:
            return f"there is no database file at {where}", None
        return None, _schema.problem(found, where)

    def change_listener(
        self, on_change: Callable[[str], None], on_connect: Callable[[], Awaitable[None]]
    ) -> ChangeListener | None:
        """A listener for realm changes announced by other processes (see :mod:`._notify`) that
        calls ``on_change(realm name)``; None on SQLite, which has no such channel."""
        if self.is_sqlite:
            return None
        return ChangeListener(
            self.engine.dialect, self.engine.url, on_change, on_connect, timeout=self.timeout
        )

    async def migrate(self) -> None:
        """Create tokensmith's schema, or bring it to the newest revision; other tables in the
        database are left alone.

        Migrations run on a connection of their own without the statement timeout: altering a
        large table, or waiting for another instance that is migrating, may take longer.

        Raises:
            SchemaError: the database records a revision that is not tokensmith's (another
                application's, or a newer tokensmith's); nothing is changed then.
            DatabaseError: the database cannot be reached.
        """
        if self._path is not None:
            # Read-only first: a foreign SQLite file is refused before a connection of ours
            # switches it to WAL. The check under the migration's own lock covers PostgreSQL.
            why = _schema.unknown((await self._found()).revision)
            if why is not None:
                raise SchemaError(why)
        migrator = Database(self.url, timeout=self.timeout, statement_timeout=_MIGRATION_WAIT)
        try:
            async with migrator.write() as conn:
                if not self.is_sqlite:
                    await conn.execute(
                        text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK}
                    )
                await conn.run_sync(_upgrade)
        except DatabaseUnavailable as exc:
            self._refuse_permanent(exc)
            raise
        except OSError as exc:
            raise DatabaseError(f"cannot reach the database: {exc.strerror or exc}") from None
        finally:
            await migrator.close()

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
        async with self._turn():
            try:
                async with self.engine.connect() as conn:
                    conn = await conn.execution_options(tokensmith_write=True)
                    async with conn.begin():
                        yield conn
            except _OUR_FAULT:
                raise
            except _UNAVAILABLE as exc:
                raise _unavailable(exc) from exc

    @contextlib.asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        """This process's turn to write to SQLite (nothing to wait for on PostgreSQL)."""
        if self._turns is None:
            yield
            return
        try:
            async with asyncio.timeout(self.timeout):
                await self._turns.acquire()
        except TimeoutError:
            raise DatabaseUnavailable("the database is unavailable (busy)") from None
        try:
            yield
        finally:
            self._turns.release()

    async def run(self, plan: Plan[T]) -> T:
        """Run ``plan`` (statements, see :mod:`tokensmith.store._direct`) in one write
        transaction, by the driver itself: for the hot path, where SQLAlchemy's own work per
        statement would cost more than the database's. What the plan raises is raised (after
        rolling back).

        Raises:
            DatabaseUnavailable: the database cannot be reached, stayed locked past the timeout,
                or failed mid-transaction.
        """
        if self._sqlite_writer is not None:
            try:
                return await self._sqlite_writer.run(plan)
            except _SQLITE_OUR_FAULT:
                raise
            except sqlite3.Error as exc:
                raise _unavailable(exc) from exc
        try:
            async with self.engine.connect() as conn:
                return await run_on_asyncpg(conn, self._compiled, plan)
        except _UNAVAILABLE as exc:
            raise _unavailable(exc) from exc
        except Exception as exc:
            if is_asyncpg_error(exc) and not _asyncpg_our_fault(exc):
                raise _unavailable(exc) from exc
            raise

    async def close(self) -> None:
        """Close every pooled connection."""
        if self._sqlite_writer is not None:
            await self._sqlite_writer.close()
        await self.engine.dispose()

    # --- Faults no retry mends, found when a command or the service starts (see _faults) -------

    async def check_writable(self) -> None:
        """Make sure the database takes writes, changing nothing: a write of no row, rolled back.

        Raises:
            DatabaseError: the database takes no writes (a read-only SQLite file, a read-only
                PostgreSQL replica); the message says what to change.
            DatabaseUnavailable: the database cannot be reached.
        """
        try:
            async with self.engine.connect() as conn:
                conn = await conn.execution_options(tokensmith_write=True)
                async with conn.begin() as transaction:
                    await conn.execute(
                        service_meta.update().where(false()).values(name=service_meta.c.name)
                    )
                    await transaction.rollback()
        except _UNAVAILABLE as exc:
            self._refuse_permanent(exc)
            raise _unavailable(exc) from exc

    def _refuse_permanent(self, exc: BaseException) -> None:
        """Raise :class:`DatabaseError` saying what to do if ``exc`` is a fault no retry mends
        (a missing PostgreSQL database, a read-only file); return for any other."""
        why = permanent_fault(exc, make_url(self.url))
        if why is not None:
            raise DatabaseError(why) from None


def _asyncpg_our_fault(exc: BaseException) -> bool:
    import asyncpg

    errors = asyncpg.exceptions
    return isinstance(
        exc,
        errors.IntegrityConstraintViolationError | errors.SyntaxOrAccessError | errors.DataError,
    )


def _unavailable(exc: BaseException) -> DatabaseUnavailable:
    # The driver's message may quote SQL parameters; name only the kind of failure.
    return DatabaseUnavailable(f"the database is unavailable ({type(exc).__name__})")


def _private_file(path: Path) -> None:
    """Create the SQLite file 0600 before SQLite does (it would use 0644 under the usual umask);
    SQLite gives the ``-wal`` and ``-shm`` files the database file's mode."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            with contextlib.suppress(OSError):  # absent, or not ours to change
                if file.stat().st_mode & 0o077:
                    file.chmod(0o600)
    except OSError as exc:
        raise DatabaseError(f"cannot create the database file {path}: {exc.strerror}") from None
    else:
        os.close(fd)


def _sqlite_pragmas(busy_ms: int) -> list[str]:
    """How every connection to a SQLite file is set up. ``synchronous=NORMAL`` in WAL mode: a
    commit is written to the WAL without waiting for the disk; a crash of the process loses
    nothing, a power loss may lose the last commits (never the file's consistency)."""
    return [
        "PRAGMA journal_mode=WAL",
        f"PRAGMA busy_timeout={busy_ms}",
        "PRAGMA foreign_keys=ON",
        "PRAGMA synchronous=NORMAL",
    ]


def _configure_sqlite(engine: AsyncEngine, *, busy_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the driver (SQLAlchemy's documented recipe) so that
        # BEGIN is emitted by us, IMMEDIATE for writers.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in _sqlite_pragmas(busy_ms):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: SyncConnection) -> None:
        write = conn.get_execution_options().get("tokensmith_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _upgrade(connection: SyncConnection) -> None:
    # Imported here: Alembic (with Mako and Pygments) is ~10 MB that a worker process, which
    # never migrates (the supervisor did before it started), should not carry.
    from alembic import command
    from alembic.config import Config

    why = _schema.unknown(_schema.read(connection).revision)
    if why is not None:
        raise SchemaError(why)
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
