"""What DPoP (RFC 9449) costs, in-process, beside the plain requests of the same run:

- the token service: a client-credentials token request with a DPoP proof (checked, its jti put
  on the deny list, the token bound by ``cnf.jkt``) against the same request without one (a
  Bearer token); the application called directly, no network and no HTTP parser;
- a protected API: ``BearerAuthMiddleware`` over an empty endpoint, a DPoP-bound token with a
  fresh proof per request (signature, htm/htu, ath, ``cnf.jkt``, replay) against a Bearer token
  (both tokens verified once and then remembered, as in production);
- the client: making one proof (``ProofKey.proof``).

Proofs are made before the timing starts: the figures are the server's work only. Variants are
alternated round by round; medians are printed.

    python bench/dpop_cost.py [--requests 1000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tokensmith.oauth import ProofKey
from tokensmith.resource import BearerAuthMiddleware, Verifier
from tokensmith.server import Admin, Settings, TokensmithApp, open_master_key
from tokensmith.store import Database

HOST = "127.0.0.1:8080"
TOKEN_PATH = "/realms/es256/protocol/openid-connect/token"


async def setup(url: str) -> str:
    """Realm ``es256`` with client ``loadgen``; its secret."""
    db = Database(url)
    try:
        await db.migrate()
        admin = Admin(db, await open_master_key(db, None, Settings(database_url=url).key_file()))
        await admin.create_realm("es256")
        new = await admin.create_client("es256", "loadgen", scopes="api")
        assert new.secret is not None
        return new.secret
    finally:
        await db.close()


def scope_of(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "scheme": "http",
        "server": ("127.0.0.1", 8080),
        "client": ("127.0.0.1", 50000),
        "headers": [(b"host", HOST.encode()), *headers],
    }


class Caller:
    """Calls an ASGI app and keeps the statuses and the last body."""

    def __init__(self, app: Callable[..., Awaitable[None]], body: bytes = b"") -> None:
        self.app = app
        self.body = body
        self.statuses: set[int] = set()
        self.answer = b""

    async def receive(self) -> dict[str, Any]:
        return {"type": "http.request", "body": self.body, "more_body": False}

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.statuses.add(message["status"])
        elif message["type"] == "http.response.body":
            self.answer = message.get("body", b"")

    async def __call__(self, scope: dict[str, Any]) -> None:
        await self.app(scope, self.receive, self.send)


async def run(args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    url = f"sqlite:///{tmp / 'bench.db'}"
    secret = await setup(url)
    body = f"grant_type=client_credentials&client_id=loadgen&client_secret={secret}".encode()
    form = [(b"content-type", b"application/x-www-form-urlencoded")]
    app = TokensmithApp(Settings(database_url=url))
    await app.startup()
    token_caller = Caller(app, body)
    key = ProofKey()
    token_url = f"http://{HOST}{TOKEN_PATH}"

    def token_proofs(n: int) -> list[dict[str, Any]]:
        now = time.time()
        return [
            scope_of(
                "POST",
                TOKEN_PATH,
                [*form, (b"dpop", key.proof("POST", token_url, now=now).encode())],
            )
            for _ in range(n)
        ]

    plain_scope = scope_of("POST", TOKEN_PATH, form)
    await token_caller(plain_scope)
    bearer = token_caller.answer
    await token_caller(token_proofs(1)[0])
    bound = token_caller.answer

    import json

    bearer_token = json.loads(bearer)["access_token"]
    bound_token = json.loads(bound)["access_token"]
    verifier = Verifier(
        jwks=json.loads(await _jwks(app)), issuer=f"http://{HOST}/realms/es256", audience="es256"
    )

    async def empty(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    api = Caller(BearerAuthMiddleware(empty, verifier))
    api_url = f"http://{HOST}/things"
    bearer_api = scope_of("GET", "/things", [(b"authorization", f"Bearer {bearer_token}".encode())])

    def api_proofs(n: int) -> list[dict[str, Any]]:
        now = time.time()
        auth = (b"authorization", f"DPoP {bound_token}".encode())
        return [
            scope_of(
                "GET",
                "/things",
                [
                    auth,
                    (
                        b"dpop",
                        key.proof("GET", api_url, now=now, access_token=bound_token).encode(),
                    ),
                ],
            )
            for _ in range(n)
        ]

    samples: dict[str, list[float]] = {
        "token, Bearer": [],
        "token, DPoP-bound": [],
        "API, Bearer token": [],
        "API, DPoP token + proof": [],
        "client: make a proof": [],
    }
    n = args.requests
    try:
        for _ in range(args.rounds):
            scopes = token_proofs(n)
            samples["token, Bearer"].append(await _timed(token_caller, [plain_scope] * n))
            samples["token, DPoP-bound"].append(await _timed(token_caller, scopes))
            scopes = api_proofs(n)
            samples["API, Bearer token"].append(await _timed(api, [bearer_api] * n))
            samples["API, DPoP token + proof"].append(await _timed(api, scopes))
            start = time.perf_counter()
            now = time.time()
            for _ in range(n):
                key.proof("GET", api_url, now=now, access_token=bound_token)
            samples["client: make a proof"].append((time.perf_counter() - start) / n * 1e6)
    finally:
        await app.shutdown()
    if token_caller.statuses != {200} or api.statuses != {200}:
        raise SystemExit(f"unexpected statuses {token_caller.statuses} {api.statuses}")
    return {name: statistics.median(values) for name, values in samples.items()}


async def _jwks(app: TokensmithApp) -> bytes:
    caller = Caller(app)
    await caller(scope_of("GET", "/realms/es256/protocol/openid-connect/certs", []))
    return caller.answer


async def _timed(caller: Caller, scopes: list[dict[str, Any]]) -> float:
    start = time.perf_counter()
    for scope in scopes:
        await caller(scope)
    return (time.perf_counter() - start) / len(scopes) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tokensmith-bench-"))
    try:
        medians = asyncio.run(run(args, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"DPoP, ES256 proofs, in-process µs per request, median of {args.rounds} rounds:")
    for plain, dpop in (
        ("token, Bearer", "token, DPoP-bound"),
        ("API, Bearer token", "API, DPoP token + proof"),
    ):
        base, cost = medians[plain], medians[dpop]
        print(f"  {plain:<26} {base:7.1f} µs")
        print(f"  {dpop:<26} {cost:7.1f} µs   +{cost - base:6.1f} µs  {cost / base:.2f}x")
    print(f"  {'client: make a proof':<26} {medians['client: make a proof']:7.1f} µs")


if __name__ == "__main__":
    main()
