"""Renewal in the background, at about 75 % of a token's lifetime, so that no request waits for
one: a daemon thread for sync users, a task for async users on asyncio or trio."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable

import anyio

log = logging.getLogger("tokensmith.client")


class BackgroundRenewal:
    """Calls ``renew`` (in a thread) or ``arenew`` (in a task) whenever ``wait()`` seconds have
    passed, until stopped; a failed renewal is logged and tried again a second later."""

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
        self._thread: threading.Thread | None = None
        self._scope: anyio.CancelScope | None = None
        self._task_done: anyio.Event | None = None
        self._asyncio_task: asyncio.Task[None] | None = None  # held: asyncio keeps weak refs
        self._stopping = False

    # --- sync ----------------------------------------------------------------------------------

    def start_thread(self) -> None:
        """Start the renewal thread, unless it runs."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="tokensmith-renewal", daemon=True
            )
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            if self._stop.wait(self._wait()):
                return
            try:
                self._renew()
            except Exception as exc:
                log.warning("background renewal failed: %s", type(exc).__name__)
                self._stop.wait(1.0)

    def stop_thread(self) -> None:
        """Stop the renewal thread (the caller has set the ``stop`` event) and wait for it."""
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    # --- async ---------------------------------------------------------------------------------

    def start_task(self) -> None:
        """Start the renewal task on the running loop, unless one runs.

        anyio starts tasks only inside a task group, and a token source has no scope to hold
        one open; so the task is the loop's own unstructured kind (an asyncio task, a trio
        system task), and :meth:`stop_task` cancels it through an anyio cancel scope.
        """
        if self._task_done is not None:
            return
        self._task_done = anyio.Event()
        self._stopping = False
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not asyncio: anyio's other backend
            import trio

            trio.lowlevel.spawn_system_task(self._aloop)
        else:
            self._asyncio_task = loop.create_task(self._aloop())

    async def _aloop(self) -> None:
        assert self._task_done is not None
        try:
            with anyio.CancelScope() as self._scope:
                while not self._stopping:
                    await anyio.sleep(self._wait())
                    try:
                        await self._arenew()
                    except Exception as exc:
                        log.warning("background renewal failed: %s", type(exc).__name__)
                        await anyio.sleep(1.0)
        finally:
            self._task_done.set()

    async def stop_task(self) -> None:
        """Cancel the renewal task and wait until it has ended."""
        done = self._task_done
        if done is None:
            return
        self._stopping = True  # for a task that has not started yet, and so has no scope
        if self._scope is not None:
            self._scope.cancel()
        await done.wait()
        self._task_done = self._scope = self._asyncio_task = None
