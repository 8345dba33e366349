"""The SQLite writer's checkpoints under a steady stream of commits: the WAL is restarted, each
RESTART is preceded by a sync of the database file made outside SQLite's locks, and that sync
leaves the locks SQLite holds for this process's connections alone."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from tokensmith.store import Database
from tokensmith.store import _sqlite_writer as writer_module
from tokensmith.store._direct import Plan

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc (Linux)")

_INSERT = text("INSERT INTO stream (i, pad) VALUES (:i, :pad)")


def insert(i: int) -> Plan[int]:
    yield _INSERT, {"i": i, "pad": "x" * 200}
    return i


def wal_restarts(path: Path) -> int:
    """How many times the WAL of ``path`` was started anew: the checkpoint sequence number of
    its header (bytes 12-15, big-endian; SQLite's file format, section 4.1)."""
    header = Path(f"{path}-wal").read_bytes()[:32]
    return int.from_bytes(header[12:16], "big")


def real(path: Path) -> str:
    """``path`` as ``/proc/self/fd`` names it (symbolic links resolved)."""
    return os.path.realpath(path)


def rows_seen_by_another_process(path: Path) -> int:
    """How many rows of table ``t`` a new connection of another process sees (it connects,
    counts and closes: the close of what it thinks is the last connection checkpoints)."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
            "print(c.execute('SELECT count(*) FROM t').fetchone()[0]); c.close()",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files ``os.fsync`` is called on (and does sync) while the test runs."""
    paths: list[str] = []
    real = os.fsync

    def record(fd: int) -> None:
        paths.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", record)
    return paths


async def test_restart_checkpoints_sync_the_database_first_and_restart_the_wal(
    tmp_path: Path, synced: list[str]
) -> None:
    """Three times RESTART_EVERY commits, one at a time as requests make them: the WAL is
    started anew at least twice, and before the RESTARTs the checkpoint thread synced the
    database file itself."""
    path = tmp_path / "stream.db"
    db = Database(f"sqlite:///{path}")
    await db.migrate()
    try:
        async with db.write() as conn:
            await conn.execute(text("CREATE TABLE stream (i INTEGER, pad TEXT)"))
        writer = db._sqlite_writer
        assert writer is not None
        for i in range(3 * writer_module.RESTART_EVERY):
            assert await db.run(insert(i)) == i
            if writer._checkpointing is not None:  # as a service's idle moments let it finish
                await writer._checkpointing
        restarts = wal_restarts(path)
    finally:
        await db.close()

    assert restarts >= 2  # a RESTART every RESTART_EVERY commits, once the next one is done
    assert synced
    assert set(synced) == {real(path)}


def test_presync_leaves_this_processs_locks_alone(tmp_path: Path) -> None:
    """After presync, another process that opens and closes the database still sees this
    process's connection holding it: it neither checkpoints nor deletes the WAL, and a row this
    process writes afterwards is seen by the next process too (closing a descriptor of the file
    would drop the process's POSIX locks, and that row would go to a deleted WAL)."""
    path = tmp_path / "locks.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (i INTEGER)")
        conn.execute("INSERT INTO t VALUES (1)")

        writer_module.presync(path)
        first = rows_seen_by_another_process(path)
        wal_kept = Path(f"{path}-wal").exists()
        conn.execute("INSERT INTO t VALUES (2)")
        second = rows_seen_by_another_process(path)
    finally:
        conn.close()

    assert first == 1
    assert wal_kept
    assert second == 2


def test_presync_of_a_file_that_is_not_there_does_nothing(
    tmp_path: Path, synced: list[str]
) -> None:
    """A database file that is gone (or was never made) is left to the checkpoint."""
    writer_module.presync(tmp_path / "missing.db")

    assert synced == []
