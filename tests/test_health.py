"""Guards issue 12 item 3: ``/health/live`` answers while the process runs; ``/health/ready``
answers 200 only while the database answers, holds this version's schema, and every realm's
signing keys open with the master key, else 503 naming the failing check, and turns ready again
by itself when the fault is mended. Each runs a real ``serve`` over loopback."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import httpx

from tokensmith.server import Admin, MasterKey, Settings, TokensmithApp
from tokensmith.server._keys import new_master_key_value
from tokensmith.store import Database, sqlite_path
from tokensmith.store._schema import REVISIONS

from .conftest import eventually, make_settings, run_admin
from .serve_process import Serving, serving
from .test_database_outage import PrivatePostgres, private_postgres  # noqa: F401


def _ready(served: Serving) -> httpx.Response:
    return httpx.get(served.url + "/health/ready", timeout=10)


def _live(served: Serving) -> int:
    return httpx.get(served.url + "/health/live", timeout=5).status_code


def _check(response: httpx.Response, name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in response.json()["checks"] if c["name"] == name)
    return found


def _status(served: Serving) -> int:
    return _ready(served).status_code


def _secret_free(response: httpx.Response, settings: Settings) -> None:
    assert settings.master_key is not None
    assert settings.master_key not in response.text
    assert "Traceback" not in response.text


def test_live_and_ready_answer_up_with_every_check(
    migrated_database_url: str, tmp_path: Path
) -> None:
    """A healthy service answers 200 UP on /health/live, /health and /health/ready, the last
    listing the database, schema, master-key and signing-keys checks, all UP."""
    settings = make_settings(migrated_database_url)
    run_admin(settings, lambda a: a.create_realm("acme"), migrate=False)

    with serving(tmp_path, settings) as served:
        live = httpx.get(served.url + "/health/live", timeout=5)
        alias = httpx.get(served.url + "/health", timeout=5)
        ready = _ready(served)
        head = httpx.head(served.url + "/health/ready", timeout=5)

    assert (live.status_code, live.json()) == (200, {"status": "UP", "checks": []})
    assert (alias.status_code, alias.json()) == (200, live.json())
    assert ready.status_code == 200, ready.text
    assert ready.json() == {
        "status": "UP",
        "checks": [
            {"name": name, "status": "UP"}
            for name in ("database", "schema", "master-key", "signing-keys")
        ],
    }
    assert ready.headers["cache-control"] == "no-store"
    assert (head.status_code, head.content) == (200, b"")


def test_ready_follows_a_postgres_that_stops_and_starts_again(
    private_postgres: PrivatePostgres,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Stopping the service's PostgreSQL makes /health/ready 503 with the database check DOWN
    while /health/live stays 200; starting it again makes the same process ready again, and
    its change listener connected again."""
    settings = make_settings(private_postgres.url)
    run_admin(settings, lambda a: a.create_realm("acme"))

    with serving(tmp_path, settings) as served:
        assert eventually(lambda: _status(served) == 200, 10)
        private_postgres.halt()
        try:
            assert eventually(lambda: _status(served) == 503, 10)
            down = _ready(served)
            live_while_down = _live(served)
        finally:
            private_postgres.start()
        back = eventually(lambda: _status(served) == 200, 20)
        live_after = _live(served)
        listening = eventually(lambda: "listening for realm changes again" in served.output(), 20)
        still_running = served.proc.poll() is None

    assert _check(down, "database")["status"] == "DOWN"
    assert "cannot reach the database" in _check(down, "database")["data"]["reason"]
    assert down.json()["status"] == "DOWN"
    _secret_free(down, settings)
    assert live_while_down == 200
    assert back
    assert live_after == 200
    assert listening
    assert still_running


def test_ready_follows_a_sqlite_file_moved_away_and_back(
    migrated_sqlite_url: str, tmp_path: Path
) -> None:
    """A SQLite file moved away makes /health/ready 503 naming the database (the open pooled
    connections would still answer); moved back, the service is ready again."""
    settings = make_settings(migrated_sqlite_url)
    run_admin(settings, lambda a: a.create_realm("acme"), migrate=False)
    path = sqlite_path(migrated_sqlite_url)
    assert path is not None
    aside = path.with_name("elsewhere.db")

    with serving(tmp_path, settings) as served:
        assert eventually(lambda: _status(served) == 200, 10)
        path.rename(aside)
        try:
            assert eventually(lambda: _status(served) == 503, 5)
            down = _ready(served)
            live_while_down = _live(served)
        finally:
            aside.rename(path)
        back = eventually(lambda: _status(served) == 200, 5)

    database = _check(down, "database")
    assert database["status"] == "DOWN"
    assert database["data"]["reason"] == f"there is no database file at {path}"
    _secret_free(down, settings)
    assert live_while_down == 200
    assert back


def _realm_under_another_master_key(settings: Settings, name: str) -> None:
    """Create realm ``name`` with keys encrypted under a master key other than the service's,
    as a command run with the wrong key once could."""

    async def create() -> None:
        db = Database(settings.database_url)
        try:
            other = MasterKey(new_master_key_value().encode(), source="TOKENSMITH_MASTER_KEY")
            await Admin(db, other).create_realm(name)
        finally:
            await db.close()

    asyncio.run(create())


def test_a_realm_whose_keys_the_master_key_cannot_open_is_not_ready(
    migrated_database_url: str, tmp_path: Path
) -> None:
    """A realm whose signing keys were encrypted under another master key makes /health/ready
    503 with the signing-keys check naming that realm (and only it), the master key itself
    still UP."""
    settings = make_settings(migrated_database_url)
    run_admin(settings, lambda a: a.create_realm("acme"), migrate=False)
    _realm_under_another_master_key(settings, "beta")

    with serving(tmp_path, settings) as served:
        down = _ready(served)
        live = _live(served)

    assert down.status_code == 503, down.text
    assert _check(down, "master-key")["status"] == "UP"
    keys = _check(down, "signing-keys")
    assert keys["status"] == "DOWN"
    assert keys["data"]["failing"] == 1
    assert list(keys["data"]["realms"]) == ["beta"]
    assert "another master key" in keys["data"]["realms"]["beta"]
    _secret_free(down, settings)
    assert live == 200


def test_rotating_the_keys_of_a_failing_realm_makes_the_service_ready_at_once(
    migrated_postgres_url: str, tmp_path: Path
) -> None:
    """On PostgreSQL, once the unreadable realm's keys were rotated out (twice, with the right
    master key), the change notification has the service check that realm again: ready within
    seconds, well before the periodic scan."""
    settings = make_settings(migrated_postgres_url)
    run_admin(settings, lambda a: a.create_realm("acme"), migrate=False)
    _realm_under_another_master_key(settings, "beta")

    with serving(tmp_path, settings) as served:
        assert _status(served) == 503
        for _ in range(2):  # next (still the other key's) becomes current, then a new one
            run_admin(settings, lambda a: a.rotate_keys("beta"), migrate=False)
        back = eventually(lambda: _status(served) == 200, 5)

    assert back


def test_a_schema_other_than_this_versions_is_not_ready(
    migrated_sqlite_url: str, tmp_path: Path
) -> None:
    """A database whose recorded revision is one behind this version's (as after an Alembic
    downgrade) makes /health/ready 503 with the schema check DOWN saying to upgrade; put back,
    ready again."""
    settings = make_settings(migrated_sqlite_url)
    run_admin(settings, lambda a: a.create_realm("acme"), migrate=False)
    path = sqlite_path(migrated_sqlite_url)
    assert path is not None

    def record(revision: str) -> None:
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE alembic_version SET version_num = ?", (revision,))

    with serving(tmp_path, settings) as served:
        assert eventually(lambda: _status(served) == 200, 10)
        record(REVISIONS[-2])
        try:
            assert eventually(lambda: _status(served) == 503, 5)
            down = _ready(served)
        finally:
            record(REVISIONS[-1])
        back = eventually(lambda: _status(served) == 200, 5)

    assert _check(down, "database")["status"] == "UP"
    schema = _check(down, "schema")
    assert schema["status"] == "DOWN"
    assert f"at revision {REVISIONS[-2]}, older than this version's" in schema["data"]["reason"]
    assert "tokensmith db upgrade" in schema["data"]["reason"]
    assert back


def test_a_flood_of_probes_reads_the_database_once_a_second(migrated_sqlite_url: str) -> None:
    """Readiness probes arriving together share one database read, and probes within a second
    of it reuse its result."""
    settings = make_settings(migrated_sqlite_url)
    app = TokensmithApp(settings, migrate=False)
    reads = 0

    async def probe_many() -> list[int]:
        nonlocal reads
        await app.startup()
        real = app.db.readiness

        async def counted(within: float) -> tuple[str | None, str | None]:
            nonlocal reads
            reads += 1
            return await real(within)

        app.db.readiness = counted  # type: ignore[method-assign]
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                answers = await asyncio.gather(*(http.get("/health/ready") for _ in range(200)))
                answers.append(await http.get("/health/ready"))
        finally:
            await app.shutdown()
        return [a.status_code for a in answers]

    statuses = asyncio.run(probe_many())

    assert set(statuses) == {200}
    assert reads == 1
