"""HTTP clients for async callers on any number of event loops."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable

import anyio
import anyio.to_thread
import httpx

from ..oauth import ConfigurationError


def current_loop() -> object:
    """The running event loop (asyncio) or run (trio), as a key."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:  # not asyncio: anyio's other backend
        import trio

        return trio.lowlevel.current_trio_token()


class AsyncClients:
    """One ``httpx.AsyncClient`` per event loop, since a client's connections belong to the loop
    that opened them; each is made in a worker thread, because making one loads the CA bundle
    (about 80 ms that would stall the loop). A client the caller ``given`` is used on the loop
    it is first used on, and refused on any other.
    """

    def __init__(
        self, make: Callable[[], httpx.AsyncClient], given: httpx.AsyncClient | None = None
    ) -> None:
        self._make = make
        self._given = given
        self._given_loop: weakref.ref[object] | None = None
        self._made: weakref.WeakKeyDictionary[object, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )

    async def get(self) -> httpx.AsyncClient:
        """The client for the running loop.

        Raises:
            ConfigurationError: the given client is used on a second loop.
        """
        loop = current_loop()
        if self._given is not None:
            if self._given_loop is None:
                self._given_loop = weakref.ref(loop)
            elif self._given_loop() is not loop:
                raise ConfigurationError(
                    "the httpx.AsyncClient given belongs to the event loop it was first used on; "
                    "on another loop, use another source, or let this one make its clients"
                )
            return self._given
        client = self._made.get(loop)
        if client is None:
            made = await anyio.to_thread.run_sync(self._make, limiter=anyio.CapacityLimiter(1))
            client = self._made.setdefault(loop, made)
            if client is not made:  # another task of this loop made one meanwhile
                await made.aclose()
        return client

    async def aclose(self) -> None:
        """Close the client made for the running loop; those of other loops are dropped (they
        can only be closed on their own loop, which may have ended)."""
        client = self._made.pop(current_loop(), None)
        self._made.clear()
        if client is not None:
            await client.aclose()
