"""Shared fixtures: real databases (SQLite files and PostgreSQL on 127.0.0.1:5432) and the real
service under uvicorn on a free loopback port."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn

from tokensmith.server import Admin, Settings, TokensmithApp, open_master_key
from tokensmith.server._keys import new_master_key_value
from tokensmith.store import Database

T = TypeVar("T")
PG_ADMIN_DSN = os.environ.get("TOKENSMITH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


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


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    if not _pg_available():
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    name = "tokensmith_test_" + secrets.token_hex(6)
    asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


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


def run_admin(settings: Settings, op: Callable[[Admin], Awaitable[T]]) -> T:
    """Run one administrative operation on the settings' database, as the CLI would."""

    async def go() -> T:
        db = Database(settings.database_url)
        try:
            await db.migrate()
            return await op(
                Admin(db, await open_master_key(db, settings.master_key, settings.key_file()))
            )
        finally:
            await db.close()

    return asyncio.run(go())


class ServerThread:
    """An ASGI app under uvicorn on 127.0.0.1 and a free port, in a background thread."""

    def __init__(self, app: Any) -> None:
        # IPPROTO_TCP: asyncio then sets TCP_NODELAY on accepted connections (no 40 ms
        # delayed-ACK wait on every keep-alive request).
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=lambda: asyncio.run(self.server.serve(sockets=[self.sock])), daemon=True
        )

    def __enter__(self) -> ServerThread:
        self.thread.start()
        for _ in range(500):
            if self.server.started:
                return self
            if not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            threading.Event().wait(0.01)
        raise RuntimeError("the test server did not start in 5 s")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@dataclass
class Service:
    """A running token service with its settings, clock and an HTTP client."""

    url: str
    settings: Settings
    clock: FrozenClock
    http: httpx.Client
    app: TokensmithApp

    def admin(self, op: Callable[[Admin], Awaitable[T]]) -> T:
        """Change the service's database from outside, as the CLI does."""
        return run_admin(self.settings, op)

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
def service(database_url: str) -> Iterator[Service]:
    """The token service on a fresh database of each kind, over real loopback HTTP."""
    yield from _service(database_url)


@pytest.fixture
def sqlite_service(sqlite_url: str) -> Iterator[Service]:
    """The token service on a fresh SQLite database."""
    yield from _service(sqlite_url)


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
