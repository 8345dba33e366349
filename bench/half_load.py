"""Latency at half of peak load: client-credentials tokens of `tokensmith serve`, open loop.

Starts `tokensmith serve --workers N` (default loop and parser, as the README installs it) on a
fresh SQLite realm with an ES256 client, and, as the baseline measured in the same run, the
smallest possible ASGI app on the same uvicorn stack (bench/bare_app.py). Measures the peak
tokens/s with wrk (closed loop, client_secret_basic, `scope=read`, as bench/peer_load.py does),
then sends tokens requests at half that rate with the constant-rate driver (bench/_rate.py:
wrk2-style, each latency counted from when the request was scheduled, so a stall is charged to
every request it delays) and the same rate of requests to the bare app, alternating rounds.
Prints the peak, the rate used, and per server the achieved rate and p50/p90/p99/max (medians of
the rounds), and the tokens' p99 beside the target (5 ms).

It also reads /proc, to show what the tail comes from: the CPU the server's processes use per
answer at peak and at half load, and how busy the whole machine is at half load (its cores are
shared by the server's workers and the load driver). On a small machine a token costs more CPU
at half load than at peak (fewer answers per wake-up, colder caches), so "half of peak" keeps
the machine more than half busy.

    python bench/half_load.py [--workers 2] [--peak-seconds 5] [--peak-rounds 3]
                              [--seconds 8] [--rounds 3] [--connections 64]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import _rate
from _common import cpu_seconds, free_port, machine_cpu, stop, tree, wait_up
from peer_load import BODY, SCRIPT, basic, check, run_wrk, setup

from tokensmith.server import Settings

HERE = Path(__file__).resolve().parent
PATH = "/realms/bench/protocol/openid-connect/token"
TARGET_P99_MS = 5.0


def token_request(port: int, auth: str) -> bytes:
    """The wrk script's request, as bytes for the constant-rate driver."""
    return (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {auth}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(BODY)}\r\n\r\n{BODY}"
    ).encode()


def bare_request(port: int) -> bytes:
    return f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()


def start(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def probe(pids: list[int]) -> _rate.Probe:
    """Reads the CPU seconds of ``pids`` and of the whole machine."""

    def read() -> dict[str, float]:
        busy, total = machine_cpu()
        return {"server": cpu_seconds(pids), "busy": busy, "total": total}

    return read


def cpu_line(result: _rate.RateResult) -> str:
    """The server's CPU per answer and the machine's busy share over a constant-rate round."""
    got = result.probed
    answers = len(result.latencies)
    if not got or not answers or not got["total"]:
        return ""
    return (
        f"  server CPU {1e6 * got['server'] / answers:4.0f} µs per answer, "
        f"machine {100 * got['busy'] / got['total']:3.0f} % busy"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--peak-seconds", type=int, default=5, help="seconds per wrk round")
    parser.add_argument("--peak-rounds", type=int, default=3, help="wrk rounds (median)")
    parser.add_argument("--seconds", type=float, default=8, help="seconds per constant-rate round")
    parser.add_argument("--rounds", type=int, default=3, help="constant-rate rounds (median)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=5, help="seconds of wrk before the peak")
    parser.add_argument(
        "--serve-option",
        action="append",
        default=[],
        metavar="OPTION",
        help="an option for `tokensmith serve`, e.g. --serve-option=--no-metrics (repeatable; "
        "default: none, the documented defaults)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")

    tmp = Path(tempfile.mkdtemp(prefix="tokensmith-half-bench-"))
    settings = Settings(database_url=f"sqlite:///{tmp / 'bench.db'}")
    secret = asyncio.run(setup(settings))
    auth = basic("loadgen", secret)
    script = tmp / "post.lua"
    script.write_text(SCRIPT)
    token_port, bare_port = free_port(), free_port()
    workers = ["--workers", str(args.workers)]
    procs = [
        start(
            [
                sys.executable,
                "-m",
                "tokensmith",
                "serve",
                *workers,
                "--port",
                str(token_port),
                *args.serve_option,
            ],
            env={**os.environ, **settings.to_env()},
            cwd=tmp,
        ),
        start(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bare_app:app",
                *workers,
                "--port",
                str(bare_port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=HERE,
        ),
    ]
    url = f"http://127.0.0.1:{token_port}{PATH}"
    results: dict[str, list[_rate.RateResult]] = {"tokensmith": [], "bare ASGI": []}
    try:
        wait_up(f"http://127.0.0.1:{token_port}/health", procs[0])
        wait_up(f"http://127.0.0.1:{bare_port}/", procs[1])
        check(url, auth)
        pids = {"tokensmith": tree(procs[0].pid), "bare ASGI": tree(procs[1].pid)}
        run_wrk(url, auth, args.warmup, args.connections, script)  # every worker's caches
        peaks, peak_costs = [], []
        for i in range(args.peak_rounds):
            before = cpu_seconds(pids["tokensmith"])
            peaks.append(run_wrk(url, auth, args.peak_seconds, args.connections, script)["rps"])
            used = cpu_seconds(pids["tokensmith"]) - before
            peak_costs.append(1e6 * used / (peaks[-1] * args.peak_seconds))
            print(
                f"peak round {i + 1}: {peaks[-1]:.0f} tokens/s  "
                f"server CPU {peak_costs[-1]:4.0f} µs per answer",
                flush=True,
            )
        peak = statistics.median(peaks)
        rate = peak / 2
        requests = {
            "tokensmith": (token_port, token_request(token_port, auth)),
            "bare ASGI": (bare_port, bare_request(bare_port)),
        }
        for i in range(args.rounds):
            order = list(requests) if i % 2 == 0 else list(reversed(requests))
            for name in order:
                port, request = requests[name]
                result = _rate.run(
                    "127.0.0.1",
                    port,
                    request,
                    rate=rate,
                    seconds=args.seconds,
                    connections=args.connections,
                    probe=probe(pids[name]),
                )
                results[name].append(result)
                print(f"round {i + 1} {name:<10}: {result.summary()}", flush=True)
                print(f"{'':19}{cpu_line(result)}", flush=True)
    finally:
        stop(procs)
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(
        f"ES256 client_credentials (client_secret_basic, scope=read), serve --workers "
        f"{args.workers}; peak {peak:.0f} tokens/s (wrk -c{args.connections}, median of "
        f"{args.peak_rounds} x {args.peak_seconds} s); constant rate {rate:.0f}/s over "
        f"{args.connections} connections, medians of {args.rounds} x {args.seconds:g} s:"
    )
    for name, rounds in results.items():

        def med(p: float, rounds: list[_rate.RateResult] = rounds) -> float:
            return statistics.median(r.percentile(p) for r in rounds)

        achieved = statistics.median(r.achieved_rate for r in rounds)
        errors = sum(r.errors + r.non_200 for r in rounds)
        print(
            f"  {name:<10}: achieved {achieved:6.0f}/s  p50 {med(50):6.2f} ms  "
            f"p90 {med(90):6.2f} ms  p99 {med(99):6.2f} ms  max {med(100):6.2f} ms  "
            f"non-200/errors {errors}"
        )
    p99 = statistics.median(r.percentile(99) for r in results["tokensmith"])
    base = statistics.median(r.percentile(99) for r in results["bare ASGI"])
    print(
        f"  tokensmith p99 at half load: {p99:.2f} ms (target <= {TARGET_P99_MS:g} ms; "
        f"{p99 / base:.1f} x the bare app's)"
    )

    def cost(result: _rate.RateResult) -> float:
        return 1e6 * result.probed.get("server", 0.0) / max(1, len(result.latencies))

    def busy(result: _rate.RateResult) -> float:
        return 100 * result.probed.get("busy", 0.0) / (result.probed.get("total") or 1.0)

    half_cost = statistics.median(cost(r) for r in results["tokensmith"])
    peak_cost = statistics.median(peak_costs)
    print(
        f"  tokensmith CPU per token: {peak_cost:.0f} µs at peak, {half_cost:.0f} µs at half load "
        f"({half_cost / peak_cost:.2f} x); machine busy at half load "
        f"{statistics.median(busy(r) for r in results['tokensmith']):.0f} % "
        f"(bare app: {statistics.median(busy(r) for r in results['bare ASGI']):.0f} %)"
    )
    if any(r.errors or r.non_200 for rs in results.values() for r in rs):
        raise SystemExit("some requests failed: the figures above are not comparable")


if __name__ == "__main__":
    main()
