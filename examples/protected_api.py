"""A protected API in the seeds' `/connect-api/...` style, and a caller whose token renews itself.

Runs everything on 127.0.0.1 in one process: a tokensmith token service (realm `connect`, tokens
that live 4 seconds), a Starlette API behind `BearerAuthMiddleware`, and `tokensmith.client` on
the calling side. It shows a token working, the same token expiring into a 401, and the
self-renewing client working again.

    .venv/bin/python examples/protected_api.py
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
import threading
import time

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tokensmith.client import TokenSource
from tokensmith.resource import BearerAuthMiddleware, Verifier
from tokensmith.server import Admin, Settings, TokensmithApp, open_master_key
from tokensmith.store import Database


def serve(app: object) -> str:
    """Run an ASGI app on a free loopback port in a background thread; returns its URL."""
    # IPPROTO_TCP so that asyncio sets TCP_NODELAY on each connection (no delayed-ACK stalls).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))  # type: ignore[arg-type]
    threading.Thread(target=lambda: asyncio.run(server.serve([sock])), daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


async def setup(settings: Settings) -> str:
    db = Database(settings.database_url)
    await db.migrate()
    admin = Admin(db, await open_master_key(db, settings.master_key, settings.key_file()))
    await admin.create_realm("connect", access_token_ttl=4)
    new = await admin.create_client("connect", "caller", scopes="esim.read")
    await db.close()
    assert new.secret is not None
    return new.secret


async def subscriptions(request: Request) -> JSONResponse:
    claims = request.state.claims
    return JSONResponse({"client": claims["client_id"], "subscriptions": ["eSIM-1", "eSIM-2"]})


def main() -> None:
    settings = Settings(database_url=f"sqlite:///{tempfile.mkdtemp()}/demo.db")
    secret = asyncio.run(setup(settings))
    auth_url = serve(TokensmithApp(settings))
    verifier = Verifier(issuer=f"{auth_url}/realms/connect", audience="connect", leeway=0)
    api = Starlette(routes=[Route("/connect-api/subscriptions", subscriptions)])
    api_url = serve(BearerAuthMiddleware(api, verifier, realm="connect-api"))
    endpoint = f"{api_url}/connect-api/subscriptions"

    tokens = TokenSource(
        f"{auth_url}/realms/connect/protocol/openid-connect/token",
        client_id="caller",
        client_secret=secret,
    )
    first = tokens.token()
    plain = httpx.get(endpoint, headers={"Authorization": first.authorization})
    print("1. with a fresh token:", plain.status_code, plain.json())

    time.sleep(first.lifetime + 0.5)
    stale = httpx.get(endpoint, headers={"Authorization": first.authorization})
    print("2. the same token later:", stale.status_code, stale.headers["www-authenticate"])

    with httpx.Client(auth=tokens) as client:
        renewed = client.get(endpoint)
    print("3. with the self-renewing client:", renewed.status_code, renewed.json())
    print("   fetches:", tokens.stats.fetches)
    tokens.close()


if __name__ == "__main__":
    main()
