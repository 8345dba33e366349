"""Write transactions run by the database driver itself, for the hot path.

A *plan* is a generator that yields ``(statement, parameters)`` pairs, receives each statement's
first row (a dict, or None), and returns its result; raising rolls the transaction back. The
statements are SQLAlchemy Core, compiled once per dialect; the plan says what to send, and a
runner only sends it:

- SQLite, a database file: ``BEGIN IMMEDIATE``, the statements and ``COMMIT`` back to back on a
  connection of its own, without yielding to the event loop, so that SQLite's write lock is held
  only for the time the statements take (:class:`._sqlite_writer.SQLiteWriter`);
- PostgreSQL: on a pooled asyncpg connection, ``BEGIN``, the statements (which asyncpg prepares
  once per connection) and ``COMMIT``.

What SQLAlchemy adds per statement on an async engine (a greenlet, an execution context, a result
object) measured 100-200 µs of CPU here, several times what sqlite3 or asyncpg take; a refresh
grant runs two statements and a transaction around them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Mapping
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


Row = dict[str, Any] | None


def drive(plan: Plan[T], run: Callable[[Executable, Mapping[str, Any]], Row]) -> T:
    """Run ``plan`` synchronously, ``run(statement, params)`` giving each statement's first
    row."""
    try:
        step = next(plan)
        while True:
            step = plan.send(run(*step))
    except StopIteration as done:
        result: T = done.value
        return result


async def drive_async(
    plan: Plan[T], run: Callable[[Executable, Mapping[str, Any]], Awaitable[Row]]
) -> T:
    """Run ``plan``, ``await run(statement, params)`` giving each statement's first row."""
    try:
        step = next(plan)
        while True:
            step = plan.send(await run(*step))
    except StopIteration as done:
        result: T = done.value
        return result


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

    errors = asyncpg.exceptions
    return isinstance(
        exc,
        OSError
        | TimeoutError
        | errors.PostgresError
        | errors.InterfaceError
        # e.g. a connection the server ended while it sat in the pool
        | errors.InternalClientError,
    )
