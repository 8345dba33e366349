"""Single flight across threads and tasks: one caller does the work, the others wait for it.

One :class:`SingleFlight` serves sync callers (threads) and async callers (tasks on asyncio or
trio, through anyio) alike, so a thread and a task that find a token due at the same instant make
one request between them, not two.

A thread waits on a ``threading.Event``. A task waits on an ``anyio.Event`` of its own loop,
which the finishing caller sets through that loop's thread-safe callback queue, whichever thread
or loop it runs on: no task holds a worker thread while it waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any

import anyio


def loop_callback_queue() -> Callable[[Callable[[], object]], object]:
    """A function that runs a callback on the current event loop, from any thread, without
    waiting for it. anyio has no such call; each backend it runs on has one."""
    try:
        return asyncio.get_running_loop().call_soon_threadsafe
    except RuntimeError:  # not asyncio: anyio's other backend
        import trio

        return trio.lowlevel.current_trio_token().run_sync_soon


class Flight:
    """One piece of work in progress; its outcome (a value or an error) is every waiter's.

    ``value`` and ``error`` both None after the flight has finished means the leader was
    cancelled before it had an outcome: a waiter should try again.
    """

    __slots__ = ("_done", "_leader_loop_thread", "_lock", "_tasks", "error", "value")

    def __init__(self, *, in_loop: bool) -> None:
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._tasks: list[tuple[Callable[[Callable[[], object]], object], anyio.Event]] = []
        self._leader_loop_thread = threading.get_ident() if in_loop else None
        self.value: Any = None
        self.error: BaseException | None = None

    def outcome(self) -> Any:
        """The leader's result.

        Raises:
            the leader's error, when it failed.
        """
        if self.error is not None:
            raise self.error
        return self.value

    @property
    def blocks_this_thread(self) -> bool:
        """True when the leader is a task on this very thread's loop: a blocking wait here would
        stop that loop, and the leader with it."""
        return self._leader_loop_thread == threading.get_ident()

    def wait(self) -> None:
        """Block until the flight has finished."""
        self._done.wait()

    async def wait_async(self) -> None:
        """Wait until the flight has finished, without blocking the event loop."""
        event = anyio.Event()
        with self._lock:
            if self._done.is_set():
                return
            self._tasks.append((loop_callback_queue(), event))
        await event.wait()

    def _finish(self) -> None:
        with self._lock:
            self._done.set()
            tasks, self._tasks = self._tasks, []
        for call_soon, event in tasks:
            # RuntimeError: that loop has ended; nobody is waiting there any more.
            with contextlib.suppress(RuntimeError):
                call_soon(event.set)


class SingleFlight:
    """Hands out flights: the first caller leads, callers during its flight wait for it."""

    __slots__ = ("_current", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: Flight | None = None

    @property
    def idle(self) -> bool:
        """No flight is in progress (a hint: one may start at any moment)."""
        return self._current is None

    def join(self, *, in_loop: bool) -> tuple[Flight, bool]:
        """The flight in progress and False, or a new one and True (the caller leads it and
        must call :meth:`finish`). ``in_loop``: the caller is a task on an event loop."""
        with self._lock:
            if self._current is not None:
                return self._current, False
            flight = self._current = Flight(in_loop=in_loop)
            return flight, True

    def finish(self, flight: Flight) -> None:
        """End ``flight`` (its outcome set) and wake its waiters."""
        with self._lock:
            if self._current is flight:
                self._current = None
        flight._finish()
