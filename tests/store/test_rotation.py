"""Rotating a refresh token as one plan run by the driver itself (``refresh.rotate`` with
``Database.run``): a live token of the client is used once and replaced in one transaction, a
refused successor leaves it live, and concurrent rotations have exactly one winner (on SQLite
and PostgreSQL); SQLite writers wait for one another and checkpoint off the event loop."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text

from tokensmith.store import (
    Database,
    DatabaseUnavailable,
    RefreshTokenRecord,
    clients,
    refresh,
    sqlite_path,
)
from tokensmith.store._direct import Plan
from tokensmith.store._sqlite_writer import STARVED_CHECKPOINT

from .conftest import create_realm

NOW = 1000


async def _client(db: Database, realm_id: int, client_id: str = "svc") -> int:
    async with db.write() as conn:
        client = await clients.create_client(
            conn,
            realm_id=realm_id,
            client_id=client_id,
            scopes="read",
            default_scopes="read",
            refresh_tokens=True,
            access_token_ttl=None,
            response_style=None,
            secret_digest="sha256$00",
            now=0,
        )
    return client.id


def _record(realm_id: int, client_pk: int, digest: str, **changes: object) -> RefreshTokenRecord:
    record = RefreshTokenRecord(
        digest=digest,
        family="fam",
        realm_id=realm_id,
        client_pk=client_pk,
        scope="read",
        issued_at=0,
        expires_at=NOW + 600,
        used_at=None,
        revoked=False,
    )
    return dataclasses.replace(record, **changes)  # type: ignore[arg-type]


async def _store(db: Database, record: RefreshTokenRecord) -> None:
    async with db.write() as conn:
        await refresh.insert_refresh_token(conn, record)


async def _get(db: Database, digest: str) -> RefreshTokenRecord | None:
    async with db.read() as conn:
        return await refresh.get_refresh_token(conn, digest)


def _successor(digest: str) -> Callable[[RefreshTokenRecord], RefreshTokenRecord]:
    def make(used: RefreshTokenRecord) -> RefreshTokenRecord:
        return dataclasses.replace(used, digest=digest, parent=used.digest, used_at=None)

    return make


def _rotate(record: RefreshTokenRecord, successor: str) -> Plan[RefreshTokenRecord | None]:
    return refresh.rotate(
        record.digest,
        realm_id=record.realm_id,
        client_pk=record.client_pk,
        now=NOW,
        successor=_successor(successor),
    )


async def test_a_live_token_is_rotated_once(db: Database, realm_id: int) -> None:
    """The first rotation uses the token and stores its successor; a second finds it used."""
    token = _record(realm_id, await _client(db, realm_id), "a" * 64)
    await _store(db, token)

    first = await db.run(_rotate(token, "b" * 64))
    second = await db.run(_rotate(token, "c" * 64))

    used, child = await _get(db, token.digest), await _get(db, "b" * 64)
    assert first == child
    assert second is None
    assert used == dataclasses.replace(token, used_at=NOW)
    assert child == dataclasses.replace(token, digest="b" * 64, parent=token.digest)
    assert await _get(db, "c" * 64) is None


async def test_a_refused_successor_leaves_the_token_live(db: Database, realm_id: int) -> None:
    """When the successor cannot be made, the claim is rolled back: the token stays unused."""
    token = _record(realm_id, await _client(db, realm_id), "a" * 64)
    await _store(db, token)

    def refuse(used: RefreshTokenRecord) -> RefreshTokenRecord:
        raise LookupError("not this one")

    plan = refresh.rotate(
        token.digest, realm_id=realm_id, client_pk=token.client_pk, now=NOW, successor=refuse
    )
    with pytest.raises(LookupError):
        await db.run(plan)

    assert await _get(db, token.digest) == token
    assert await db.run(_rotate(token, "b" * 64)) is not None


@pytest.mark.parametrize(
    "changes",
    [{"used_at": NOW - 5}, {"revoked": True}, {"expires_at": NOW}],
    ids=["used", "revoked", "expired"],
)
async def test_only_a_live_token_is_rotated(
    db: Database, realm_id: int, changes: dict[str, object]
) -> None:
    """A used, revoked or expired token is not claimed, and nothing is written."""
    token = _record(realm_id, await _client(db, realm_id), "a" * 64, **changes)
    await _store(db, token)

    rotated = await db.run(_rotate(token, "b" * 64))

    assert rotated is None
    assert await _get(db, token.digest) == token
    assert await _get(db, "b" * 64) is None


async def test_another_clients_token_is_not_rotated(db: Database, realm_id: int) -> None:
    """A token presented by a client it was not issued to is not claimed."""
    token = _record(realm_id, await _client(db, realm_id), "a" * 64)
    await _store(db, token)
    other = await _client(db, realm_id, "other")

    rotated = await db.run(
        refresh.rotate(
            token.digest,
            realm_id=realm_id,
            client_pk=other,
            now=NOW,
            successor=_successor("b" * 64),
        )
    )

    assert rotated is None
    assert await _get(db, token.digest) == token


async def test_concurrent_rotations_have_one_winner(db: Database, realm_id: int) -> None:
    """Eight processes' worth of rotations of one token at once (each its own connection and
    event loop, started together): exactly one stores a successor."""
    token = _record(realm_id, await _client(db, realm_id), "a" * 64)
    await _store(db, token)
    barrier = threading.Barrier(8)

    def rotate(i: int) -> bool:
        async def go() -> bool:
            other = Database(db.url)
            try:
                plan = _rotate(token, f"{i:064x}")
                barrier.wait()
                return await other.run(plan) is not None
            finally:
                await other.close()

        return asyncio.run(go())

    with ThreadPoolExecutor(8) as pool:
        won = await asyncio.to_thread(lambda: list(pool.map(rotate, range(8))))

    assert won.count(True) == 1
    async with db.read() as conn:
        children = await conn.scalar(
            text("SELECT count(*) FROM refresh_tokens WHERE parent = :p"), {"p": token.digest}
        )
    assert children == 1


def _sqlite_file(db: Database) -> Path:
    path = sqlite_path(db.url)
    assert path is not None
    return path


async def test_a_sqlite_plan_waits_for_another_writer(sqlite_url: str) -> None:
    """While another connection holds SQLite's write lock, a plan waits (the event loop goes
    on) and runs once the lock is released."""
    db = Database(sqlite_url)
    await db.migrate()
    try:
        realm_id = await _realm(db)
        token = _record(realm_id, await _client(db, realm_id), "a" * 64)
        await _store(db, token)
        holder = sqlite3.connect(_sqlite_file(db), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        rotation = asyncio.create_task(db.run(_rotate(token, "b" * 64)))
        await asyncio.sleep(0.2)  # the plan has tried and queued by now
        waited = not rotation.done()
        holder.execute("COMMIT")
        holder.close()

        rotated = await asyncio.wait_for(rotation, 5)
    finally:
        await db.close()

    assert waited
    assert rotated is not None


async def test_a_sqlite_plan_gives_up_after_the_timeout(sqlite_url: str) -> None:
    """A plan that cannot get SQLite's write lock within the database's timeout fails as
    unavailable, and leaves the token as it was."""
    db = Database(sqlite_url, timeout=0.5)
    await db.migrate()
    holder = sqlite3.connect(_sqlite_file(db), isolation_level=None)
    try:
        realm_id = await _realm(db)
        token = _record(realm_id, await _client(db, realm_id), "a" * 64)
        await _store(db, token)
        holder.execute("BEGIN IMMEDIATE")
        started = asyncio.get_running_loop().time()

        with pytest.raises(DatabaseUnavailable):
            await db.run(_rotate(token, "b" * 64))
        elapsed = asyncio.get_running_loop().time() - started
        holder.execute("ROLLBACK")
        kept = await _get(db, token.digest)
    finally:
        holder.close()
        await db.close()

    assert 0.4 < elapsed < 3
    assert kept == token


async def test_sqlite_checkpoints_keep_the_wal_small(sqlite_url: str) -> None:
    """Rotation after rotation, the WAL is checkpointed and started anew in the background, so
    that its file stays a fraction of what the rotations wrote to it (each at least six pages:
    a row changed, a row added to the table and to its four indexes)."""
    db = Database(sqlite_url)
    await db.migrate()
    rotations = 4 * STARVED_CHECKPOINT
    try:
        realm_id = await _realm(db)
        token = _record(realm_id, await _client(db, realm_id), f"{0:064x}")
        await _store(db, token)
        for i in range(1, rotations + 1):
            child = await db.run(_rotate(token, f"{i:064x}"))
            assert child is not None
            token = child
            await asyncio.sleep(0)  # as a server does other work between grants
        path = _sqlite_file(db)
        size = path.with_name(path.name + "-wal").stat().st_size
    finally:
        await db.close()

    assert size < rotations * 6 * 4096 / 3


async def _realm(db: Database) -> int:
    return await create_realm(db)


async def test_a_broken_postgresql_connection_is_not_reused(postgres_url: str) -> None:
    """When the server ends the pooled connection, the plan on it fails as unavailable and the
    connection is dropped: the next plan gets a new one and succeeds."""
    db = Database(postgres_url)
    await db.migrate()
    admin = Database(postgres_url)
    try:
        realm_id = await _realm(db)
        token = _record(realm_id, await _client(db, realm_id), "a" * 64)
        await _store(db, token)  # one pooled connection, used one request after another
        async with admin.read() as conn:
            ended = await conn.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )

        with pytest.raises(DatabaseUnavailable):
            await db.run(_rotate(token, "b" * 64))
        rotated = await db.run(_rotate(token, "b" * 64))
    finally:
        await admin.close()
        await db.close()

    assert ended == 1
    assert rotated is not None
