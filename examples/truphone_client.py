"""Truphone / 1GLOBAL Connect: a client whose token renews itself (sync and async).

make run                  # or point TRUPHONE_URL at the real service
export TRUPHONE_CLIENT_SECRET=xxxxxx-xxxx-43f3-9fba-85686d72c1c0
.venv/bin/python examples/truphone_client.py
"""

from __future__ import annotations

import asyncio
import os

import httpx

from tokensmith.client import secret_from_env, truphone

BASE = os.environ.get("TRUPHONE_URL", "http://127.0.0.1:8080")
tokens = truphone("truphone", secret_from_env("TRUPHONE_CLIENT_SECRET"), base_url=BASE)

# Sync: every request carries a valid token; renewal (refresh token first) happens by itself.
with httpx.Client(auth=tokens, base_url=BASE) as api:
    print(
        "realm metadata:", api.get("/realms/tru-staff/.well-known/openid-configuration").status_code
    )
print("token", tokens.token())


# Async: the same source; nothing blocks the event loop.
async def main() -> None:
    async with httpx.AsyncClient(auth=tokens, base_url=BASE) as api:
        response = await api.get("/realms/tru-staff/protocol/openid-connect/certs")
        print("keys:", len(response.json()["keys"]))


asyncio.run(main())
tokens.close()
