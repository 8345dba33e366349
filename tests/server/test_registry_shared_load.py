"""The in-memory registry of realms and clients over a real SQLite store: concurrent misses for
one realm or client share one database read."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tokensmith.server import Admin, open_master_key
from tokensmith.server._keys import new_master_key_value
from tokensmith.server._state import Registry
from tokensmith.store import Connection, Database


@dataclass
class Counted:
    """A registry whose database reads are counted."""

    registry: Registry
    reads: list[int]


@pytest.fixture
async def counted(
    migrated_sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Counted]:
    """A cold registry over realm acme with client svc, counting the reads it makes."""
    db = Database(migrated_sqlite_url)
    master = await open_master_key(db, new_master_key_value(), tmp_path / "unused.key")
    admin = Admin(db, master)
    await admin.create_realm("acme")
    await admin.create_client("acme", "svc")
    reads = [0]
    read = db.read

    @contextlib.asynccontextmanager
    async def counting_read() -> AsyncIterator[Connection]:
        reads[0] += 1
        async with read() as conn:
            yield conn

    monkeypatch.setattr(db, "read", counting_read)
    try:
        yield Counted(Registry(db, master), reads)
    finally:
        await db.close()


async def test_concurrent_misses_for_a_realm_and_a_client_read_once(counted: Counted) -> None:
    """Fifty requests reaching a cold registry at once load the realm once and the client once,
    and all get the same state and the same client."""
    registry = counted.registry

    states = await asyncio.gather(*(registry.realm("acme") for _ in range(50)))
    realm_reads = counted.reads[0]
    state = states[0]
    assert state is not None
    found = await asyncio.gather(*(registry.client(state, "svc") for _ in range(50)))

    assert realm_reads == 1
    assert counted.reads[0] == 2
    assert all(s is state for s in states)
    assert found[0] is not None
    assert all(c is found[0] for c in found)


async def test_a_cancelled_caller_does_not_cancel_the_shared_load(counted: Counted) -> None:
    """When the request that started a realm's load goes away, the requests waiting on the same
    load still get the realm."""
    first = asyncio.ensure_future(counted.registry.realm("acme"))
    second = asyncio.ensure_future(counted.registry.realm("acme"))
    await asyncio.sleep(0)  # both are waiting on the one load

    first.cancel()
    state = await second

    assert state is not None
    assert state.realm.name == "acme"
    assert first.cancelled()
    assert counted.reads[0] == 1


async def test_a_miss_after_invalidation_does_not_join_an_older_load(counted: Counted) -> None:
    """A request that misses after the realm was invalidated reads again instead of sharing a
    load that began before the change."""
    registry = counted.registry
    before = asyncio.ensure_future(registry.realm("acme"))
    await asyncio.sleep(0)

    registry.invalidate("acme")
    after = await registry.realm("acme")
    await before

    assert after is not None
    assert counted.reads[0] == 2
