"""Running the service under uvicorn: the one module that knows uvicorn."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import uvicorn

from ..store import Database
from ._admin import Admin
from ._app import TokensmithApp
from ._demo import demo_instructions, ensure_demo
from ._keys import MasterKey
from ._settings import Settings


def app_from_env() -> TokensmithApp:
    """The application configured from ``TOKENSMITH_*`` (the factory each worker process calls)."""
    return TokensmithApp(Settings.from_env())


async def prepare(settings: Settings, *, demo: bool) -> None:
    """Migrate the database, create the master key file if needed and, in demo mode, the demo
    realms; done once before workers start so that they never race on it."""
    db = Database(settings.database_url)
    try:
        await db.migrate()
        master = MasterKey.load(settings.master_key, settings.key_file())
        if demo:
            await ensure_demo(Admin(db, master))
    finally:
        await db.close()


def serve(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    demo: bool = False,
    access_log: bool = False,
    log_level: str = "info",
) -> None:
    """Prepare the database and serve until interrupted."""
    asyncio.run(prepare(settings, demo=demo))
    if demo:
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
        print(demo_instructions(settings.public_url or f"http://{shown}:{port}"), flush=True)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "access_log": access_log,
        "log_level": log_level,
        "server_header": False,
        "lifespan": "on",
    }
    if workers > 1:
        os.environ.update(settings.to_env())
        uvicorn.run(
            "tokensmith.server._serve:app_from_env", factory=True, workers=workers, **options
        )
    else:
        uvicorn.run(TokensmithApp(settings), **options)
