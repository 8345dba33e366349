"""Plans (:mod:`._direct`) on a SQLite file, run on the event loop's own thread."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import Executable

from ._direct import Compiled, Plan, drive

T = TypeVar("T")
log = logging.getLogger("tokensmith.store")

CHECKPOINT_EVERY = 100
"""Commits between two checkpoints of the WAL (a refresh grant adds ~6 pages to it)."""
RESTART_EVERY = 5 * CHECKPOINT_EVERY
"""Commits after which a checkpoint also makes the next writer start the WAL anew."""
STARVED_CHECKPOINT = 4 * RESTART_EVERY
"""Commits without a restarted WAL, after which writing waits for a checkpoint."""
SPIN = 0.0002
"""Seconds a plan tries again at once for the write lock (another process's plan holds it for
~50 µs) before it joins the queue."""


class SQLiteWriter:
    """Runs plans on a SQLite file, on the event loop's own thread, with a connection of its own.

    A plan is a few statements on rows found by their keys: tens of microseconds of work, less
    than handing it to another thread and back, and on this thread SQLite's write lock is never
    held while the thread waits for the GIL.

    The connection never waits inside SQLite (its busy timeout is 0). A plan that finds the
    write lock taken by another connection (another process's plan, for ~50 µs) tries again at
    once for up to :data:`SPIN` seconds; if the lock is still taken (a checkpoint, a command of
    the CLI), it joins a queue: one task tries again on the loop's next turns and then every
    millisecond, and when it gets through runs every queued plan, each in its own transaction,
    back to back. (SQLite's own busy wait sleeps 1, 2, 5, 10… ms between tries, for each waiting
    connection on its own.) A plan gives up after ``timeout`` seconds in the queue.

    Nor does a commit copy the WAL into the database file on this thread (SQLite's automatic
    checkpoint: 1,000 pages and two fsyncs, ~5 ms here, every ~150 grants). Every
    :data:`CHECKPOINT_EVERY` commits, a thread checkpoints with a connection of its own in
    PASSIVE mode: it copies the pages while writers go on. PASSIVE checkpoints alone leave the
    WAL growing while writers keep adding to it, so every :data:`RESTART_EVERY` commits the
    checkpoint goes on in RESTART mode: it waits for a moment without a writer and holds the
    write lock (plans queue meanwhile) while it copies the few pages added since and syncs both
    files, so that the next writer starts the WAL from its beginning and the file stays small.
    Before it, the thread syncs the database file itself (:func:`presync`), holding no lock: the
    RESTART then holds the write lock about half as long (measured under 2,300-2,700 refresh
    grants/s on two workers: 4.1-5.2 ms instead of 9.1-9.4 ms at the median). After
    :data:`STARVED_CHECKPOINT` commits without such a restart, this process stops writing until
    a checkpoint gets through.

    ``pragmas`` are run on the connections when they open.
    """

    def __init__(self, path: Path, dialect: Dialect, *, pragmas: list[str], timeout: float) -> None:
        self._path = path
        self._pragmas = pragmas
        self._timeout = timeout
        self._compiled = Compiled(dialect)
        self._conn: sqlite3.Connection | None = None
        self._queue: deque[_Queued[Any]] = deque()
        self._retrying: asyncio.Task[None] | None = None
        self._since_checkpoint = 0
        self._since_restart = 0
        self._checkpointer: ThreadPoolExecutor | None = None
        self._checkpoint_conn: sqlite3.Connection | None = None
        self._checkpointing: asyncio.Future[bool] | None = None

    async def run(self, plan: Plan[T]) -> T:
        """Run ``plan`` in one ``BEGIN IMMEDIATE`` transaction.

        Raises:
            sqlite3.Error: as sqlite3 raised it (the caller sorts outages from bugs); a database
                still locked after ``timeout`` seconds raises ``OperationalError``.
        """
        if not self._queue and self._since_restart < STARVED_CHECKPOINT:
            try:
                return self._run(plan)
            except _Locked:
                pass
        loop = asyncio.get_running_loop()
        queued: _Queued[T] = _Queued(plan, loop.create_future(), loop.time() + self._timeout)
        self._queue.append(queued)
        if self._retrying is None:
            self._retrying = loop.create_task(self._retry())
        return await queued.result

    async def _retry(self) -> None:
        """Run the queued plans as soon as the write lock is free; then stop."""
        loop = asyncio.get_running_loop()
        tries = 0
        try:
            while self._queue:
                if self._since_restart >= STARVED_CHECKPOINT:
                    checkpoint = self._checkpointing or self._start_checkpoint()
                    await asyncio.wait([checkpoint], timeout=self._timeout)
                now = loop.time()
                while self._queue and self._queue[0].deadline <= now:
                    self._queue.popleft().settle(exc=sqlite3.OperationalError("database is locked"))
                if self._run_queued():
                    tries = 0
                else:
                    await asyncio.sleep(0 if tries < 2 else 0.001)
                    tries += 1
        finally:
            self._retrying = None

    def _run_queued(self) -> bool:
        """Run the queued plans back to back: True when the queue is empty, False when the
        write lock is taken."""
        while self._queue:
            queued = self._queue[0]
            if queued.result.done():  # its request was cancelled: it is not run
                self._queue.popleft()
                continue
            try:
                result = self._run(queued.plan)
            except _Locked:
                return False
            except Exception as exc:
                self._queue.popleft().settle(exc=exc)
            else:
                self._queue.popleft().settle(result)
        return True

    def _run(self, plan: Plan[T]) -> T:
        conn = self._conn or self._open()
        _begin(conn)
        try:
            result = drive(plan, lambda statement, params: self._execute(conn, statement, params))
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        self._since_checkpoint += 1
        self._since_restart += 1
        if self._since_checkpoint >= CHECKPOINT_EVERY and self._checkpointing is None:
            self._start_checkpoint()
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
        conn = sqlite3.connect(self._path, timeout=0, isolation_level=None, check_same_thread=False)
        for pragma in self._pragmas:
            conn.execute(pragma)
        conn.execute("PRAGMA busy_timeout=0")
        conn.execute("PRAGMA wal_autocheckpoint=0")
        self._conn = conn
        return conn

    def _start_checkpoint(self) -> asyncio.Future[bool]:
        if self._checkpointer is None:
            self._checkpointer = ThreadPoolExecutor(1, thread_name_prefix="tokensmith-checkpoint")
        self._since_checkpoint = 0
        restart = self._since_restart >= RESTART_EVERY
        loop = asyncio.get_running_loop()
        checkpoint = loop.run_in_executor(self._checkpointer, self._checkpoint, restart)
        checkpoint.add_done_callback(self._checkpointed)
        self._checkpointing = checkpoint
        return checkpoint

    def _checkpoint(self, restart: bool) -> bool:
        """Checkpoint the WAL (in the checkpoint thread), then, if ``restart``, make the next
        writer restart it; whether it will."""
        conn = self._checkpoint_conn
        if conn is None:
            conn = sqlite3.connect(self._path, timeout=self._timeout, isolation_level=None)
            for pragma in self._pragmas:
                conn.execute(pragma)
            self._checkpoint_conn = conn
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        if not restart:
            return False
        presync(self._path)
        busy, _pages, _copied = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        return bool(busy == 0)

    def _checkpointed(self, done: asyncio.Future[bool]) -> None:
        self._checkpointing = None
        if done.cancelled():
            return
        if (exc := done.exception()) is not None:
            # The next checkpoint takes these pages too.
            log.debug("WAL checkpoint failed: %s", type(exc).__name__)
        elif done.result():
            self._since_restart = 0

    async def close(self) -> None:
        """Fail the plans still queued, and close the connections once a running checkpoint is
        done (a later plan opens them again)."""
        if self._retrying is not None:
            self._retrying.cancel()
        while self._queue:
            self._queue.popleft().settle(exc=sqlite3.OperationalError("database closed"))
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            await asyncio.wrap_future(checkpointer.submit(self._close_checkpoint_conn))
            checkpointer.shutdown()

    def _close_checkpoint_conn(self) -> None:
        if self._checkpoint_conn is not None:
            self._checkpoint_conn.close()
            self._checkpoint_conn = None


def presync(path: Path) -> None:
    """Write the database file's dirty pages to disk (``fsync``), holding no lock of SQLite's:
    a RESTART checkpoint syncs the file while it holds the write lock, and then finds little
    left to write. (Syncing the WAL the same way measured no gain.) A file that cannot be opened
    or synced is left to the checkpoint.

    The descriptor stays open for as long as the process runs. SQLite locks the database file
    with POSIX record locks, and closing *any* descriptor of the file in this process drops
    them for every connection of the process: another process closing its last connection would
    then think itself the last one, checkpoint and delete the WAL this process still writes to.
    """
    name = str(path)
    with _SYNC_LOCK:
        fd = _SYNC_FDS.get(name)
        try:
            if fd is None or not os.path.samestat(os.fstat(fd), os.stat(name)):
                fd = _SYNC_FDS[name] = os.open(name, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return
    with contextlib.suppress(OSError):
        os.fsync(fd)


_SYNC_FDS: dict[str, int] = {}
"""The descriptor :func:`presync` keeps of each database file (see there why it stays open; a
file replaced under the same name gets a new one, and the old one stays open too)."""
_SYNC_LOCK = threading.Lock()


def _begin(conn: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE``, trying again for up to :data:`SPIN` seconds while another
    connection holds the write lock.

    Raises:
        _Locked: the write lock is still taken.
    """
    spin_until = 0.0
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                raise
        now = time.perf_counter()
        if not spin_until:
            spin_until = now + SPIN
        elif now >= spin_until:
            raise _Locked
        time.sleep(0)  # lets the holder run, if it waits for this CPU


class _Queued(Generic[T]):
    """A plan waiting for the write lock, and where its outcome goes."""

    __slots__ = ("deadline", "plan", "result")

    def __init__(self, plan: Plan[T], result: asyncio.Future[T], deadline: float) -> None:
        self.plan = plan
        self.result = result
        self.deadline = deadline

    def settle(self, value: Any = None, *, exc: BaseException | None = None) -> None:
        """Hand over the outcome, unless no one waits for it any more."""
        if self.result.done():
            return
        if exc is not None:
            self.result.set_exception(exc)
        else:
            self.result.set_result(value)


class _Locked(Exception):
    """Another connection holds SQLite's write lock."""
