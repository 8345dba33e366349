"""Propagation benchmark: how long a change to a client takes to reach every worker of
`tokensmith serve --workers 2` on PostgreSQL, by notification and by the poll alone.

Starts `serve` on a new PostgreSQL database (created on the server of --admin-dsn, dropped at
the end), with one realm and one client, then disables and enables the client in turn, TRIALS
times each way:

- NOTIFY: through the Admin API, as `tokensmith client disable` does: the realm's version is
  bumped and a notification sent in the same transaction;
- poll only: the same rows written by plain SQL that sends no notification (what a service
  sees when a notification was lost while its listener reconnected): only the workers' poll of
  the realms' versions (every --poll-interval seconds) notices it.

The two kinds alternate on the same running service. After each change it sends token requests,
each on a new connection so that either worker may answer, and takes as the propagation time
the moment (after the commit) of the first answer of a run of 30 in a row that all reflect the
change; it prints the median and the maximum of each kind. Each change is made at a random
point of the poll's cycle (after a pause of up to one poll interval).

    python bench/propagation.py [--trials 10] [--workers 2] [--poll-interval 2]
                                [--admin-dsn postgresql://postgres@127.0.0.1:5432/test]

Needs a PostgreSQL server that the DSN's user may create databases on. Takes about a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx
from _common import free_port, stop, wait_up
from sqlalchemy import update

from tokensmith.server import Admin, open_master_key
from tokensmith.server._keys import new_master_key_value
from tokensmith.store import Database, realms
from tokensmith.store._tables import clients
from tokensmith.store._tables import realms as realms_table

IN_A_ROW = 30  # answers in a row, each on a new connection, that count as every worker's
GIVE_UP = 30.0  # seconds after which a change counts as never propagated
UNLIMITED = "1000000/minute"
_UNUSED_KEY_FILE = Path("tokensmith.key")  # the master key is given: no file is read or made


async def _run_sql(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _prepare(url: str, master_key: str) -> str:
    """Migrate the database, make realm acme with client svc; svc's secret."""
    db = Database(url)
    try:
        await db.migrate()
        admin = Admin(db, await open_master_key(db, master_key, _UNUSED_KEY_FILE))
        await admin.create_realm("acme")
        secret = (await admin.create_client("acme", "svc")).secret
        assert secret is not None
        return secret
    finally:
        await db.close()


async def _until_all(
    http: httpx.AsyncClient, token_url: str, form: dict[str, str], status: int, since: float
) -> float:
    """Seconds from ``since`` to the first of :data:`IN_A_ROW` answers in a row of ``status``."""
    first: float | None = None
    in_a_row = 0
    while in_a_row < IN_A_ROW:
        answer = await http.post(token_url, data=form)
        now = time.monotonic()
        if now - since > GIVE_UP:
            raise SystemExit(f"the change did not reach every worker within {GIVE_UP:g} s")
        if answer.status_code != status:
            first, in_a_row = None, 0
            continue
        first = now if first is None else first
        in_a_row += 1
    assert first is not None
    return first - since


async def _measure(
    url: str, master_key: str, secret: str, base: str, trials: int, poll_interval: float
) -> None:
    db = Database(url)
    admin = Admin(db, await open_master_key(db, master_key, _UNUSED_KEY_FILE))

    async def notified(enabled: bool) -> None:
        await admin.set_client_enabled("acme", "svc", enabled)

    async def unannounced(enabled: bool) -> None:
        async with db.write() as conn:
            realm = await realms.get_realm(conn, "acme")
            assert realm is not None
            await conn.execute(
                update(clients)
                .where(clients.c.realm_id == realm.id, clients.c.client_id == "svc")
                .values(enabled=enabled)
            )
            await conn.execute(
                update(realms_table)
                .where(realms_table.c.id == realm.id)
                .values(version=realms_table.c.version + 1)
            )

    kinds: dict[str, Callable[[bool], Awaitable[None]]] = {
        "NOTIFY": notified,
        "poll only": unannounced,
    }
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    token_url = f"{base}/realms/acme/protocol/openid-connect/token"
    form = {"grant_type": "client_credentials", "client_id": "svc", "client_secret": secret}
    limits = httpx.Limits(max_keepalive_connections=0)
    enabled = True
    try:
        async with httpx.AsyncClient(limits=limits, timeout=10) as http:
            await _until_all(http, token_url, form, 200, time.monotonic())  # both hold it
            for _ in range(trials):
                for kind, change in kinds.items():
                    # At a random point of the poll's cycle: right after the last trial, the
                    # next poll would always be about as far away.
                    await asyncio.sleep(random.uniform(0, poll_interval))
                    enabled = not enabled
                    await change(enabled)
                    committed = time.monotonic()
                    expected = 200 if enabled else 401
                    times[kind].append(await _until_all(http, token_url, form, expected, committed))
    finally:
        await db.close()
    for kind, measured in times.items():
        print(
            f"  {kind:<10} median {statistics.median(measured) * 1000:7.0f} ms   "
            f"max {max(measured) * 1000:7.0f} ms   ({len(measured)} changes)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--poll-interval", type=float, default=2.0)
    parser.add_argument(
        "--admin-dsn",
        default=os.environ.get("TOKENSMITH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    args = parser.parse_args()
    name = "tokensmith_bench_propagation_" + secrets.token_hex(4)
    asyncio.run(_run_sql(args.admin_dsn, f'CREATE DATABASE "{name}"'))
    url = args.admin_dsn.rsplit("/", 1)[0] + "/" + name
    procs: list[subprocess.Popen[bytes]] = []
    try:
        master_key = new_master_key_value()
        secret = asyncio.run(_prepare(url, master_key))
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSMITH_")}
        env.update(
            TOKENSMITH_DATABASE_URL=url,
            TOKENSMITH_MASTER_KEY=master_key,
            TOKENSMITH_POLL_INTERVAL=str(args.poll_interval),
            # Each refusal of the disabled client counts as a failed authentication.
            TOKENSMITH_CLIENT_AUTH_LIMIT=UNLIMITED,
            TOKENSMITH_ADDRESS_AUTH_LIMIT=UNLIMITED,
        )
        command = [sys.executable, "-m", "tokensmith", "serve", "--port", str(port)]
        command += ["--workers", str(args.workers)]
        with tempfile.TemporaryDirectory() as cwd:
            procs.append(subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL))
            base = f"http://127.0.0.1:{port}"
            wait_up(base + "/health/live", procs[0])
            print(
                f"propagation of a client change to every worker of serve --workers "
                f"{args.workers} (PostgreSQL, poll every {args.poll_interval:g} s):"
            )
            asyncio.run(_measure(url, master_key, secret, base, args.trials, args.poll_interval))
    finally:
        stop(procs)
        asyncio.run(_run_sql(args.admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
