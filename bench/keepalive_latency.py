"""Keep-alive latency of `tokensmith serve` on each event loop, HTTP parser and worker count.

For every stack, starts the service on a fresh SQLite database and sends sequential
client-credentials requests over one keep-alive connection (httpx), printing the median and p90;
with wrk installed (Debian package `wrk`) it also prints tokens/s at 16 connections. The baseline,
measured in the same run, is the same application under plain `uvicorn --workers 2 --loop asyncio
--http h11`, whose workers leave TCP_NODELAY off: each response then waits ~40 ms for the client's
delayed ACK.

    python bench/keepalive_latency.py [--requests 200] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _common import free_port

from tokensmith.server import Admin, Settings, open_master_key
from tokensmith.server._keys import new_master_key_value
from tokensmith.store import Database


async def setup(settings: Settings) -> str:
    db = Database(settings.database_url)
    try:
        await db.migrate()
        admin = Admin(db, await open_master_key(db, settings.master_key, settings.key_file()))
        await admin.create_realm("bench")
        new = await admin.create_client("bench", "loadgen", scopes="api")
        assert new.secret is not None
        return new.secret
    finally:
        await db.close()


def measure(cmd: list[str], env: dict[str, str], cwd: str, secret: str, args: argparse.Namespace):
    port = free_port()
    proc = subprocess.Popen(
        [*cmd, "--port", str(port)],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    url = f"{base}/realms/bench/protocol/openid-connect/token"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/health", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{cmd} did not come up") from None
                time.sleep(0.1)
        with httpx.Client(auth=("loadgen", secret), timeout=10) as http:
            times = []
            for i in range(args.requests + 10):
                started = time.perf_counter()
                http.post(url, data={"grant_type": "client_credentials"}).raise_for_status()
                if i >= 10:
                    times.append((time.perf_counter() - started) * 1000)
        times.sort()
        row = (
            f"median {statistics.median(times):6.2f} ms  p90 {times[len(times) * 9 // 10]:6.2f} ms"
        )
        if shutil.which("wrk"):
            row += f"  {wrk(url, secret, args.seconds, cwd):8.0f} tokens/s"
        return row
    finally:
        proc.terminate()
        proc.wait(20)


def wrk(url: str, secret: str, seconds: int, cwd: str) -> float:
    import base64

    basic = base64.b64encode(f"loadgen:{secret}".encode()).decode()
    script = Path(cwd) / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        'wrk.body = "grant_type=client_credentials"\n'
        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        f'wrk.headers["Authorization"] = "Basic {basic}"\n'
    )
    cmd = ["wrk", "-t2", "-c16", f"-d{seconds}s", "-s", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="tokensmith-keepalive-")
    settings = Settings(
        database_url=f"sqlite:///{workdir}/bench.db", master_key=new_master_key_value()
    )
    secret = asyncio.run(setup(settings))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSMITH_")}
    env.update(settings.to_env())
    serve = [sys.executable, "-m", "tokensmith", "serve"]
    stacks = [("asyncio", "h11")]
    if importlib.util.find_spec("uvloop") and importlib.util.find_spec("httptools"):
        stacks.append(("uvloop", "httptools"))
    runs = [
        (
            "baseline: uvicorn --workers 2 asyncio h11",
            [
                *(sys.executable, "-m", "uvicorn", "--factory"),
                "tokensmith.server._serve:app_from_env",
                *("--workers", "2", "--loop", "asyncio", "--http", "h11", "--no-access-log"),
            ],
        )
    ]
    for loop, http in stacks:
        for workers in ("1", "2"):
            runs.append(
                (
                    f"serve --workers {workers} {loop} {http}",
                    [*serve, "--workers", workers, "--loop", loop, "--http", http],
                )
            )
    print(f"{args.requests} sequential keep-alive client_credentials requests per stack")
    for name, cmd in runs:
        print(f"{name:42} {measure(cmd, env, workdir, secret, args)}", flush=True)
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
