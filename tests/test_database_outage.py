"""A database that stops answering (frozen, not refused): requests that need it get a bounded
503 ``temporarily_unavailable`` with ``Retry-After``, never a 500 and never a hang.

The database is a private PostgreSQL cluster this module starts on its own port and socket
directory (never the shared server), frozen with SIGSTOP and thawed with SIGCONT.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tokensmith.server import TokensmithApp
from tokensmith.store import sqlite_path

from .conftest import FrozenClock, ServerThread, Service, make_settings, run_admin

_BIN_DIRS = (
    "/usr/lib/postgresql/15/bin",
    "/usr/lib/postgresql/16/bin",
    "/usr/lib/postgresql/17/bin",
)


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in _BIN_DIRS:
        candidate = Path(folder, name)
        if candidate.exists():
            return str(candidate)
    return None


def _as_postgres(*command: str) -> list[str]:
    """Run as the postgres user when we are root (initdb refuses to run as root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return list(command)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PrivatePostgres:
    """A throwaway PostgreSQL cluster on 127.0.0.1 and a free port, in a temporary directory."""

    def __init__(self, initdb: str, pg_ctl: str) -> None:
        self.pg_ctl = pg_ctl
        self.dir = Path(tempfile.mkdtemp(prefix="tokensmith-pg-"))
        self.dir.chmod(0o777)  # the postgres user writes its data and socket here
        self.data = self.dir / "data"
        self.port = _free_port()
        subprocess.run(
            _as_postgres(
                initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"
            ),
            check=True,
            capture_output=True,
        )
        self.start()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        """Start the cluster (again), waiting until it accepts connections."""
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            _as_postgres(
                self.pg_ctl,
                "-D",
                str(self.data),
                "-l",
                str(self.dir / "log"),
                "-o",
                options,
                "-w",
                "start",
            ),
            check=True,
            capture_output=True,
        )

    def halt(self) -> None:
        """Stop the cluster, closing its connections, and keep its files for :meth:`start`."""
        subprocess.run(
            _as_postgres(self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop"),
            check=True,
            capture_output=True,
        )

    def pids(self) -> list[int]:
        """The postmaster and every process it started."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = subprocess.run(
            ["pgrep", "-P", str(postmaster)], capture_output=True, text=True, check=False
        ).stdout.split()
        return [postmaster, *map(int, children)]

    def signal(self, pids: list[int], sig: signal.Signals) -> None:
        """Send ``sig`` to each of ``pids`` that still runs."""
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def stop(self) -> None:
        """Stop the cluster at once and remove its files."""
        subprocess.run(
            _as_postgres(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A private PostgreSQL this test may freeze; skipped without initdb/pg_ctl unless on CI."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None or shutil.which("pgrep") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("initdb, pg_ctl and pgrep are needed to freeze a private PostgreSQL")
        pytest.skip("initdb, pg_ctl or pgrep is not installed")
    cluster = PrivatePostgres(initdb, pg_ctl)
    try:
        yield cluster
    finally:
        cluster.stop()


def test_frozen_database_answers_503_with_retry_after_within_seconds(
    private_postgres: PrivatePostgres,
) -> None:
    """Guards item 5: refreshes against a frozen PostgreSQL get 503 temporarily_unavailable
    with Retry-After within a few seconds (more at once than the connection pool holds), never
    a 500, and the service answers normally once the database is back."""
    settings = make_settings(private_postgres.url)
    run_admin(settings, lambda a: a.create_realm("acme"))
    secret = run_admin(
        settings, lambda a: a.create_client("acme", "svc", refresh_tokens=True)
    ).secret
    assert secret is not None
    app = TokensmithApp(settings, clock=FrozenClock())
    with ServerThread(app) as server, httpx.Client(timeout=60) as http:
        token_url = f"{server.url}/realms/acme/protocol/openid-connect/token"
        creds = {"client_id": "svc", "client_secret": secret}
        tokens = [
            http.post(token_url, data={"grant_type": "client_credentials", **creds}).json()[
                "refresh_token"
            ]
            for _ in range(20)
        ]

        def refresh(token: str) -> tuple[float, httpx.Response]:
            started = time.monotonic()
            response = http.post(
                token_url, data={"grant_type": "refresh_token", "refresh_token": token, **creds}
            )
            return time.monotonic() - started, response

        frozen = private_postgres.pids()
        private_postgres.signal(frozen, signal.SIGSTOP)
        try:
            with ThreadPoolExecutor(len(tokens)) as pool:
                answers = list(pool.map(refresh, tokens))
        finally:
            private_postgres.signal(frozen, signal.SIGCONT)

        for elapsed, response in answers:
            assert response.status_code == 503, response.text
            assert response.json()["error"] == "temporarily_unavailable"
            assert 0 < int(response.headers["retry-after"]) <= 10
            assert elapsed < 12
        elapsed, response = refresh(tokens[0])
        assert response.status_code == 200, response.text
        assert elapsed < 5


def test_locked_sqlite_answers_503_within_seconds(sqlite_service: Service) -> None:
    """Guards item 5 on SQLite: while another process holds the write lock, a refresh waits at
    most the busy timeout and then gets 503 temporarily_unavailable with Retry-After."""
    service = sqlite_service
    run_admin(service.settings, lambda a: a.create_realm("acme"))
    new = run_admin(service.settings, lambda a: a.create_client("acme", "svc", refresh_tokens=True))
    assert new.secret is not None
    creds = {"client_id": "svc", "client_secret": new.secret}
    token = service.http.post(
        service.token_url("acme"), data={"grant_type": "client_credentials", **creds}
    ).json()["refresh_token"]
    path = sqlite_path(service.settings.database_url)
    assert path is not None
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        response = service.http.post(
            service.token_url("acme"),
            data={"grant_type": "refresh_token", "refresh_token": token, **creds},
        )
        elapsed = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert response.status_code == 503, response.text
    assert response.json()["error"] == "temporarily_unavailable"
    assert "retry-after" in response.headers
    assert elapsed < 8
