"""The registry of realms held in memory: bounded, least recently used dropped first, and kept
fresh by reading only what concerns the realms it holds (issue 11 item 6: realms are cheap)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tokensmith.oauth import ConfigurationError
from tokensmith.server import Admin, Settings, open_master_key
from tokensmith.server._keys import new_master_key_value
from tokensmith.server._state import Registry
from tokensmith.store import Database, realms


@dataclass
class Setup:
    db: Database
    admin: Admin
    registry: Registry


@pytest.fixture
async def setup(migrated_database_url: str, tmp_path: Path) -> AsyncIterator[Setup]:
    """Realms r0, r1 and r2 (r1 answering at /r1/token too), and a registry holding two realms."""
    db = Database(migrated_database_url)
    master = await open_master_key(db, new_master_key_value(), tmp_path / "unused.key")
    admin = Admin(db, master)
    for name in ("r0", "r1", "r2"):
        await admin.create_realm(name, token_paths=["/r1/token"] if name == "r1" else ())
    try:
        yield Setup(db, admin, Registry(db, master, max_realms=2))
    finally:
        await db.close()


@pytest.fixture
def versions_asked(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The realm names of each version read, in order."""
    asked: list[list[str]] = []
    original = realms.realm_versions

    async def recording(conn: Any, names: Iterable[str]) -> dict[str, tuple[int, int]]:
        asked.append(sorted(names))
        return await original(conn, names)

    monkeypatch.setattr(realms, "realm_versions", recording)
    return asked


def held(registry: Registry) -> list[str]:
    return sorted(registry._states)


async def test_past_its_bound_the_least_recently_used_realm_is_dropped(setup: Setup) -> None:
    """With room for two realms, loading a third drops the one used longest ago."""
    registry = setup.registry
    await registry.realm("r0")
    await registry.realm("r1")
    await registry.realm("r0")  # r1 is now the least recently used

    await registry.realm("r2")

    assert held(registry) == ["r0", "r2"]


async def test_a_dropped_realm_is_loaded_again_when_asked_for(setup: Setup) -> None:
    """A realm dropped for room comes back with the same keys and clients."""
    registry = setup.registry
    await setup.admin.create_client("r0", "svc")
    first = await registry.realm("r0")
    assert first is not None
    await registry.realm("r1")
    await registry.realm("r2")

    again = await registry.realm("r0")

    assert again is not None
    assert again is not first
    assert again.signer.kid == first.signer.kid
    assert await registry.client(again, "svc") is not None


async def test_a_poll_reads_the_versions_of_the_realms_held_only(
    setup: Setup, versions_asked: list[list[str]]
) -> None:
    """A poll asks for the versions of the realms in memory, and nothing when none is."""
    registry = setup.registry
    await registry.refresh()
    await registry.realm("r0")
    await registry.realm("r2")

    await registry.refresh()

    assert versions_asked == [["r0", "r2"]]


async def test_a_poll_drops_a_realm_that_changed_or_is_gone(setup: Setup) -> None:
    """After a client is added to r0 and r1 is deleted, a poll drops both and keeps r2."""
    registry = Registry(setup.db, setup.registry.master)
    for name in ("r0", "r1", "r2"):
        await registry.realm(name)
    await setup.admin.create_client("r0", "svc")
    await setup.admin.delete_realm("r1")

    await registry.refresh()

    assert held(registry) == ["r2"]
    assert await registry.realm("r1") is None
    assert await registry.realm_for_path("/r1/token") is None


async def test_a_token_path_alias_is_found_and_then_answered_from_memory(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An alias is looked up once, loading its realm; asked again it reads nothing."""
    registry = setup.registry
    looked_up: list[str] = []
    original = realms.path_owner

    async def recording(conn: Any, path: str) -> str | None:
        looked_up.append(path)
        return await original(conn, path)

    monkeypatch.setattr(realms, "path_owner", recording)

    first = await registry.realm_for_path("/r1/token")
    second = await registry.realm_for_path("/r1/token")

    assert (first, second) == ("r1", "r1")
    assert looked_up == ["/r1/token"]
    assert held(registry) == ["r1"]


async def test_a_path_that_cannot_be_an_alias_is_not_looked_up(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paths with characters no alias has, or longer than any alias, read nothing."""
    registry = setup.registry

    async def fail(conn: Any, path: str) -> str | None:
        raise AssertionError(f"looked up {path!r}")

    monkeypatch.setattr(realms, "path_owner", fail)

    answers = [
        await registry.realm_for_path(path)
        for path in ("/a\x00b", "/caf\u00e9/token", "/x" * 200, "/a b", "no-slash")
    ]

    assert answers == [None] * 5


async def test_an_alias_of_a_dropped_realm_is_looked_up_again(setup: Setup) -> None:
    """When its realm leaves memory its alias does too, and is found again when asked for."""
    registry = setup.registry
    assert await registry.realm_for_path("/r1/token") == "r1"
    await registry.realm("r0")
    await registry.realm("r2")
    assert "/r1/token" not in registry._paths

    assert await registry.realm_for_path("/r1/token") == "r1"


async def test_a_client_created_after_its_id_was_unknown_is_found_after_a_poll(
    setup: Setup,
) -> None:
    """An id remembered as unknown is forgotten when its realm changes."""
    registry = setup.registry
    state = await registry.realm("r0")
    assert state is not None
    assert await registry.client(state, "late") is None
    await setup.admin.create_client("r0", "late")

    await registry.refresh()
    state = await registry.realm("r0")

    assert state is not None
    assert await registry.client(state, "late") is not None


def test_the_bound_comes_from_the_environment() -> None:
    """TOKENSMITH_REALM_CACHE_SIZE sets the bound; zero or a word is refused clearly."""
    settings = Settings.from_env({"TOKENSMITH_REALM_CACHE_SIZE": "25000"})

    assert settings.realm_cache_size == 25000
    assert Settings.from_env({}).realm_cache_size == 1000
    for bad in ("0", "-3", "many", "1.5"):
        with pytest.raises(ConfigurationError, match="TOKENSMITH_REALM_CACHE_SIZE"):
            Settings.from_env({"TOKENSMITH_REALM_CACHE_SIZE": bad})
