"""Load benchmark: client-credentials tokens per second of `tokensmith serve`, ES256 and RS256.

Starts `tokensmith serve --workers N` (default loop and parser, as the README installs it) on a
fresh SQLite database with an ES256 and an RS256 realm and, as the baseline measured in the same
run, the smallest possible ASGI app on the same uvicorn stack (serve's HTTP protocol: TCP_NODELAY,
coalesced writes); drives them with wrk (Debian package `wrk`) over loopback in alternating
rounds, and prints medians and the ratios to the baseline and of RS256 to ES256.

    python bench/token_load.py [--workers 2] [--seconds 10] [--rounds 3] [--connections 64]
                               [--tracing]

``--tracing`` runs the service with ``--tracing`` and the OpenTelemetry SDK set up in its
processes (``bench/otel_site``: a batch processor and an exporter that drops the spans); it needs
``opentelemetry-sdk``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
from _common import free_port, wait_up

from tokensmith.server import Admin, Settings, open_master_key
from tokensmith.server._serve import HTTP_PROTOCOLS
from tokensmith.store import Database

HERE = Path(__file__).resolve().parent
ALGS = ("ES256", "RS256")


async def setup(settings: Settings) -> dict[str, str]:
    """Create realms ``es256`` and ``rs256``, each with client ``loadgen``; their secrets."""
    db = Database(settings.database_url)
    try:
        await db.migrate()
        admin = Admin(db, await open_master_key(db, settings.master_key, settings.key_file()))
        secrets: dict[str, str] = {}
        for alg in ALGS:
            await admin.create_realm(alg.lower(), alg=alg)
            new = await admin.create_client(alg.lower(), "loadgen", scopes="api")
            assert new.secret is not None
            secrets[alg] = new.secret
        return secrets
    finally:
        await db.close()


def wrk(url: str, seconds: int, connections: int, script: Path | None) -> dict[str, float]:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script is not None:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    lat = {}
    for pct in ("50", "99"):
        m = re.search(rf"\s{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)", out)
        assert m is not None, out
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
        lat[pct] = float(m.group(1)) * scale
    return {
        "rps": rps,
        "p50": lat["50"],
        "p99": lat["99"],
        "errors": float(errors.group(1)) if errors else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--tracing", action="store_true", help="serve --tracing, with the SDK and a no-op exporter"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")

    tmp = Path(tempfile.mkdtemp(prefix="tokensmith-bench-"))
    settings = Settings(database_url=f"sqlite:///{tmp / 'bench.db'}")
    secrets = asyncio.run(setup(settings))
    scripts: dict[str, Path] = {}
    bodies: dict[str, str] = {}
    for alg, secret in secrets.items():
        bodies[alg] = f"grant_type=client_credentials&client_id=loadgen&client_secret={secret}"
        scripts[alg] = tmp / f"{alg}.lua"
        scripts[alg].write_text(
            'wrk.method = "POST"\n'
            f'wrk.body = "{bodies[alg]}"\n'
            'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        )
    env = {**os.environ, **settings.to_env()}
    if args.tracing:
        env["TOKENSMITH_TRACING"] = "1"
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(HERE / "otel_site"), env.get("PYTHONPATH")])
        )
    token_port, bare_port = free_port(), free_port()
    exe = [sys.executable, "-m"]
    token = subprocess.Popen(
        [*exe, "tokensmith", "serve", "--workers", str(args.workers), "--port", str(token_port)],
        env=env,
        cwd=tmp,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    bare = subprocess.Popen(
        [
            *exe,
            "uvicorn",
            "bare_app:app",
            "--workers",
            str(args.workers),
            "--port",
            str(bare_port),
            "--http",
            HTTP_PROTOCOLS["httptools" if "httptools" in HTTP_PROTOCOLS else "h11"],
            "--no-access-log",
            "--log-level",
            "warning",
            "--no-server-header",
        ],
        cwd=HERE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{token_port}/realms"
    urls = {alg: f"{base}/{alg.lower()}/protocol/openid-connect/token" for alg in ALGS}
    bare_url = f"http://127.0.0.1:{bare_port}/"
    results: dict[str, list[dict[str, float]]] = {"bare": [], **{alg: [] for alg in ALGS}}
    try:
        wait_up(f"http://127.0.0.1:{token_port}/health", token)
        wait_up(bare_url, bare)
        for alg in ALGS:
            body = scripts[alg].read_text().split('"')[3]
            check = httpx.post(
                urls[alg],
                content=body,
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            check.raise_for_status()
            wrk(urls[alg], 2, args.connections, scripts[alg])  # warm up every worker's caches
        for i in range(args.rounds):
            results["bare"].append(wrk(bare_url, args.seconds, args.connections, None))
            for alg in ALGS:
                results[alg].append(wrk(urls[alg], args.seconds, args.connections, scripts[alg]))
            print(
                f"round {i + 1}: bare {results['bare'][-1]['rps']:.0f} req/s, "
                + ", ".join(f"{alg} {results[alg][-1]['rps']:.0f} tokens/s" for alg in ALGS),
                flush=True,
            )
    finally:
        for proc in (token, bare):
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)

    def med(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in results[kind])

    errors = sum(r["errors"] for alg in ALGS for r in results[alg])
    print()
    print(
        f"client_credentials, serve --workers {args.workers}"
        f"{' --tracing (SDK, spans dropped)' if args.tracing else ''}, "
        f"wrk -t2 -c{args.connections}, {args.rounds} x {args.seconds} s, medians:"
    )
    for label, kind, unit in (
        ("bare ASGI baseline", "bare", "req/s"),
        ("tokensmith ES256", "ES256", "tokens/s"),
        ("tokensmith RS256", "RS256", "tokens/s"),
    ):
        print(
            f"  {label:<18} : {med(kind, 'rps'):8.0f} {unit:<8}  "
            f"p50 {med(kind, 'p50'):6.2f} ms   p99 {med(kind, 'p99'):6.2f} ms"
        )
    for alg in ALGS:
        print(f"  {alg} / baseline   : {med(alg, 'rps') / med('bare', 'rps'):.2f}")
    print(f"  RS256 / ES256      : {med('RS256', 'rps') / med('ES256', 'rps'):.2f}")
    print(f"  non-2xx responses  : {errors:.0f}")


if __name__ == "__main__":
    main()
