"""Single flight across threads and tasks: one caller does the work, the others wait for it.

One :class:`SingleFlight` serves sync callers (threads) and async callers (tasks on asyncio or
trio, through anyio) alike, so a thread and a task that find a token due at the same instant make
one request between them, not two.

How a waiter waits depends on who leads: a task on the leader's own event loop awaits an
``anyio.Event`` that the leader sets; a thread blocks on a ``threading.Event``; a task whose
leader runs elsewhere (a thread, or another loop) waits for that ``threading.Event`` in a worker
thread of its own, so it neither blocks its loop nor takes a slot of anyio's default thread
limiter that the leader may need.
"""

from __future__ import annotations

import threading
from typing import Any

import anyio
import anyio.to_thread


class Flight:
    """One piece of work in progress; its outcome (a value or an error) is every waiter's."""

    __slots__ = ("_async_done", "_done", "_leader_thread", "error", "value")

    def __init__(self, *, in_loop: bool) -> None:
        self._done = threading.Event()
        self._leader_thread = threading.get_ident()
        # Made on the leader's loop; only tasks of that loop (that thread) wait on it.
        self._async_done = anyio.Event() if in_loop else None
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
        return self._async_done is not None and threading.get_ident() == self._leader_thread

    def wait(self) -> None:
        """Block until the flight has finished."""
        self._done.wait()

    async def wait_async(self) -> None:
        """Wait until the flight has finished, without blocking the event loop."""
        if self.blocks_this_thread:
            assert self._async_done is not None
            await self._async_done.wait()
        elif not self._done.is_set():
            await anyio.to_thread.run_sync(
                self._done.wait, abandon_on_cancel=True, limiter=anyio.CapacityLimiter(1)
            )

    def _finish(self) -> None:
        self._done.set()
        if self._async_done is not None:  # the leader's loop: finish runs on the leader's thread
            self._async_done.set()


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
