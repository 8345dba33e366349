"""What the service answers for its own faults: RFC 6749's server_error, never a traceback."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from tokensmith.server import Settings, TokensmithApp


async def test_a_fault_of_the_service_is_500_server_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A request the service cannot start up for (its master key is malformed) gets 500 with
    the body {"error":"server_error"}, and the fault is logged."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", master_key="short")
    app = TokensmithApp(settings)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/health", "headers": []}
    try:
        with caplog.at_level(logging.ERROR, logger="tokensmith.server"):
            await app(scope, receive, send)
    finally:
        await app.shutdown()

    assert sent[0]["status"] == 500
    assert json.loads(sent[1]["body"]) == {"error": "server_error"}
    assert sent[1]["body"] == b'{"error":"server_error"}'
    assert "unexpected error answering GET /health" in caplog.text
