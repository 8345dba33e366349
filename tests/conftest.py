"""Shared fixtures: real databases (SQLite files and PostgreSQL on 127.0.0.1:5432) and the real
service under uvicorn on a free loopback port.

Migrating a database takes a quarter of a second and creating a PostgreSQL database as long again,
for every test that starts a service; so a service starts on a database migrated once per session:
a copy of a migrated SQLite file, or a PostgreSQL database migrated once and emptied before each
test. Tests about migrating, or about an empty database, take ``database_url``, ``sqlite_url`` or
``postgres_url``, which stay fresh and empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from argon2 import PasswordHasher

from tokensmith.server import Admin, Settings, TokensmithApp, open_master_key
from tokensmith.server._keys import new_master_key_value
from tokensmith.server._secrets import SecretChecker
from tokensmith.store import Database
from tokensmith.store._tables import metadata

from .server_thread import ServerThread

T = TypeVar("T")
PG_ADMIN_DSN = os.environ.get("TOKENSMITH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")

CHEAP_ARGON2 = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
"""argon2id with the least work, for tests whose subject is not argon2's cost: a chosen secret then
takes microseconds to hash and to check (a check follows the parameters stored in the hash)
instead of half a second each."""


class FrozenClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _pg_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


REDIS_URL = "redis://127.0.0.1:6379/0"


def require_redis() -> str:
    """The URL of the real Redis server on 127.0.0.1:6379; under CI=true its absence fails the
    test, elsewhere it skips it."""
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return REDIS_URL
    except OSError:
        if os.environ.get("CI") == "true":
            pytest.fail("Redis is not reachable on 127.0.0.1:6379")
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")


def eventually(check: Callable[[], bool], seconds: float = 5.0) -> bool:
    """Whether ``check`` holds within ``seconds`` (services notice admin changes by polling)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


async def _pg(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _require_pg() -> None:
    if not _pg_available():
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")


@contextlib.contextmanager
def _new_pg_database() -> Iterator[str]:
    name = "tokensmith_test_" + secrets.token_hex(6)
    asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _migrate(url: str) -> None:
    db = Database(url)
    try:
        await db.migrate()
    finally:
        await db.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    _require_pg()
    with _new_pg_database() as url:
        yield url


@pytest.fixture(scope="session")
def _migrated_postgres() -> Iterator[str]:
    """A PostgreSQL database migrated once for the session, dropped at its end."""
    _require_pg()
    with _new_pg_database() as url:
        asyncio.run(_migrate(url))
        yield url


async def _empty_pg(url: str) -> None:
    """Delete every row (children first) and restart every sequence: what a fresh migration
    leaves, the Alembic revision aside."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        present = {
            row[0]
            for row in await conn.fetch(
                "SELECT tablename FROM pg_tables "
                "WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            )
        }
        ordered = [t.name for t in reversed(metadata.sorted_tables)]
        # A table the schema does not know would keep its rows from test to test.
        assert present == set(ordered), f"tables outside the schema: {present - set(ordered)}"
        sequences = await conn.fetch(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"
        )
        async with conn.transaction():
            for table in ordered:  # names from our own schema
                await conn.execute(f'DELETE FROM "{table}"')  # noqa: S608
            for (sequence,) in sequences:
                await conn.execute(f'ALTER SEQUENCE "{sequence}" RESTART')
    finally:
        await conn.close()


@pytest.fixture
def migrated_postgres_url(_migrated_postgres: str) -> str:
    """A PostgreSQL database at the newest revision and without rows: the session's migrated
    database, emptied before the test."""
    asyncio.run(_empty_pg(_migrated_postgres))
    return _migrated_postgres


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tokensmith.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database file."""
    return f"sqlite:///{tmp_path / 'tokensmith.db'}"


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once for the session."""
    path = tmp_path_factory.mktemp("template") / "migrated.db"
    asyncio.run(_migrate(f"sqlite:///{path}"))
    # Closing the last connection checkpoints the WAL into the file and removes it.
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture
def migrated_sqlite_url(_sqlite_template: Path, tmp_path: Path) -> str:
    """A SQLite file at the newest revision and without rows: a copy of the session's migrated
    file, mode 0600 as the service makes it (named apart from ``sqlite_url``'s empty file)."""
    target = tmp_path / "migrated.db"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(fd, "wb") as out, _sqlite_template.open("rb") as template:
        shutil.copyfileobj(template, out)
    return f"sqlite:///{target}"


@pytest.fixture(params=["sqlite", "postgres"])
def migrated_database_url(request: pytest.FixtureRequest) -> str:
    """A database of each kind at the newest revision and without rows."""
    url: str = request.getfixturevalue(f"migrated_{request.param}_url")
    return url


def run_admin(
    settings: Settings,
    op: Callable[[Admin], Awaitable[T]],
    *,
    migrate: bool = True,
    hasher: PasswordHasher | None = None,
) -> T:
    """Run one administrative operation on the settings' database, as the CLI's admin commands
    do, after migrating it (as `tokensmith db upgrade` does) unless ``migrate`` is false;
    ``hasher`` hashes chosen secrets (default: the service's argon2 parameters)."""

    async def go() -> T:
        db = Database(settings.database_url)
        try:
            if migrate:
                await db.migrate()
            master = await open_master_key(db, settings.master_key, settings.key_file())
            return await op(Admin(db, master, checker=SecretChecker(hasher=hasher)))
        finally:
            await db.close()

    return asyncio.run(go())


@dataclass
class Service:
    """A running token service with its settings, clock and an HTTP client."""

    url: str
    settings: Settings
    clock: FrozenClock
    http: httpx.Client
    app: TokensmithApp

    def admin(
        self, op: Callable[[Admin], Awaitable[T]], *, hasher: PasswordHasher | None = None
    ) -> T:
        """Change the service's database from outside, as the CLI does (without migrating it
        again: the service did at startup). ``hasher``: as for :func:`run_admin`."""
        return run_admin(self.settings, op, migrate=False, hasher=hasher)

    def token_url(self, realm: str, prefix: str = "") -> str:
        """The realm's token endpoint."""
        return f"{self.url}{prefix}/realms/{realm}/protocol/openid-connect/token"

    def jwks(self, realm: str) -> dict[str, Any]:
        """The realm's JWKS."""
        response = self.http.get(f"{self.url}/realms/{realm}/protocol/openid-connect/certs")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data


def make_settings(database_url: str, **kwargs: Any) -> Settings:
    """Settings for a test service: a master key given directly, fast polling."""
    return Settings(
        database_url=database_url,
        master_key=new_master_key_value(),
        poll_interval=0.1,
        **kwargs,
    )


@pytest.fixture
def service(migrated_database_url: str) -> Iterator[Service]:
    """The token service on a fresh database of each kind, over real loopback HTTP."""
    yield from _service(migrated_database_url)


@pytest.fixture
def sqlite_service(migrated_sqlite_url: str) -> Iterator[Service]:
    """The token service on a fresh SQLite database."""
    yield from _service(migrated_sqlite_url)


def _service(database_url: str) -> Iterator[Service]:
    settings = make_settings(database_url)
    clock = FrozenClock()
    app = TokensmithApp(settings, clock=clock)
    with ServerThread(app) as server, httpx.Client(timeout=10) as http:
        yield Service(server.url, settings, clock, http, app)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """`tokensmith serve --demo` as `make run` starts it, in a fresh directory."""
    workdir = tmp_path_factory.mktemp("demo")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSMITH_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tokensmith", "serve", "--demo", "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(base + "/health", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                time.sleep(0.1)
        yield base, str(workdir)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
        assert "Traceback" not in out
