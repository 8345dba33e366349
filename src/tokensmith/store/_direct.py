"""Write transactions run by the database driver itself, for the hot path.

A *plan* is a generator that yields ``(statement, parameters)`` pairs, receives each statement's
first row (a dict, or None), and returns its result; raising rolls the transaction back. The
statements are SQLAlchemy Core, compiled once per dialect; the plan says what to send, and a
runner only sends it:

- SQLite, a database file: ``BEGIN IMMEDIATE``, the statements and ``COMMIT`` back to back on a
  connection of its own, without yielding to the event loop, so that SQLite's write lock is held
  only for the time the statements take (see :class:`SQLiteWriter`);
- PostgreSQL: on a pooled asyncpg connection, ``BEGIN``, the statements (which asyncpg prepares
  once per connection) and ``COMMIT``;
- in-memory SQLite (one connection sees it): through SQLAlchemy, as every other transaction.

What SQLAlchemy adds per statement on an async engine (a greenlet, an execution context, a result
object) costs ~150 µs of CPU here, several times what sqlite3 or asyncpg take; a refresh grant
runs two statements and a transaction around them.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Generator, Mapping
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Executable

T = TypeVar("T")
Step = tuple[Executable, Mapping[str, Any]]
Plan = Generator[Step, "dict[str, Any] | None", T]
"""Statements to run in one write transaction, each with its parameters (ints, strings, bools
or None, passed to the driver as they are); the generator receives each statement's first row."""


class Compiled:
    """Statements compiled for one dialect, each once per set of parameter names."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._cache: dict[tuple[Executable, tuple[str, ...]], tuple[str, tuple[str, ...]]] = {}

    def __call__(self, statement: Executable, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """The SQL text and its positional arguments."""
        key = (statement, tuple(params))
        found = self._cache.get(key)
        if found is None:
            clause = cast(ClauseElement, statement)
            compiled = cast(
                SQLCompiler, clause.compile(dialect=self.dialect, column_keys=list(params))
            )
            found = (str(compiled), tuple(compiled.positiontup or ()))
            self._cache[key] = found
        sql, names = found
        return sql, [params[name] for name in names]


def drive(plan: Plan[T], run: Any) -> T:
    """Run ``plan`` synchronously, ``run(statement, params)`` giving each statement's first
    row."""
    try:
        step = next(plan)
        while True:
            step = plan.send(run(*step))
    except StopIteration as done:
        result: T = done.value
        return result


async def drive_async(plan: Plan[T], run: Any) -> T:
    """Run ``plan``, ``await run(statement, params)`` giving each statement's first row."""
    try:
        step = next(plan)
        while True:
            step = plan.send(await run(*step))
    except StopIteration as done:
        result: T = done.value
        return result


class SQLiteWriter:
    """Runs plans on a SQLite file, on the event loop's own thread, with a connection of its own.

    A plan is a few statements on rows found by their keys: tens of microseconds of work, less
    than handing it to another thread and back, and on this thread SQLite's write lock is never
    held while the thread waits for the GIL. The connection never waits inside SQLite (its busy
    timeout is 0): while another connection holds the write lock, the plan waits here, off the
    thread (0, 1, 2, 4… up to 20 ms between tries), for at most ``timeout`` seconds.
    ``pragmas`` are run on the connection when it opens.
    """

    def __init__(self, path: Path, dialect: Dialect, *, pragmas: list[str], timeout: float) -> None:
        self._path = path
        self._pragmas = pragmas
        self._timeout = timeout
        self._compiled = Compiled(dialect)
        self._conn: sqlite3.Connection | None = None

    async def run(self, plan: Plan[T]) -> T:
        """Run ``plan`` in one ``BEGIN IMMEDIATE`` transaction.

        Raises:
            sqlite3.Error: as sqlite3 raised it (the caller sorts outages from bugs); a database
                still locked after ``timeout`` seconds raises ``OperationalError``.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        pause = 0.0
        while True:
            try:
                return self._run(plan)
            except _Locked:
                if loop.time() >= deadline:
                    raise sqlite3.OperationalError("database is locked") from None
            await asyncio.sleep(pause)
            pause = min(max(2 * pause, 0.001), 0.02)

    def _run(self, plan: Plan[T]) -> T:
        conn = self._conn or self._open()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY:
                raise _Locked from None
            raise
        try:
            result = drive(plan, lambda statement, params: self._execute(conn, statement, params))
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    def _execute(
        self, conn: sqlite3.Connection, statement: Executable, params: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        sql, args = self._compiled(statement, params)
        cursor = conn.execute(sql, args)
        rows = cursor.fetchall()  # steps the statement to its end before COMMIT
        if not rows:
            return None
        return dict(zip([c[0] for c in cursor.description], rows[0], strict=True))

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, timeout=0, isolation_level=None)
        for pragma in self._pragmas:
            conn.execute(pragma)
        conn.execute("PRAGMA busy_timeout=0")
        self._conn = conn
        return conn

    def close(self) -> None:
        """Close the connection (a later plan opens it again)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class _Locked(Exception):
    """Another connection holds SQLite's write lock."""


async def run_on_asyncpg(conn: AsyncConnection, compiled: Compiled, plan: Plan[T]) -> T:
    """Run ``plan`` in one transaction on the asyncpg connection under ``conn`` (which must not
    be in a transaction of SQLAlchemy's). A failure of the plan rolls back; after a failure of
    the connection or the server (or when the transaction could not be ended), the connection is
    invalidated instead: closed, not returned to the pool, and no ROLLBACK awaited from a server
    that may not answer.

    Raises:
        Exception: what asyncpg or the plan raised.
    """
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None

    async def run(statement: Executable, params: Mapping[str, Any]) -> dict[str, Any] | None:
        sql, args = compiled(statement, params)
        row = await driver.fetchrow(sql, *args)
        return None if row is None else dict(row.items())

    try:
        transaction = driver.transaction()
        await transaction.start()
        try:
            result = await drive_async(plan, run)
        except BaseException as exc:
            if not is_asyncpg_error(exc):
                await transaction.rollback()
            raise
        await transaction.commit()
    except BaseException as exc:
        if is_asyncpg_error(exc) or driver.is_in_transaction():
            await conn.invalidate()
        raise
    return result


def is_asyncpg_error(exc: BaseException) -> bool:
    """Whether ``exc`` came from asyncpg: the server, the connection or a timeout."""
    import asyncpg  # only on PostgreSQL, where SQLAlchemy imported it already

    return isinstance(exc, OSError | TimeoutError | asyncpg.PostgresError | asyncpg.InterfaceError)
