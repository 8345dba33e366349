"""The supervisor of `serve --workers N` as a process, with small Python programs as its workers:
it replaces a worker that dies, stops on a failed startup and on SIGTERM, and gives each worker a
lifeline that ends when the supervisor does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the supervisor runs on POSIX systems")

# A worker: notes "<pid>.started" in the directory given, "<pid>.stopped" on SIGTERM and
# "<pid>.orphaned" when its lifeline (argv[-1]) ends; exits at once with the status in the file
# "status" if there is one. It writes the inherited descriptors it was given (the arguments before
# its lifeline) that are open in it to "<pid>.argv".
WORKER = """
import os, signal, sys, threading, time
here = sys.argv[1]
def note(what):
    open(os.path.join(here, f"{os.getpid()}.{what}"), "w").close()
def stop(signum, frame):
    note("stopped")
    sys.exit(0)
def watch():
    if os.read(int(sys.argv[-1]), 1) == b"":
        note("orphaned")
signal.signal(signal.SIGTERM, stop)
threading.Thread(target=watch, daemon=True).start()
note("started")
with open(os.path.join(here, f"{os.getpid()}.argv"), "w") as f:
    opened = [fd for fd in sys.argv[2:-1] if os.path.exists(f"/proc/self/fd/{fd}")]
    f.write(" ".join(opened))
status = os.path.join(here, "status")
if os.path.exists(status):
    sys.exit(int(open(status).read()))
while True:
    time.sleep(0.05)
"""


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def pids(here: Path, what: str) -> set[int]:
    return {int(p.name.split(".")[0]) for p in here.glob(f"*.{what}")}


@contextmanager
def supervising(
    here: Path, workers: int = 2, fds: tuple[int, ...] = ()
) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m tokensmith.server._supervisor`` running ``workers`` copies of WORKER, passing
    on ``fds``, its standard error in ``here/supervisor.log``."""
    command = [sys.executable, "-m", "tokensmith.server._supervisor", "--workers", str(workers)]
    for fd in fds:
        command += ["--fd", str(fd)]
    with (here / "supervisor.log").open("wb") as log:
        proc = subprocess.Popen(
            [*command, "--", sys.executable, "-c", WORKER, str(here)], stderr=log, pass_fds=fds
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        for pid in pids(here, "started") - pids(here, "stopped"):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_sigterm_stops_every_worker_then_the_supervisor(tmp_path: Path) -> None:
    """SIGTERM to the supervisor reaches each worker as SIGTERM; it exits 0 once they stopped."""
    with supervising(tmp_path) as proc:
        wait_for(lambda: len(pids(tmp_path, "started")) == 2)

        proc.send_signal(signal.SIGTERM)
        status = proc.wait(10)

    assert status == 0
    assert pids(tmp_path, "stopped") == pids(tmp_path, "started")


def test_a_worker_that_dies_is_replaced(tmp_path: Path) -> None:
    """After a worker is killed, the supervisor starts another; the other worker runs on."""
    with supervising(tmp_path) as proc:
        wait_for(lambda: len(pids(tmp_path, "started")) == 2)
        first, second = sorted(pids(tmp_path, "started"))

        os.kill(first, signal.SIGKILL)
        wait_for(lambda: len(pids(tmp_path, "started")) == 3)
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        err = (tmp_path / "supervisor.log").read_text()

    assert pids(tmp_path, "stopped") == pids(tmp_path, "started") - {first}
    assert second in pids(tmp_path, "stopped")
    assert f"Worker process [{first}] was killed by SIGKILL" in err


def test_a_failed_startup_stops_the_supervisor_with_its_status(tmp_path: Path) -> None:
    """A worker exiting with status 3 (uvicorn's failed startup) stops the others and the
    supervisor, which exits 3 instead of starting workers that would fail the same way."""
    (tmp_path / "status").write_text("3")

    with supervising(tmp_path) as proc:
        status = proc.wait(10)
        err = (tmp_path / "supervisor.log").read_text()

    assert status == 3
    assert len(pids(tmp_path, "started")) <= 2
    assert "failed to start; stopping" in err


def test_each_worker_gets_a_lifeline_that_ends_with_the_supervisor(tmp_path: Path) -> None:
    """The last argument of each worker names an inherited file descriptor that reaches end of
    file when the supervisor is killed with SIGKILL, and not before."""
    with supervising(tmp_path) as proc:
        wait_for(lambda: len(pids(tmp_path, "started")) == 2)
        time.sleep(0.2)
        orphaned_before = pids(tmp_path, "orphaned")

        proc.kill()
        proc.wait(10)
        wait_for(lambda: pids(tmp_path, "orphaned") == pids(tmp_path, "started"))

    assert orphaned_before == set()


@pytest.mark.parametrize("given", [1, 2])
def test_workers_get_the_sockets_given_one_each_when_there_is_one_per_worker(
    tmp_path: Path, given: int
) -> None:
    """One ``--fd`` is passed to every worker; as many ``--fd`` as workers, one to each (the
    per-worker SO_REUSEPORT sockets of ``serve``). Each worker gets the numbers before its
    lifeline, and the descriptors are open in it."""
    pipes = [os.pipe() for _ in range(given)]
    fds = tuple(read for read, _ in pipes)
    try:
        with supervising(tmp_path, fds=fds):
            wait_for(lambda: len(pids(tmp_path, "started")) == 2)
            wait_for(
                lambda: all(
                    (tmp_path / f"{pid}.argv").exists() for pid in pids(tmp_path, "started")
                )
            )
            time.sleep(0.1)
            got = sorted(
                (tmp_path / f"{pid}.argv").read_text() for pid in pids(tmp_path, "started")
            )
    finally:
        for read, write in pipes:
            os.close(read)
            os.close(write)

    expected = [str(fds[0])] * 2 if given == 1 else sorted(map(str, fds))
    assert got == expected


@pytest.mark.parametrize(
    ("args", "why"),
    [
        pytest.param(["--workers", "2"], "the worker command after --", id="no-command"),
        pytest.param(["--workers", "0", "--", "true"], "N >= 1", id="no-worker"),
        pytest.param(["--workers", "two", "--", "true"], "--workers takes a number", id="nan"),
        pytest.param(
            ["--workers", "1", "--log-format", "xml", "--", "true"], "text, json", id="fmt"
        ),
        pytest.param(["--workers", "1", "--port", "8080", "--", "true"], "--port", id="unknown"),
    ],
)
def test_a_command_line_it_cannot_read_exits_2_with_the_usage(
    tmp_path: Path, args: list[str], why: str
) -> None:
    """A command line the supervisor cannot read exits with status 2 and says why under the
    usage, starting no worker."""
    command = [sys.executable, "-m", "tokensmith.server._supervisor", *args]

    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=30)

    assert done.returncode == 2
    assert done.stderr.startswith("usage: python -m tokensmith.server._supervisor --workers N")
    assert why in done.stderr
    assert "Started" not in done.stderr
