"""uvicorn's h11 protocol as ``serve --http h11`` runs it (a module of its own, so that a worker
on httptools never imports h11)."""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.h11_impl import H11Protocol

from ._serve import _accepted


class H11NoDelayProtocol(H11Protocol):
    """uvicorn's h11 protocol with ``TCP_NODELAY`` and coalesced writes on every accepted
    connection."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Set ``TCP_NODELAY``, then start the HTTP connection over a coalescing transport."""
        super().connection_made(_accepted(transport))
