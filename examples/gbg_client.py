"""GBG: trade your SSO provider's id_token for a GBG access token (the id_auth grant).

The supplier is called before each renewal, so the GBG token renews with a fresh id_token.

    export GBG_CLIENT_ID=ro.client GBG_CLIENT_SECRET=secret   # the demo's; use yours
    GBG_URL=https://api.gbgplc.com .venv/bin/python examples/gbg_client.py
"""

from __future__ import annotations

import asyncio
import os

import httpx

from tokensmith.client import gbg, secret_from_env

BASE = os.environ.get("GBG_URL", "http://127.0.0.1:8080")


async def fresh_id_token() -> str:
    """Ask your SSO provider for an id_token (here: read from the environment)."""
    return os.environ["SSO_ID_TOKEN"]


async def main() -> None:
    tokens = gbg(
        fresh_id_token,
        client_id=os.environ["GBG_CLIENT_ID"],
        client_secret=secret_from_env("GBG_CLIENT_SECRET"),
        base_url=BASE,
    )
    async with tokens, httpx.AsyncClient(auth=tokens) as api:
        response = await api.get(f"{BASE}/health")
        print(response.status_code, await tokens.atoken())


asyncio.run(main())
