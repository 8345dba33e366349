"""Renewal in the background, at about 75 % of a token's lifetime, so that no request waits for
one: a daemon thread for sync users, a task for async users on asyncio or trio."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio
import anyio.to_thread

from ..core import loop_callback_queue

log = logging.getLogger("tokensmith.client")


@dataclass
class _Task:
    """A renewal task, and how to reach it from another thread."""

    call_soon: Callable[[Callable[[], object]], object]
    thread: int
    ended_here: anyio.Event  # for waiters on the task's own loop
    ended: threading.Event = field(default_factory=threading.Event)  # for waiters elsewhere
    scope: anyio.CancelScope | None = None
    stopping: bool = False
    asyncio_task: asyncio.Task[None] | None = None  # held: asyncio keeps only weak references

    def cancel(self) -> None:
        self.stopping = True  # for a task that has not started yet, and so has no scope
        if self.scope is not None:
            self.scope.cancel()


class BackgroundRenewal:
    """Calls ``renew`` (in a thread) or ``arenew`` (in a task) whenever ``wait()`` seconds have
    passed, until ``stop`` is set or the task is stopped; a renewal that raises is logged and
    tried again a second later (one that fails but keeps serving a valid token returns, and
    ``wait`` then follows the source's backoff)."""

    def __init__(
        self,
        *,
        renew: Callable[[], object],
        arenew: Callable[[], Awaitable[object]],
        wait: Callable[[], float],
        stop: threading.Event,
    ) -> None:
        self._renew = renew
        self._arenew = arenew
        self._wait = wait
        self._stop = stop
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._task: _Task | None = None

    # --- sync ----------------------------------------------------------------------------------

    def start_thread(self) -> None:
        """Start the renewal thread, unless it runs or the source is closed."""
        with self._lock:
            if self._thread is not None or self._stop.is_set():
                return
            self._thread = threading.Thread(
                target=self._loop, name="tokensmith-renewal", daemon=True
            )
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._wait()):
            try:
                self._renew()
            except Exception as exc:
                log.warning("background renewal failed: %s", type(exc).__name__)
                self._stop.wait(1.0)

    def stop_thread(self) -> None:
        """Wait up to 5 s for the renewal thread to end (the caller has set ``stop``)."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(5)

    # --- async ---------------------------------------------------------------------------------

    def start_task(self) -> None:
        """Start the renewal task on the running loop, unless one runs or the source is closed.

        anyio starts tasks only inside a task group, and a token source has no scope to hold
        one open; so the task is the loop's own unstructured kind (an asyncio task, a trio
        system task), and :meth:`stop_task` cancels it through an anyio cancel scope.
        """
        with self._lock:
            if self._task is not None or self._stop.is_set():
                return
            task = self._task = _Task(loop_callback_queue(), threading.get_ident(), anyio.Event())
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not asyncio: anyio's other backend
            import trio

            trio.lowlevel.spawn_system_task(self._aloop, task)
        else:
            task.asyncio_task = loop.create_task(self._aloop(task))

    async def _aloop(self, task: _Task) -> None:
        try:
            with anyio.CancelScope() as task.scope:
                while not task.stopping and not self._stop.is_set():
                    await anyio.sleep(self._wait())
                    try:
                        await self._arenew()
                    except Exception as exc:
                        log.warning("background renewal failed: %s", type(exc).__name__)
                        await anyio.sleep(1.0)
        finally:
            with self._lock:
                if self._task is task:
                    self._task = None  # a later loop may start its own
            task.ended.set()
            task.ended_here.set()

    async def stop_task(self) -> None:
        """Cancel the renewal task and wait until it has ended, from its own loop or any other."""
        with self._lock:
            task = self._task
        if task is None:
            return
        if task.thread == threading.get_ident():
            task.cancel()
            await task.ended_here.wait()
            return
        try:
            task.call_soon(task.cancel)
        except RuntimeError:  # its loop has ended, and the task with it
            return
        await anyio.to_thread.run_sync(task.ended.wait, 5.0, limiter=anyio.CapacityLimiter(1))
