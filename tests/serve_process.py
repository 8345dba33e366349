"""`tokensmith serve` as a user runs it: a subprocess on a free loopback port, its output in a
file, stopped by the test that started it."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tokensmith.server import Settings


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Serving:
    """A running `tokensmith serve` process."""

    url: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        """Everything the service wrote to stdout and stderr so far."""
        return self.log.read_text(errors="replace")

    def worker_pids(self, count: int, timeout: float = 30) -> list[int]:
        """The process ids of ``count`` started uvicorn workers, waiting until all have started."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = [int(p) for p in re.findall(r"Started server process \[(\d+)\]", self.output())]
            if len(pids) >= count:
                return pids
            time.sleep(0.05)
        raise AssertionError(f"{count} workers did not start:\n{self.output()}")


def process_gone(pid: int) -> bool:
    """Whether the process has exited (a zombie nobody reaped yet counts as exited)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux: reads /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as stat:
                if int(stat.read().rpartition(")")[2].split()[1]) == pid:
                    found.append(int(entry))
        except (ValueError, OSError):  # not a process, or it exited meanwhile
            continue
    return found


def rss_bytes(pid: int) -> int:
    """The resident set size of process ``pid`` (Linux: reads /proc)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")


@contextmanager
def serving(
    tmp_path: Path, settings: Settings, *args: str, port: int | None = None
) -> Iterator[Serving]:
    """Run ``python -m tokensmith serve --port PORT *args`` in ``tmp_path`` with ``settings`` in
    its environment until the block ends; waits until ``/health`` answers."""
    port = free_port() if port is None else port
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSMITH_")}
    env.update(settings.to_env())
    log = tmp_path / f"serve-{port}-{time.monotonic_ns()}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tokensmith", "serve", "--port", str(port), *args],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    running = Serving(f"http://127.0.0.1:{port}", port, proc, log)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(running.url + "/health", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"serve did not come up:\n{running.output()}") from None
                time.sleep(0.05)
        yield running
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
