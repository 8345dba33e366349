"""Flood benchmark: does a flood of wrong guesses against one client's person-chosen (argon2)
secret delay the other clients?

Starts `tokensmith serve` on a fresh SQLite database with realm `flood` (client `victim`, argon2
secret) and realm `other` (argon2 clients `legit-N`, one per sample so that none is cached, and a
generated-secret client `gen`). It measures, from 127.0.0.2, the latency of a legitimate client's
first authentication and of the generated-secret client's token requests: first without load
(the baseline of the same run), then while wrk (Debian package `wrk`) floods `victim` from
127.0.0.1 over 128 connections, each request guessing another secret. Prints medians and their
ratio to the baseline.

    python bench/auth_flood.py [--connections 128] [--samples 5] [--workers 1] [--no-rate-limit]
                               [--loop asyncio --http h11]

``--no-rate-limit`` raises the failure limits out of reach, to see the argon2 admission alone.
To measure another version, put its ``src`` first on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _common import free_port, wait_up

import tokensmith
from tokensmith.server import Admin, MasterKey, Settings
from tokensmith.store import Database

LEGIT_SOURCE = "127.0.0.2"
FLOOD_LUA = """
local n = 0
request = function()
  n = n + 1
  local body = "grant_type=client_credentials&client_id=victim&client_secret=guess-" .. n
  return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
"""


async def setup(settings: Settings, samples: int) -> str:
    """Create the realms and clients; returns the generated client's secret."""
    db = Database(settings.database_url)
    try:
        await db.migrate()
        # The key is given directly, so MasterKey.load reads it on every version measured.
        admin = Admin(db, MasterKey.load(settings.master_key, settings.key_file()))
        await admin.create_realm("flood")
        await admin.create_client("flood", "victim", secret="the victim's chosen secret")
        await admin.create_realm("other")
        for i in range(2 * samples):
            await admin.create_client("other", f"legit-{i}", secret=f"legit secret {i}")
        new = await admin.create_client("other", "gen")
        assert new.secret is not None
        return new.secret
    finally:
        await db.close()


def timed_token(url: str, client_id: str, secret: str) -> float:
    """Seconds one client_credentials request takes from the legitimate source, on a new
    connection; fails loudly on anything but 200."""
    transport = httpx.HTTPTransport(local_address=LEGIT_SOURCE)
    with httpx.Client(transport=transport, timeout=120) as http:
        started = time.perf_counter()
        response = http.post(
            url,
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
            },
        )
        elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"{client_id}: HTTP {response.status_code} {response.text}")
    return elapsed


def measure(
    url: str, first: int, samples: int, gen_secret: str, gen_samples: int
) -> dict[str, float]:
    """Median latency (ms) of a first argon2 authentication (clients legit-FIRST…) and of the
    generated-secret client."""
    argon = [
        timed_token(url, f"legit-{i}", f"legit secret {i}") for i in range(first, first + samples)
    ]
    gen = [timed_token(url, "gen", gen_secret) for _ in range(gen_samples)]
    return {"argon2": statistics.median(argon) * 1000, "generated": statistics.median(gen) * 1000}


def parse_wrk(out: str) -> tuple[float, int]:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return (float(rps.group(1)) if rps else 0.0, int(non2xx.group(1)) if non2xx else 0)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=128)
    parser.add_argument("--samples", type=int, default=5, help="first argon2 authentications")
    parser.add_argument("--gen-samples", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--ramp", type=float, default=3.0, help="seconds of flood before measuring")
    parser.add_argument("--no-rate-limit", action="store_true")
    parser.add_argument(
        "--loop",
        help="serve's --loop (e.g. asyncio with --http h11: the stack of the documented install, "
        "pip install 'tokensmith[server]'); default: serve's own",
    )
    parser.add_argument("--http", help="serve's --http")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")

    tmp = Path(tempfile.mkdtemp(prefix="tokensmith-flood-"))
    settings = Settings(
        database_url=f"sqlite:///{tmp / 'bench.db'}",
        master_key=base64.urlsafe_b64encode(os.urandom(32)).decode(),  # as Fernet takes it
    )
    gen_secret = asyncio.run(setup(settings, args.samples))
    script = tmp / "flood.lua"
    script.write_text(FLOOD_LUA)
    env = {**os.environ, **settings.to_env()}
    if args.no_rate_limit:
        env["TOKENSMITH_CLIENT_AUTH_LIMIT"] = "1000000/second"
        env["TOKENSMITH_ADDRESS_AUTH_LIMIT"] = "1000000/second"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tokensmith",
            "serve",
            "--workers",
            str(args.workers),
            "--port",
            str(port),
            *(["--loop", args.loop] if args.loop else []),
            *(["--http", args.http] if args.http else []),
        ],
        env=env,
        cwd=tmp,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    other_url = f"{base}/realms/other/protocol/openid-connect/token"
    flood_url = f"{base}/realms/flood/protocol/openid-connect/token"
    flood: subprocess.Popen[str] | None = None
    try:
        wait_up(base + "/health", server)
        for _ in range(3):  # warm up: realm caches, connections, the generated client
            timed_token(other_url, "gen", gen_secret)
        quiet = measure(other_url, 0, args.samples, gen_secret, args.gen_samples)
        flood = subprocess.Popen(
            ["wrk", "-t2", f"-c{args.connections}", "-d600s", "-s", str(script), flood_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        time.sleep(args.ramp)
        started = time.monotonic()
        loud = measure(other_url, args.samples, args.samples, gen_secret, args.gen_samples)
        flooded_for = time.monotonic() - started + args.ramp
        flood.send_signal(signal.SIGINT)  # wrk stops and prints its summary
        out, _ = flood.communicate(timeout=30)
        flood = None
    finally:
        if flood is not None:
            flood.kill()
            flood.wait()
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:  # still draining queued argon2 checks
            server.kill()
            server.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    rps, refused = parse_wrk(out)
    limits = "rate limits raised out of reach" if args.no_rate_limit else "default rate limits"
    print(f"tokensmith from {Path(tokensmith.__file__).parent.parent}")
    print(
        f"serve --workers {args.workers}, {limits}; flood: wrk -c{args.connections} wrong guesses "
        f"at one argon2 client for {flooded_for:.0f} s, {rps:.0f} answers/s ({refused} non-2xx)"
    )
    print("legitimate client latency from another address, medians:")
    print(f"  {'':<36} {'no flood':>10} {'flood':>10} {'ratio':>7}")
    for key, label in (
        ("argon2", f"first auth, argon2 secret (n={args.samples})"),
        ("generated", f"generated secret (n={args.gen_samples})"),
    ):
        print(
            f"  {label:<36} {quiet[key]:8.1f}ms {loud[key]:8.1f}ms {loud[key] / quiet[key]:6.1f}x"
        )


if __name__ == "__main__":
    main()
