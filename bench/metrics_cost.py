"""Micro benchmark: what the metrics add to a client-credentials token request, in CPU µs.

Calls the ASGI application in this process (no sockets, no uvicorn) with one token request
after another and reads the process's CPU time, in a fresh interpreter per mode and round,
alternating: metrics off (``--no-metrics``), in the process's memory (``serve`` with one
worker) and in memory-mapped files (``PROMETHEUS_MULTIPROC_DIR``, ``serve --workers N``).
Prints each mode's median and the ratios to metrics off.

    python bench/metrics_cost.py [--rounds 6] [--requests 3000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

MODES = ("off", "memory", "multiprocess")

CHILD = """
import asyncio, base64, sys, tempfile, time
from pathlib import Path
from tokensmith.server import Admin, Settings, TokensmithApp, open_master_key
from tokensmith.store import Database

async def main(mode, n):
    d = tempfile.mkdtemp()
    settings = Settings(database_url=f"sqlite:///{d}/t.db", master_key_file=Path(d) / "key",
                        metrics=mode != "off")
    db = Database(settings.database_url)
    await db.migrate()
    admin = Admin(db, await open_master_key(db, settings.master_key, settings.key_file()))
    await admin.create_realm("acme")
    new = await admin.create_client("acme", "svc", scopes="api")
    await db.close()
    app = TokensmithApp(settings, migrate=False)
    await app.startup()
    body = b"grant_type=client_credentials"
    auth = b"Basic " + base64.b64encode(f"svc:{new.secret}".encode())
    scope = {"type": "http", "method": "POST", "scheme": "http", "query_string": b"",
             "path": "/realms/acme/protocol/openid-connect/token",
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8080),
             "headers": [(b"host", b"localhost:8080"), (b"authorization", auth),
                         (b"content-type", b"application/x-www-form-urlencoded")]}
    statuses = set()

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            statuses.add(message["status"])

    for _ in range(500):
        await app(dict(scope), receive, send)
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for _ in range(n):
            await app(dict(scope), receive, send)
        if app._metrics is not None:
            app._metrics.flush()  # what the service does every poll interval
        best = min(best, (time.process_time() - started) / n)
    assert statuses == {200}, statuses
    await app.shutdown()
    print(best * 1e6)

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def run(mode: str, requests: int) -> float:
    """CPU µs per token request in a fresh interpreter with the metrics ``mode``."""
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    with tempfile.TemporaryDirectory() as directory:
        if mode == "multiprocess":
            env["PROMETHEUS_MULTIPROC_DIR"] = directory
        out = subprocess.run(
            [sys.executable, "-c", CHILD, mode, str(requests)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return float(out)


def main() -> None:
    """Print each mode's median µs per request over alternating rounds."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    results: dict[str, list[float]] = {mode: [] for mode in MODES}
    for _ in range(args.rounds):
        for mode in MODES:
            results[mode].append(run(mode, args.requests))
    off = statistics.median(results["off"])
    for mode in MODES:
        median = statistics.median(results[mode])
        print(f"{mode:>12}: {median:6.1f} µs CPU per token request  ({median / off:.3f} of off)")


if __name__ == "__main__":
    main()
