"""Start-up time of `tokensmith token`: `--help`, and a real call against a local fake endpoint.

    PYTHONPATH=src .venv/bin/python bench/cli_startup.py [RUNS]

Prints the median and range of RUNS (default 10) wall-clock runs of each, and the modules that
a real call imports from joserfc, cryptography and the server's stack (there should be none).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Token(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = json.dumps({"access_token": "bench", "token_type": "Bearer", "expires_in": 300})
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())


def _time(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, env=env, check=True, capture_output=True)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    import os

    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Token)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/token"
    env = {**os.environ, "BENCH_SECRET": "s3cret"}
    cli = [sys.executable, "-m", "tokensmith", "token"]
    call = [*cli, "--token-url", url, "--client-id", "bench", "--client-secret-env", "BENCH_SECRET"]
    for name, argv in (("token --help", [*cli, "--help"]), ("token (real call)", call)):
        times = _time(argv, env, runs)
        print(
            f"{name:18} median {statistics.median(times):6.0f} ms "
            f"(min {min(times):.0f}, max {max(times):.0f}, {runs} runs)"
        )
    probe = subprocess.run(
        [sys.executable, "-X", "importtime", *call[1:]], env=env, capture_output=True, text=True
    )
    heavy = sorted(
        {
            line.rsplit("|", 1)[1].strip().split(".")[0]
            for line in probe.stderr.splitlines()
            if any(m in line for m in ("joserfc", "cryptography", "starlette", "sqlalchemy"))
        }
    )
    print("heavy packages a real call imports:", ", ".join(heavy) or "none")
    server.shutdown()


if __name__ == "__main__":
    main()
