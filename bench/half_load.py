"""Latency at half of peak load: client-credentials tokens of `tokensmith serve`, open loop.

Starts `tokensmith serve --workers N` (default loop and parser, as the README installs it) on a
fresh SQLite realm with an ES256 client and, as baselines measured in the same run, the smallest
possible ASGI app on the same uvicorn stack (bench/bare_app.py) and node oidc-provider as an
N-worker cluster (as bench/peer_load.py runs it; left out with --no-peer or without node).
Measures each token server's peak tokens/s with wrk (closed loop, client_secret_basic,
`scope=read`, as bench/peer_load.py does), then sends requests at half that rate with the
constant-rate driver (bench/_rate.py: wrk2-style, each latency counted from when the request was
scheduled, so a stall is charged to every request it delays), in alternating rounds:
tokensmith at half its peak, the bare app at that same rate and at the rate that keeps its
workers as busy as tokensmith's (calibrated by a short run of each: the tail the stack alone has
on a machine that busy), oidc-provider at half its own peak, and tokensmith at that rate too
(the same load for both token servers). Prints the peaks,
and per run the achieved rate and p50/p90/p99/max (medians of the rounds), and tokensmith's p99
at half load beside the target (5 ms).

It also reads /proc, to show what a tail comes from: the CPU the server's processes use per
answer at peak and at each constant rate, how busy the whole machine is (its cores are shared by
the server's workers and the load driver), and the share of the time the server's workers were
ready to run but waited for a core (the run-queue wait of /proc/PID/schedstat, per worker).

    python bench/half_load.py [--workers 2] [--peak-seconds 5] [--peak-rounds 3]
                              [--seconds 8] [--rounds 3] [--connections 64] [--warmup 5]
                              [--no-peer] [--serve-option OPTION]...
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
import time
from collections.abc import Callable
from pathlib import Path

import _rate
from _common import cpu_seconds, free_port, machine_cpu, runqueue_wait, stop, tree, wait_up
from peer_load import BODY, PEER, PEER_CLIENT, SCRIPT, basic, check, run_wrk, setup

from tokensmith.server import Settings

HERE = Path(__file__).resolve().parent
PATH = "/realms/bench/protocol/openid-connect/token"
TARGET_P99_MS = 5.0
Rounds = list[_rate.RateResult]


def token_request(port: int, auth: str, path: str = PATH) -> bytes:
    """The wrk script's request, as bytes for the constant-rate driver."""
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {auth}\r\n"
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


def probe(root: int, workers: int) -> _rate.Probe:
    """Reads the CPU seconds of the processes of ``root``'s tree (found anew, in case a worker
    was replaced), their run-queue wait per worker (the supervisor, uvicorn's or node's primary
    hardly ever runs), the wall time, and the machine's CPU seconds."""
    pids = tree(root)

    def read() -> dict[str, float]:
        busy, total = machine_cpu()
        return {
            "server": cpu_seconds(pids),
            "wait": runqueue_wait(pids) / workers,
            "wall": time.monotonic(),
            "busy": busy,
            "total": total,
        }

    return read


def cpu_per_answer(result: _rate.RateResult) -> float:
    """The server's CPU per answer over a constant-rate round, in µs."""
    return 1e6 * result.probed.get("server", 0.0) / max(1, len(result.latencies))


def busy_share(result: _rate.RateResult) -> float:
    """How busy the whole machine was over a constant-rate round, in % of all its cores."""
    return 100 * result.probed.get("busy", 0.0) / (result.probed.get("total") or 1.0)


def wait_share(result: _rate.RateResult) -> float:
    """The share of the round a worker (on average) was ready to run but waited for a core, %."""
    return 100 * result.probed.get("wait", 0.0) / (result.probed.get("wall") or 1.0)


def cpu_line(result: _rate.RateResult) -> str:
    """The server's CPU per answer, the machine's busy share and the workers' wait for a core
    over a constant-rate round."""
    return (
        f"server CPU {cpu_per_answer(result):4.0f} µs per answer, machine "
        f"{busy_share(result):3.0f} % busy, a worker waited for a core "
        f"{wait_share(result):4.1f} % of the time"
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
    parser.add_argument(
        "--warmup",
        type=int,
        default=5,
        help="seconds of wrk before each token server's peak (twice that for node, whose JIT "
        "keeps speeding up for several seconds)",
    )
    parser.add_argument("--no-peer", action="store_true", help="leave node oidc-provider out")
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
    peer = not args.no_peer and shutil.which("node") is not None
    if not args.no_peer and not peer:
        print("node is not installed: oidc-provider left out", flush=True)
    if peer and not (PEER / "node_modules").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PEER, check=True)

    tmp = Path(tempfile.mkdtemp(prefix="tokensmith-half-bench-"))
    settings = Settings(database_url=f"sqlite:///{tmp / 'bench.db'}")
    secret = asyncio.run(setup(settings))
    auth = basic("loadgen", secret)
    script = tmp / "post.lua"
    script.write_text(SCRIPT)
    ports = {"tokensmith": free_port(), "bare ASGI": free_port(), "oidc-provider": free_port()}
    workers = ["--workers", str(args.workers)]
    token_servers = {
        "tokensmith": (f"http://127.0.0.1:{ports['tokensmith']}{PATH}", auth),
        "oidc-provider": (
            f"http://127.0.0.1:{ports['oidc-provider']}/token",
            basic(*PEER_CLIENT),
        ),
    }
    if not peer:
        del token_servers["oidc-provider"]
    requests = {
        "tokensmith": token_request(ports["tokensmith"], auth),
        "bare ASGI": bare_request(ports["bare ASGI"]),
        "oidc-provider": token_request(ports["oidc-provider"], basic(*PEER_CLIENT), "/token"),
    }
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        procs["tokensmith"] = start(
            [
                *(sys.executable, "-m", "tokensmith", "serve", *workers),
                *("--port", str(ports["tokensmith"]), *args.serve_option),
            ],
            env={**os.environ, **settings.to_env()},
            cwd=tmp,
        )
        procs["bare ASGI"] = start(
            [
                *(sys.executable, "-m", "uvicorn", "bare_app:app", *workers),
                *("--port", str(ports["bare ASGI"]), "--no-access-log", "--log-level", "warning"),
            ],
            cwd=HERE,
        )
        if peer:
            peer_env = {"PORT": str(ports["oidc-provider"]), "WORKERS": str(args.workers)}
            procs["oidc-provider"] = start(
                ["node", "server.mjs"],
                env={**os.environ, **peer_env, "FORMAT": "jwt", "ALG": "ES256"}
                | {"NODE_ENV": "production"},
                cwd=PEER,
            )
        wait_up(f"http://127.0.0.1:{ports['tokensmith']}/health", procs["tokensmith"])
        wait_up(f"http://127.0.0.1:{ports['bare ASGI']}/", procs["bare ASGI"])
        if peer:
            well_known = (
                f"http://127.0.0.1:{ports['oidc-provider']}/.well-known/openid-configuration"
            )
            wait_up(well_known, procs["oidc-provider"])
        pids = {name: tree(proc.pid) for name, proc in procs.items()}  # for the peaks
        peak: dict[str, float] = {}
        peak_cost: dict[str, float] = {}
        for name, (url, server_auth) in token_servers.items():
            check(url, server_auth)
            # every worker's caches (and node's JIT, which keeps speeding up for seconds)
            run_wrk(
                url,
                server_auth,
                args.warmup * (2 if name == "oidc-provider" else 1),
                args.connections,
                script,
            )
            peaks, costs = [], []
            for i in range(args.peak_rounds):
                before = cpu_seconds(pids[name])
                peaks.append(
                    run_wrk(url, server_auth, args.peak_seconds, args.connections, script)["rps"]
                )
                costs.append(
                    1e6 * (cpu_seconds(pids[name]) - before) / (peaks[-1] * args.peak_seconds)
                )
                print(
                    f"peak round {i + 1} {name}: {peaks[-1]:.0f} tokens/s  "
                    f"server CPU {costs[-1]:4.0f} µs per answer",
                    flush=True,
                )
            peak[name], peak_cost[name] = statistics.median(peaks), statistics.median(costs)
        # The bare app at the rate that keeps its workers as busy as tokensmith's at half load:
        # how long a tail the stack alone has when the machine is that busy.
        half = peak["tokensmith"] / 2
        calibration = {
            name: _rate.run(
                "127.0.0.1",
                ports[name],
                requests[name],
                rate=half,
                seconds=3,
                connections=args.connections,
                probe=probe(procs[name].pid, args.workers),
            )
            for name in ("tokensmith", "bare ASGI")
        }
        as_busy = half * cpu_per_answer(calibration["tokensmith"])
        as_busy /= max(1.0, cpu_per_answer(calibration["bare ASGI"]))
        # (label, server, rate)
        runs = [
            ("tokensmith at half its peak", "tokensmith", half),
            ("bare ASGI at that rate", "bare ASGI", half),
            ("bare ASGI, workers as busy", "bare ASGI", as_busy),
        ]
        if peer:
            runs += [
                ("oidc-provider at half its peak", "oidc-provider", peak["oidc-provider"] / 2),
                ("tokensmith at that rate", "tokensmith", peak["oidc-provider"] / 2),
            ]
        results: dict[str, list[_rate.RateResult]] = {label: [] for label, _, _ in runs}
        for i in range(args.rounds):
            for label, name, rate in runs if i % 2 == 0 else list(reversed(runs)):
                result = _rate.run(
                    "127.0.0.1",
                    ports[name],
                    requests[name],
                    rate=rate,
                    seconds=args.seconds,
                    connections=args.connections,
                    probe=probe(procs[name].pid, args.workers),
                )
                results[label].append(result)
                print(f"round {i + 1} {label}: {result.summary()}", flush=True)
                print(f"        {cpu_line(result)}", flush=True)
    finally:
        stop(list(procs.values()))
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(
        f"ES256 client_credentials (client_secret_basic, scope=read), {args.workers} workers "
        f"each; peaks: wrk -c{args.connections}, median of {args.peak_rounds} x "
        f"{args.peak_seconds} s; constant rates over {args.connections} connections, medians "
        f"of {args.rounds} x {args.seconds:g} s:"
    )
    for name in token_servers:
        print(
            f"  peak {name}: {peak[name]:.0f} tokens/s, server CPU {peak_cost[name]:.0f} µs per "
            "answer"
        )
    for label, _, rate in runs:
        rounds = results[label]

        def med(p: float, rounds: list[_rate.RateResult] = rounds) -> float:
            return statistics.median(r.percentile(p) for r in rounds)

        def median(of: Callable[[_rate.RateResult], float], rounds: Rounds = rounds) -> float:
            return statistics.median(of(r) for r in rounds)

        errors = sum(r.errors + r.non_200 for r in rounds)
        print(
            f"  {label:<30} {rate:6.0f}/s: achieved {median(lambda r: r.achieved_rate):6.0f}/s  "
            f"p50 {med(50):6.2f} ms  p90 {med(90):6.2f} ms  p99 {med(99):6.2f} ms  "
            f"max {med(100):6.2f} ms  non-200/errors {errors}\n"
            f"  {'':<30} server CPU {median(cpu_per_answer):4.0f} µs per answer, machine "
            f"{median(busy_share):3.0f} % busy, a worker waited for a core "
            f"{median(wait_share):4.1f} % of the time"
        )
    p99 = statistics.median(r.percentile(99) for r in results["tokensmith at half its peak"])
    base = statistics.median(r.percentile(99) for r in results["bare ASGI at that rate"])
    busy = statistics.median(r.percentile(99) for r in results["bare ASGI, workers as busy"])
    print(
        f"  tokensmith p99 at half load: {p99:.2f} ms (target <= {TARGET_P99_MS:g} ms; "
        f"{p99 / base:.1f} x the bare app's at the same rate; the bare app's with its workers "
        f"as busy: {busy:.2f} ms)"
    )
    if peer:
        theirs = statistics.median(
            r.percentile(99) for r in results["oidc-provider at half its peak"]
        )
        same = statistics.median(r.percentile(99) for r in results["tokensmith at that rate"])
        print(
            f"  oidc-provider p99 at half its load: {theirs:.2f} ms; tokensmith's at that rate: "
            f"{same:.2f} ms (oidc-provider / tokensmith: {theirs / same:.2f})"
        )
    if any(r.errors or r.non_200 for rs in results.values() for r in rs):
        raise SystemExit("some requests failed: the figures above are not comparable")


if __name__ == "__main__":
    main()
