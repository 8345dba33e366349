"""The process that supervises the workers of ``serve --workers N``, on the standard library only.

``serve`` migrates the database and binds the listening socket, then replaces itself (``exec``)
with this module, so that the parent living as long as the service carries no application,
database driver or event loop: about 12 MB of RSS instead of 80, and no ``multiprocessing``
resource tracker beside it.

It runs N copies of the worker command. Each inherits the listening sockets given with ``--fd``:
every one of them when the number of ``--fd`` differs from N, else only its own (the i-th worker
the i-th socket: ``serve`` binds one ``SO_REUSEPORT`` socket per worker so that the kernel spreads
connections evenly), and every socket given with ``--shared-fd`` (the management port). The
numbers of the worker's sockets follow the command, then, as its last
argument, the number of a file descriptor (its lifeline) that reaches end of file when the
supervisor dies, so that workers stop by themselves even after a SIGKILL of the supervisor
(:func:`tokensmith.server._serve.exit_with_parent`). A worker that dies is replaced (at most one
start per second and slot). The supervisor stops when a worker exits with
:data:`STARTUP_FAILURE` (its startup failed and would fail again), and on SIGINT, SIGTERM or
SIGHUP, after sending the workers SIGTERM and waiting for them (a second signal kills them).
With ``--metrics-dir``, the gauges a dead worker left there are deleted (its counters stay: they
are part of the totals), and the directory when the supervisor stops.

    python -m tokensmith.server._supervisor --workers N [--fd FD]... [--shared-fd FD]... \\
        [--metrics-dir DIR] [--log-level LEVEL] [--log-format text|json] -- COMMAND [ARG]...

The exit status is 0 after a stop signal, :data:`STARTUP_FAILURE` when a worker failed to start.
"""

from __future__ import annotations

import contextlib
import getopt
import glob
import math
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType

from ._logline import json_line

STARTUP_FAILURE = 3  # uvicorn's exit status of a server whose startup failed
RESTART_INTERVAL = 1.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_LEVELS = {"trace": 5, "debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}


class Supervisor:
    """Runs ``workers`` copies of ``command``, each inheriting the file descriptors ``fds`` (or,
    when there are as many as workers, its own one of them), given their numbers as arguments and
    then the number of its lifeline as its last argument.

    Log lines go to standard error in uvicorn's default format (or as JSON objects with
    ``log_format`` ``json``), from ``log_level`` up. ``shared_fds`` go to every worker;
    ``metrics_dir`` is the workers' ``PROMETHEUS_MULTIPROC_DIR``.
    """

    def __init__(
        self,
        command: Sequence[str],
        workers: int,
        fds: Sequence[int] = (),
        *,
        shared_fds: Sequence[int] = (),
        metrics_dir: str | None = None,
        log_level: str = "info",
        log_format: str = "text",
    ) -> None:
        if workers < 1:
            raise ValueError("at least one worker")
        self.command = list(command)
        self.fds = tuple(fds)
        self.shared_fds = tuple(shared_fds)
        self.metrics_dir = metrics_dir
        self.level = _LEVELS[log_level]
        self.json = log_format == "json"
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * workers
        self.started_at = [-math.inf] * workers
        self._signals: list[int] = []
        self._lifeline = -1  # the read end; only this process holds the write end

    def run(self) -> int:
        """Supervise until a stop signal or a failed startup; the exit status."""
        lifeline, held = os.pipe()
        self._lifeline = lifeline
        wakeup_r, wakeup_w = os.pipe()
        os.set_blocking(wakeup_r, False)
        os.set_blocking(wakeup_w, False)
        previous_fd = signal.set_wakeup_fd(wakeup_w)
        watched = (*STOP_SIGNALS, signal.SIGCHLD)  # a handler on SIGCHLD makes it wake us
        previous = {sig: signal.signal(sig, self._on_signal) for sig in watched}
        try:
            self._log(20, f"Started parent process [{os.getpid()}]")
            status = self._supervise(wakeup_r)
            self._stop_all(wakeup_r)
            self._log(20, f"Stopping parent process [{os.getpid()}]")
            return status
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            signal.set_wakeup_fd(previous_fd)
            for fd in (wakeup_r, wakeup_w, lifeline, held):
                os.close(fd)
            if self.metrics_dir is not None:
                import shutil  # at the end only: ~0.5 MB for as long as the service runs

                shutil.rmtree(self.metrics_dir, ignore_errors=True)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signals.append(signum)

    def _wait(self, wakeup: int) -> None:
        """Sleep until a signal arrives, at most a second."""
        select.select([wakeup], [], [], 1.0)
        try:
            while os.read(wakeup, 512):
                pass
        except BlockingIOError:
            pass

    def _stop_signal(self) -> int | None:
        stops = [sig for sig in self._signals if sig in STOP_SIGNALS]
        self._signals.clear()
        return stops[0] if stops else None

    def _supervise(self, wakeup: int) -> int:
        while True:
            for slot, proc in enumerate(self.procs):
                if proc is not None and proc.poll() is not None:
                    if proc.returncode == STARTUP_FAILURE:
                        self._log(40, f"Worker process [{proc.pid}] failed to start; stopping")
                        return STARTUP_FAILURE
                    self._log(30, f"Worker process [{proc.pid}] {_ended(proc.returncode)}")
                    self._forget_gauges(proc.pid)
                    self.procs[slot] = None
                since = time.monotonic() - self.started_at[slot]
                if self.procs[slot] is None and since >= RESTART_INTERVAL:
                    self._start(slot)
            self._wait(wakeup)
            sig = self._stop_signal()
            if sig is not None:
                self._log(20, f"Received {signal.Signals(sig).name}, exiting.")
                return 0

    def _start(self, slot: int) -> None:
        self.started_at[slot] = time.monotonic()
        fds = (self.fds[slot],) if len(self.fds) == len(self.procs) else self.fds
        fds += self.shared_fds
        argv = [*self.command, *map(str, fds), str(self._lifeline)]
        try:
            proc = subprocess.Popen(argv, pass_fds=(*fds, self._lifeline))  # noqa: S603 (ours)
        except OSError as exc:  # tried again after RESTART_INTERVAL
            self._log(40, f"Cannot start a worker process: {exc}")
            return
        self.procs[slot] = proc
        self._log(10, f"Started worker process [{proc.pid}]")

    def _stop_all(self, wakeup: int) -> None:
        running = [p for p in self.procs if p is not None and p.poll() is None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)
            self._log(20, f"Terminated child process [{proc.pid}]")
        killed = False
        while any(p.poll() is None for p in running):
            self._wait(wakeup)
            if self._stop_signal() is not None and not killed:
                killed = True
                for proc in running:
                    if proc.poll() is None:
                        proc.kill()
                        self._log(30, f"Killed child process [{proc.pid}]")

    def _forget_gauges(self, pid: int) -> None:
        """Delete the live gauges of dead worker ``pid`` (``prometheus_client``'s
        ``mark_process_dead``, without importing it here)."""
        if self.metrics_dir is None:
            return
        for path in glob.glob(os.path.join(self.metrics_dir, f"gauge_live*_{pid}.db")):
            with contextlib.suppress(OSError):
                os.remove(path)

    def _log(self, level: int, message: str) -> None:
        if level >= self.level:
            name = {10: "DEBUG", 20: "INFO", 30: "WARNING"}.get(level, "ERROR")
            if self.json:
                line = json_line(name.lower(), "tokensmith.supervisor", message)
            else:
                line = f"{name + ':':<9} {message}"
            print(line, file=sys.stderr, flush=True)


def _ended(status: int) -> str:
    if status < 0:
        try:
            return f"was killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"was killed by signal {-status}"
    return f"exited with status {status}"


USAGE = (
    "usage: python -m tokensmith.server._supervisor --workers N [--fd FD]... [--shared-fd FD]... "
    "[--metrics-dir DIR] [--log-level LEVEL] [--log-format text|json] -- COMMAND [ARG]..."
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the supervisor from its command line; the exit status (2, with the usage on standard
    error, for a command line it cannot read)."""
    try:
        supervisor = from_command_line(sys.argv[1:] if argv is None else argv)
    except ValueError as exc:
        print(f"{USAGE}\nerror: {exc}", file=sys.stderr)
        return 2
    return supervisor.run()


def from_command_line(argv: Sequence[str]) -> Supervisor:
    """The supervisor ``argv`` describes (see :data:`USAGE`). Read with ``getopt``, not
    ``argparse``: ~0.3 MB less in a process that lives as long as the service.

    Raises:
        ValueError: an unknown option, an option without its value, a value that is not a number
            or not one of the choices, no ``--workers`` N >= 1, or no command.
    """
    names = ["workers=", "fd=", "shared-fd=", "metrics-dir=", "log-level=", "log-format="]
    try:
        found, command = getopt.getopt(list(argv), "", names)
    except getopt.GetoptError as exc:
        raise ValueError(str(exc)) from None
    workers = 0
    fds: list[int] = []
    shared_fds: list[int] = []
    metrics_dir: str | None = None
    log_level, log_format = "info", "text"
    for name, value in found:
        if name == "--metrics-dir":
            metrics_dir = value
        elif name == "--log-level":
            log_level = _choice(name, value, tuple(_LEVELS))
        elif name == "--log-format":
            log_format = _choice(name, value, ("text", "json"))
        elif name == "--workers":
            workers = _number(name, value)
        else:
            (fds if name == "--fd" else shared_fds).append(_number(name, value))
    if not command or workers < 1:
        raise ValueError("give --workers N (N >= 1) and the worker command after --")
    return Supervisor(
        command,
        workers,
        fds,
        shared_fds=shared_fds,
        metrics_dir=metrics_dir,
        log_level=log_level,
        log_format=log_format,
    )


def _number(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} takes a number, not {value!r}") from None


def _choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name} takes one of {', '.join(choices)}, not {value!r}")
    return value


if __name__ == "__main__":
    sys.exit(main())
