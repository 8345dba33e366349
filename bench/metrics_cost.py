"""Micro benchmark: what the event log and the metrics add to one token request, in µs.

A client-credentials request reports a ``token_issued`` event (DEBUG: not written at the
default level) and one request duration. This times that work alone, in a fresh interpreter
per mode: no metrics (``--no-metrics``), metrics in the process's memory (``serve`` with one
worker) and metrics in memory-mapped files (``PROMETHEUS_MULTIPROC_DIR``, ``serve --workers N``).

    python bench/metrics_cost.py [--requests 200000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

MODES = ("off", "memory", "multiprocess")

CHILD = """
import sys, time
from tokensmith.server._events import emit, observe
mode, n = sys.argv[1], int(sys.argv[2])
if mode != "off":
    from tokensmith.server._metrics import metrics
    m = metrics()
    observe(m.observe)
def one():
    started = time.perf_counter()
    emit("token_issued", realm="acme", client_id="svc", grant="client_credentials")
    if mode != "off":
        m.request("token", time.perf_counter() - started)
for _ in range(1000):
    one()
best = float("inf")
for _ in range(5):
    t = time.perf_counter()
    for _ in range(n):
        one()
    best = min(best, (time.perf_counter() - t) / n)
print(f"{best * 1e6:.2f}")
"""


def main() -> None:
    """Print the µs per request of each mode (best of five runs)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200_000)
    args = parser.parse_args()
    for mode in MODES:
        env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        with tempfile.TemporaryDirectory() as directory:
            if mode == "multiprocess":
                env["PROMETHEUS_MULTIPROC_DIR"] = directory
            out = subprocess.run(
                [sys.executable, "-c", CHILD, mode, str(args.requests)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        print(f"{mode:>12}: {out} µs per token request (event + metrics)")


if __name__ == "__main__":
    main()
