"""Peer benchmark: client-credentials tokens/s of `tokensmith serve` beside node oidc-provider.

Starts `tokensmith serve --workers N` (default loop and parser, as the README installs it) on a
fresh SQLite realm with an ES256 client, and node oidc-provider (v9, `bench/peers/oidc-provider`,
`npm ci` on first use) as an N-worker cluster issuing ES256 JWT access tokens. Both are driven by
the same wrk script (client_secret_basic, `grant_type=client_credentials&scope=read`) over
loopback in alternating rounds; prints each round, the medians and the median of the per-round
ratios tokensmith / oidc-provider. Needs wrk and node.

    python bench/peer_load.py [--workers 2] [--seconds 10] [--rounds 3] [--connections 64]
                              [--warmup 10]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
from _common import free_port, stop, wait_up
from token_load import wrk

from tokensmith.server import Admin, Settings, open_master_key
from tokensmith.store import Database

HERE = Path(__file__).resolve().parent
PEER = HERE / "peers" / "oidc-provider"
# The peer's fixed test client (bench/peers/oidc-provider/server.mjs); not a real credential.
PEER_CLIENT = ("bench-client", "bench-secret-0123456789abcdef0123456789abcdef")
BODY = "grant_type=client_credentials&scope=read"
# One script for both servers; only the Authorization header differs, read from the environment
# so that the request wrk builds is otherwise byte-for-byte the same.
SCRIPT = f"""\
wrk.method = "POST"
wrk.body = "{BODY}"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")
"""


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


async def setup(settings: Settings) -> str:
    """Create realm ``bench`` (ES256) with client ``loadgen`` allowed scope ``read``."""
    db = Database(settings.database_url)
    try:
        await db.migrate()
        admin = Admin(db, await open_master_key(db, settings.master_key, settings.key_file()))
        await admin.create_realm("bench", alg="ES256")
        new = await admin.create_client("bench", "loadgen", scopes="read")
        assert new.secret is not None
        return new.secret
    finally:
        await db.close()


def run_wrk(url: str, auth: str, seconds: int, connections: int, script: Path) -> dict[str, float]:
    os.environ["BENCH_AUTH"] = auth  # wrk inherits it; the Lua script reads it
    try:
        return wrk(url, seconds, connections, script)
    finally:
        del os.environ["BENCH_AUTH"]


def check(url: str, auth: str) -> None:
    """Exit unless the wrk script's request answers 200 with an ES256-signed JWT access token."""
    r = httpx.post(
        url,
        content=BODY,
        headers={"content-type": "application/x-www-form-urlencoded", "authorization": auth},
    )
    if r.status_code != 200:
        raise SystemExit(f"{url} answered {r.status_code}: {r.text[:200]}")
    head = r.json()["access_token"].split(".")[0]
    alg = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["alg"]
    if alg != "ES256":
        raise SystemExit(f"{url} signed its access token with {alg}, not ES256")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    # node's JIT keeps speeding up for several seconds; a short warm-up understates the peer.
    parser.add_argument("--warmup", type=int, default=10, help="seconds of wrk per server first")
    args = parser.parse_args()
    for tool, hint in (("wrk", "apt-get install wrk"), ("node", "install Node.js 20+")):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed: {hint}")
    if not (PEER / "node_modules").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PEER, check=True)

    tmp = Path(tempfile.mkdtemp(prefix="tokensmith-peer-bench-"))
    settings = Settings(database_url=f"sqlite:///{tmp / 'bench.db'}")
    secret = asyncio.run(setup(settings))
    script = tmp / "post.lua"
    script.write_text(SCRIPT)
    token_port, peer_port = free_port(), free_port()
    serve = ["tokensmith", "serve", "--workers", str(args.workers), "--host", "127.0.0.1"]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", *serve, "--port", str(token_port)],
                env={**os.environ, **settings.to_env()},
                cwd=tmp,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        peer_env = {"PORT": str(peer_port), "WORKERS": str(args.workers), "FORMAT": "jwt"}
        procs.append(
            subprocess.Popen(
                ["node", "server.mjs"],
                env={**os.environ, **peer_env, "ALG": "ES256", "NODE_ENV": "production"},
                cwd=PEER,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        ours = f"http://127.0.0.1:{token_port}/realms/bench/protocol/openid-connect/token"
        theirs = f"http://127.0.0.1:{peer_port}/token"
        servers = {
            "tokensmith": (ours, basic("loadgen", secret)),
            "oidc-provider": (theirs, basic(*PEER_CLIENT)),
        }
        wait_up(f"http://127.0.0.1:{token_port}/health", procs[0])
        wait_up(f"http://127.0.0.1:{peer_port}/.well-known/openid-configuration", procs[1])
        for url, auth in servers.values():
            check(url, auth)
            run_wrk(url, auth, args.warmup, args.connections, script)  # every worker, JIT
        results: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
        for i in range(args.rounds):
            # Alternate which goes first so drift of the machine does not favour one side.
            order = list(servers) if i % 2 == 0 else list(reversed(servers))
            for name in order:
                url, auth = servers[name]
                results[name].append(run_wrk(url, auth, args.seconds, args.connections, script))
            line = ", ".join(
                f"{name} {results[name][-1]['rps']:.0f} tokens/s "
                f"(p50 {results[name][-1]['p50']:.2f} ms, p99 {results[name][-1]['p99']:.2f} ms)"
                for name in servers
            )
            ratio = results["tokensmith"][-1]["rps"] / results["oidc-provider"][-1]["rps"]
            print(f"round {i + 1}: {line}, ratio {ratio:.2f}", flush=True)
    finally:
        stop(procs)
        shutil.rmtree(tmp, ignore_errors=True)

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in results[name])

    ratios = [
        t["rps"] / p["rps"]
        for t, p in zip(results["tokensmith"], results["oidc-provider"], strict=True)
    ]
    print()
    print(
        f"ES256 client_credentials (client_secret_basic, scope=read), {args.workers} workers each, "
        f"wrk -t2 -c{args.connections}, {args.rounds} x {args.seconds} s, medians:"
    )
    for name in servers:
        errors = sum(r["errors"] for r in results[name])
        print(
            f"  {name:<14}: {med(name, 'rps'):8.0f} tokens/s  p50 {med(name, 'p50'):6.2f} ms"
            f"   p99 {med(name, 'p99'):6.2f} ms   non-2xx {errors:.0f}"
        )
    print(f"  ratio tokensmith / oidc-provider (median of rounds): {statistics.median(ratios):.2f}")
    if any(r["errors"] for rs in results.values() for r in rs):
        raise SystemExit("some responses were not 2xx: the figures above are not comparable")


if __name__ == "__main__":
    main()
