"""uvicorn's httptools protocol as ``serve`` runs it by default where httptools is installed (a
module of its own, so that a worker on h11 never imports httptools)."""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ._serve import _accepted


class HttpToolsNoDelayProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with ``TCP_NODELAY`` and coalesced writes on every accepted
    connection."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Set ``TCP_NODELAY``, then start the HTTP connection over a coalescing transport."""
        super().connection_made(_accepted(transport))
