"""Guards issue 12 item 11: on PostgreSQL a change made with the CLI reaches every worker of
``serve --workers 2`` by notification, well before the poll would (here every 30 s), and a
worker whose listening connection is cut keeps serving and listens again."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import text

from tokensmith.server import Admin
from tokensmith.store import ChangeListener, Database
from tokensmith.store._notify import notify_realm

from .cli_run import run_cli
from .conftest import make_settings, run_admin
from .serve_process import Serving, serving

_POLL = 30.0  # far beyond what is measured: only a notification can explain a fast refusal
_UNLIMITED = "100000/minute"
_SPREAD = 30  # refusals in a row, each on a new connection, that count as every worker's


def _new_connections() -> httpx.Client:
    """A client that opens a new connection for each request (so that either worker answers)."""
    return httpx.Client(limits=httpx.Limits(max_keepalive_connections=0), timeout=10)


def _token_status(http: httpx.Client, served: Serving, secret: str) -> int:
    """The status of a token request for client svc."""
    response = http.post(
        served.url + "/realms/acme/protocol/openid-connect/token",
        data={"grant_type": "client_credentials", "client_id": "svc", "client_secret": secret},
    )
    return response.status_code


def _refused_by_all(
    http: httpx.Client, served: Serving, secret: str, since: float, limit: float
) -> float:
    """Seconds from ``since`` until the first refusal after which no worker accepted the client
    in :data:`_SPREAD` requests in a row."""
    first_refusal: float | None = None
    in_a_row = 0
    while in_a_row < _SPREAD:
        status = _token_status(http, served, secret)
        now = time.monotonic()
        assert now - since < limit, "the change did not reach every worker"
        if status == 200:
            first_refusal, in_a_row = None, 0
            continue
        assert status == 401
        first_refusal = now if first_refusal is None else first_refusal
        in_a_row += 1
    assert first_refusal is not None
    return first_refusal - since


def test_a_client_disabled_with_the_cli_is_refused_by_every_worker_within_a_second(
    migrated_postgres_url: str, tmp_path: Path
) -> None:
    """`client disable` reaches both workers of `serve --workers 2` in well under a second
    while they poll only every 30 s: the notification sent at commit did it."""
    settings = make_settings(
        migrated_postgres_url,
        client_auth_limit=_UNLIMITED,  # each refusal counts as a failed authentication
        address_auth_limit=_UNLIMITED,
    )
    settings = dataclasses.replace(settings, poll_interval=_POLL)
    new = run_admin(settings, _realm_and_client, migrate=False)
    assert new is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSMITH_")}
    env.update(settings.to_env())

    with serving(tmp_path, settings, "--workers", "2") as served, _new_connections() as http:
        served.worker_pids(2)
        warm = [_token_status(http, served, new) for _ in range(4 * _SPREAD)]  # both hold svc
        started = time.monotonic()
        result = run_cli("client", "disable", "acme", "svc", cwd=tmp_path, env=env)
        returned = time.monotonic()
        after_return = _refused_by_all(http, served, new, returned, limit=_POLL / 2)

    assert set(warm) == {200}
    assert result.returncode == 0, result.stderr
    print(
        f"\nclient disable reached both workers {after_return * 1000:.0f} ms after the CLI "
        f"returned ({(returned - started) * 1000:.0f} ms in the CLI, which committed before "
        f"returning); poll interval {_POLL:g} s"
    )
    assert after_return < 1.0


async def _realm_and_client(admin: Admin) -> str | None:
    await admin.create_realm("acme")
    return (await admin.create_client("acme", "svc")).secret


def test_a_lost_listening_connection_is_made_again(migrated_postgres_url: str) -> None:
    """A listener whose connection the server terminated reconnects by itself, runs its
    reconnection hook again, and hears the next notification."""
    heard: list[str] = []
    connections = 0

    async def scenario() -> tuple[bool, bool]:
        nonlocal connections
        db = Database(migrated_postgres_url)

        async def connected() -> None:
            nonlocal connections
            connections += 1

        listener = db.change_listener(heard.append, connected)
        assert isinstance(listener, ChangeListener)
        task = asyncio.create_task(listener.run())
        try:
            await asyncio.wait_for(listener.connected.wait(), 10)
            async with db.write() as conn:
                await conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                        "AND query LIKE 'LISTEN%'"
                    )
                )
            again = await _until(lambda: connections == 2, 10)
            async with db.write() as conn:
                await notify_realm(conn, "acme")
            got = await _until(lambda: heard == ["acme"], 5)
            return again, got
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await db.close()

    reconnected, notified = asyncio.run(scenario())

    assert reconnected
    assert notified


async def _until(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def test_sqlite_has_no_listener(migrated_sqlite_url: str) -> None:
    """On SQLite there is no channel to listen on: services poll only."""

    async def listener() -> object:
        db = Database(migrated_sqlite_url)
        try:
            return db.change_listener(lambda _name: None, _nothing)
        finally:
            await db.close()

    assert asyncio.run(listener()) is None


async def _nothing() -> None:
    return None
