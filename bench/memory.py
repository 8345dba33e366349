"""Memory benchmark: RSS and PSS of the whole `tokensmith serve --workers N` process tree, at
start, after a warm-up and after a million client-credentials tokens.

Starts `python -m tokensmith serve --workers N` (default options, as the README runs it) on a
fresh SQLite realm with an ES256 client, finds every process of its tree in /proc (the
supervising parent, the workers, any helper process), and prints each one's RSS and PSS and the
totals: once the workers have started, after `--warmup` seconds of wrk, and after wrk has
obtained `--tokens` tokens (client_secret_basic, `grant_type=client_credentials&scope=read`,
driven in rounds of `--round` seconds until the count is reached). Ends with the change of the
tree's RSS over the run against the target: at most 150 MB, flat within ±10 %. Linux only
(reads /proc); needs wrk.

    python bench/memory.py [--workers 2] [--tokens 1000000] [--warmup 5] [--round 10]
                           [--connections 64]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _common import free_port, tree, wait_up
from peer_load import SCRIPT, basic, check, setup

from tokensmith.server import Settings

TARGET_MB = 150.0
FLAT = 0.10


@dataclass(frozen=True)
class Usage:
    """One process's memory, in kB as /proc reports it."""

    pid: int
    role: str
    rss: int
    pss: int


def _role(pid: int, root: int) -> str:
    if pid == root:
        return "parent"
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
    if "resource_tracker" in cmdline:
        return "resource tracker"
    if "forkserver" in cmdline:
        return "forkserver"
    return "worker"


def usage(root: int) -> list[Usage]:
    """The RSS and PSS of every process of ``root``'s tree (``/proc/PID/smaps_rollup``)."""
    found = []
    for pid in tree(root):
        fields = {}
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    name, _, value = line.partition(":")
                    if name in ("Rss", "Pss"):
                        fields[name] = int(value.split()[0])
            found.append(Usage(pid, _role(pid, root), fields["Rss"], fields["Pss"]))
        except (FileNotFoundError, ProcessLookupError):
            continue  # it exited meanwhile
    return found


def total_mb(found: list[Usage], field: str = "rss") -> float:
    return sum(getattr(u, field) for u in found) / 1024


def show(stage: str, found: list[Usage]) -> None:
    print(f"{stage}:")
    for u in found:
        print(
            f"  {u.role:<17}[{u.pid:>7}]  RSS {u.rss / 1024:6.1f} MB   PSS {u.pss / 1024:6.1f} MB"
        )
    print(
        f"  {'total':<26}  RSS {total_mb(found):6.1f} MB   PSS {total_mb(found, 'pss'):6.1f} MB"
        f"   ({len(found)} processes)",
        flush=True,
    )


def wrk_round(url: str, seconds: int, connections: int, script: Path) -> tuple[int, int]:
    """Run wrk for ``seconds``; the number of responses and of non-2xx responses."""
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    done = re.search(r"(\d+) requests in", out)
    if done is None:
        raise SystemExit(f"unexpected wrk output:\n{out}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return int(done.group(1)), int(errors.group(1)) if errors else 0


def wait_workers(log: Path, proc: subprocess.Popen[bytes], workers: int) -> None:
    """Return once ``workers`` workers have finished their startup."""
    deadline = time.monotonic() + 60
    while log.read_text(errors="replace").count("Application startup complete") < workers:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the workers did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.1)
    time.sleep(1.0)  # let the process tree settle (a helper process may start late)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=1_000_000, help="tokens to obtain")
    parser.add_argument("--warmup", type=int, default=5, help="seconds of wrk before the run")
    parser.add_argument("--round", type=int, default=10, help="seconds of each wrk round")
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    if not sys.platform.startswith("linux"):
        raise SystemExit("this benchmark reads /proc: Linux only")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")

    tmp = Path(tempfile.mkdtemp(prefix="tokensmith-memory-bench-"))
    settings = Settings(database_url=f"sqlite:///{tmp / 'bench.db'}")
    secret = asyncio.run(setup(settings))
    script = tmp / "post.lua"
    script.write_text(SCRIPT)
    port = free_port()
    url = f"http://127.0.0.1:{port}/realms/bench/protocol/openid-connect/token"
    auth = basic("loadgen", secret)
    log = tmp / "serve.log"
    cmd = [sys.executable, "-m", "tokensmith", "serve", "--workers", str(args.workers)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*cmd, "--port", str(port)],
            env={**os.environ, **settings.to_env()},
            cwd=tmp,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # one process group: stopped together below
        )
    try:
        wait_up(f"http://127.0.0.1:{port}/health", proc)
        wait_workers(log, proc, args.workers)
        check(url, auth)
        print(f"`tokensmith serve --workers {args.workers}`, ES256 client_credentials tokens")
        start = usage(proc.pid)
        show("started", start)
        os.environ["BENCH_AUTH"] = auth  # wrk inherits it; the Lua script reads it
        wrk_round(url, args.warmup, args.connections, script)
        warm = usage(proc.pid)
        show(f"after a {args.warmup} s warm-up", warm)
        tokens = errors = 0
        began = time.monotonic()
        while tokens < args.tokens:
            done, failed = wrk_round(url, args.round, args.connections, script)
            tokens, errors = tokens + done, errors + failed
            now = usage(proc.pid)
            print(
                f"  {tokens:>9} tokens, {tokens / (time.monotonic() - began):6.0f}/s:"
                f" tree RSS {total_mb(now):6.1f} MB, PSS {total_mb(now, 'pss'):6.1f} MB",
                flush=True,
            )
        after = usage(proc.pid)
        show(f"after {tokens} tokens", after)
    finally:
        os.environ.pop("BENCH_AUTH", None)
        if proc.poll() is None:
            os.killpg(proc.pid, 15)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    change = total_mb(after) / total_mb(warm) - 1
    print()
    print(
        f"tree RSS: {total_mb(start):.1f} MB started, {total_mb(warm):.1f} MB warm, "
        f"{total_mb(after):.1f} MB after {tokens} tokens ({change:+.1%} since warm); "
        f"PSS {total_mb(after, 'pss'):.1f} MB"
    )
    size_ok = max(total_mb(u) for u in (start, warm, after)) <= TARGET_MB
    print(
        f"target: RSS <= {TARGET_MB:.0f} MB: {'met' if size_ok else 'NOT met'}; "
        f"flat within ±{FLAT:.0%}: {'met' if abs(change) <= FLAT else 'NOT met'}"
    )
    if errors:
        raise SystemExit(f"{errors} responses were not 2xx: the run is not what it claims")


if __name__ == "__main__":
    main()
