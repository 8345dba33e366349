"""Failure-path benchmark: what recording security events costs a flood of refused client
authentications, and how many rows the flood writes.

Starts `tokensmith serve` (one worker) on a fresh SQLite database with realm `flood` and a client
`gen` with a generated secret, the failure rate limits raised out of reach (so that every
request is checked, refused with 401 and recorded), and floods it for ``--seconds`` with wrk
(Debian package `wrk`) over ``--connections`` connections, each request guessing another secret.
Prints the refused requests per second and, when the database has the ``events`` table (migration
0011), how many rows the flood wrote. Run it once per version to compare, e.g. with the other
version's ``src`` first on ``PYTHONPATH``:

    python bench/failure_flood.py [--seconds 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import free_port, stop, wait_up
from sqlalchemy import text

import tokensmith
from tokensmith.server import Admin, MasterKey, Settings
from tokensmith.store import Database

FLOOD_LUA = """
local n = 0
request = function()
  n = n + 1
  local body = "grant_type=client_credentials&client_id=gen&client_secret=guess-" .. n
  return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
"""


async def setup(settings: Settings) -> None:
    """Create the realm and its client."""
    db = Database(settings.database_url)
    try:
        await db.migrate()
        admin = Admin(db, MasterKey.load(settings.master_key, settings.key_file()))
        await admin.create_realm("flood")
        await admin.create_client("flood", "gen")
    finally:
        await db.close()


async def rows_written(settings: Settings) -> int | None:
    """The rows of the events table, or None for a version without it."""
    db = Database(settings.database_url)
    try:
        async with db.read() as conn:
            tables = await conn.run_sync(lambda sync: sync.dialect.get_table_names(sync))
            if "events" not in tables:
                return None
            return int(await conn.scalar(text("SELECT count(*) FROM events")) or 0)
    finally:
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")

    tmp = Path(tempfile.mkdtemp(prefix="tokensmith-failures-"))
    settings = Settings(
        database_url=f"sqlite:///{tmp / 'bench.db'}",
        master_key=base64.urlsafe_b64encode(os.urandom(32)).decode(),
    )
    asyncio.run(setup(settings))
    script = tmp / "flood.lua"
    script.write_text(FLOOD_LUA)
    env = {
        **os.environ,
        **settings.to_env(),
        "TOKENSMITH_CLIENT_AUTH_LIMIT": "1000000/second",
        "TOKENSMITH_ADDRESS_AUTH_LIMIT": "1000000/second",
    }
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "tokensmith", "serve", "--port", str(port), "--workers", "1"],
        env=env,
        cwd=tmp,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_up(base + "/health", server)
        url = f"{base}/realms/flood/protocol/openid-connect/token"
        out = subprocess.run(
            ["wrk", "-t2", f"-c{args.connections}", f"-d{args.seconds}s", "-s", str(script), url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        time.sleep(1.5)  # the last flush
    finally:
        stop([server])
    try:
        rows = asyncio.run(rows_written(settings))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    refused = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    print(f"tokensmith from {Path(tokensmith.__file__).parent.parent}")
    per_second = float(rps.group(1)) if rps else 0.0
    print(
        f"wrk -c{args.connections} -d{args.seconds}s wrong secrets, one worker: "
        f"{per_second:.0f} refusals/s ({refused.group(1) if refused else 0} non-2xx)"
    )
    print("events rows written: " + ("(no events table)" if rows is None else str(rows)))


if __name__ == "__main__":
    main()
