"""The SQLite writer's checkpoints under a steady stream of commits: the WAL is restarted, and
each RESTART is preceded by syncs of both files made outside SQLite's locks."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from tokensmith.store import Database
from tokensmith.store import _sqlite_writer as writer_module
from tokensmith.store._direct import Plan

_INSERT = text("INSERT INTO stream (i, pad) VALUES (:i, :pad)")


def insert(i: int) -> Plan[int]:
    yield _INSERT, {"i": i, "pad": "x" * 200}
    return i


def wal_frames(path: Path) -> int:
    """The frames the WAL of ``path`` holds now."""
    with sqlite3.connect(path) as conn:
        _busy, frames, _copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(frames)


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths ``os.fsync`` is called on (and does sync) while the test runs."""
    paths: list[str] = []
    real = os.fsync

    def record(fd: int) -> None:
        paths.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", record)
    return paths


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc (Linux)")
async def test_restart_checkpoints_sync_both_files_first_and_restart_the_wal(
    tmp_path: Path, synced: list[str]
) -> None:
    """Three times RESTART_EVERY commits, one at a time as requests make them: the WAL is
    restarted (it holds fewer frames than were committed), and before each RESTART the
    checkpoint thread synced the WAL and the database file itself."""
    path = tmp_path / "stream.db"
    db = Database(f"sqlite:///{path}")
    await db.migrate()
    try:
        async with db.write() as conn:
            await conn.execute(text("CREATE TABLE stream (i INTEGER, pad TEXT)"))
        commits = 3 * writer_module.RESTART_EVERY
        for i in range(commits):
            assert await db.run(insert(i)) == i
            await asyncio.sleep(0)  # the loop turns between requests
        writer = db._sqlite_writer
        assert writer is not None
        if writer._checkpointing is not None:
            await writer._checkpointing
        frames = wal_frames(path)
    finally:
        await db.close()

    assert frames < commits  # each commit wrote at least one frame: the WAL started anew
    restarts = synced.count(f"{path}-wal")
    assert restarts >= 1
    assert synced.count(str(path)) == restarts
    assert synced[:2] == [f"{path}-wal", str(path)]


def test_presync_leaves_a_missing_wal_to_the_checkpoint(tmp_path: Path, synced: list[str]) -> None:
    """Before any write there is no WAL file: presync syncs the database file alone."""
    path = tmp_path / "fresh.db"
    sqlite3.connect(path).close()

    writer_module.presync(path)

    assert synced == [str(path)]
