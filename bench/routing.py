"""Routing cost on the token path: our route table (``server/_routes.py``) against an equivalent
Starlette ``Router``, measured in one run (issue 9 item 3).

Both route the same paths to the same no-op ASGI endpoints: the token endpoint with and without
the legacy ``/auth`` prefix, a token-path alias, the JWKS, discovery, and a 404. Ours is what
``TokensmithApp._route`` does (``routes.match``, then ``/health``, then the alias map, then the
method check); Starlette's is a ``Router`` of ``Route`` objects for the same table (the
unprefixed endpoints, then the ``/auth`` copies, RFC 8414 metadata, ``/health`` and the aliases,
``redirect_slashes=False`` as we do not redirect), whose ``default`` is the 404 endpoint. Rounds
alternate between the two; each figure is the median over rounds of the mean time per request,
in total and net of the harness (an app that calls the token endpoint without routing: the
scope copy, the awaits and the endpoint call every request pays either way).

    python bench/routing.py [--calls 20000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.routing import Route, Router

from tokensmith.server import _routes as routes

Scope = dict[str, Any]
ASGI = Callable[[Scope, Any, Any], Awaitable[None]]

ALIASES = {"/connect/token": "trulioo", "/authenticate/v1/connect/token": "gbg"}
PATHS = {
    "token": ("POST", "/realms/acme/protocol/openid-connect/token"),
    "token /auth": ("POST", "/auth/realms/acme/protocol/openid-connect/token"),
    "token alias": ("POST", "/connect/token"),
    "certs": ("GET", "/realms/acme/protocol/openid-connect/certs"),
    "discovery": ("GET", "/realms/acme/.well-known/openid-configuration"),
    "404": ("GET", "/realms/acme/protocol/openid-connect/userinfo"),
}


class Endpoint:
    """A no-op ASGI endpoint that notes what it was asked for (name, realm)."""

    def __init__(self, name: str, seen: list[tuple[str, str | None]]) -> None:
        self.name, self.seen = name, seen

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        self.seen.append((self.name, scope.get("path_params", {}).get("realm")))

    async def handle(self, realm: str | None, scope: Scope, receive: Any, send: Any) -> None:
        self.seen.append((self.name, realm))


def our_table(seen: list[tuple[str, str | None]]) -> ASGI:
    """Our dispatch, as ``TokensmithApp._route`` does it, to no-op endpoints."""
    handlers = {
        e.name: Endpoint(e.name, seen).handle
        for e in (*routes.ENDPOINTS, routes.AUTHORIZATION_SERVER)
    }
    health, not_found, not_allowed = (Endpoint(n, seen) for n in ("health", "404", "405"))

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        path: str = scope["path"]
        found = routes.match(path)
        if found is None:
            if path == "/health":
                return await health(scope, receive, send)
            alias = ALIASES.get(path)  # Registry.realm_for_path when the alias is known
            if alias is None:
                return await not_found(scope, receive, send)
            found = routes.TOKEN, alias
        endpoint, realm = found
        if scope["method"] not in endpoint.methods:
            return await not_allowed(scope, receive, send)
        await handlers[endpoint.name](realm, scope, receive, send)

    return app


def no_routing(seen: list[tuple[str, str | None]]) -> ASGI:
    """The harness alone: every request goes to the token endpoint without looking at it."""
    handle = Endpoint(routes.TOKEN.name, seen).handle

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await handle("acme", scope, receive, send)

    return app


def starlette_router(seen: list[tuple[str, str | None]]) -> ASGI:
    """The same table as a Starlette ``Router``."""
    table: list[Route] = []
    for prefix in ("", routes.LEGACY_PREFIX):
        for endpoint in routes.ENDPOINTS:
            path = f"{prefix}/realms/{{realm}}{endpoint.path}"
            table.append(Route(path, Endpoint(endpoint.name, seen), methods=list(endpoint.methods)))
        table.append(
            Route(
                f"{routes.RFC8414}{prefix}/realms/{{realm}}",
                Endpoint(routes.AUTHORIZATION_SERVER.name, seen),
                methods=list(routes.GET),
            )
        )
    table.append(Route("/health", Endpoint("health", seen), methods=["GET"]))
    for alias, realm in ALIASES.items():
        # A router cannot ask the registry: each alias is a route, rebuilt when aliases change.
        table.append(
            Route(alias, _Alias(realm, Endpoint(routes.TOKEN.name, seen)), methods=["POST"])
        )
    return Router(table, redirect_slashes=False, default=Endpoint("404", seen))


class _Alias:
    def __init__(self, realm: str, endpoint: Endpoint) -> None:
        self.realm, self.endpoint = realm, endpoint

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        await self.endpoint.handle(self.realm, scope, receive, send)


def scope_of(method: str, path: str) -> Scope:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [],
    }


async def ns_per_call(app: ASGI, method: str, path: str, calls: int) -> float:
    base = scope_of(method, path)
    start = time.perf_counter_ns()
    for _ in range(calls):
        await app(dict(base), None, None)  # a fresh scope, as a server gives each request
    return (time.perf_counter_ns() - start) / calls


async def run(calls: int, rounds: int) -> tuple[float, dict[str, dict[str, float]]]:
    ours_seen: list[tuple[str, str | None]] = []
    theirs_seen: list[tuple[str, str | None]] = []
    ours, theirs = our_table(ours_seen), starlette_router(theirs_seen)
    bare = no_routing(ours_seen)
    harness: list[float] = []
    for method, path in PATHS.values():  # both must route each path alike before timing
        await ours(scope_of(method, path), None, None)
        await theirs(scope_of(method, path), None, None)
    assert ours_seen == theirs_seen, (ours_seen, theirs_seen)
    samples: dict[str, dict[str, list[float]]] = {
        name: {"ours": [], "starlette": []} for name in PATHS
    }
    for _ in range(rounds):
        harness.append(await ns_per_call(bare, *PATHS["token"], calls))
        for name, (method, path) in PATHS.items():
            samples[name]["ours"].append(await ns_per_call(ours, method, path, calls))
            samples[name]["starlette"].append(await ns_per_call(theirs, method, path, calls))
            ours_seen.clear()
            theirs_seen.clear()
    return statistics.median(harness), {
        name: {who: statistics.median(values) for who, values in by.items()}
        for name, by in samples.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    harness, result = asyncio.run(run(args.calls, args.rounds))
    print(f"ns per routed request, median of {args.rounds} rounds of {args.calls} requests")
    print(f"(harness without routing: {harness:.0f} ns; 'net' subtracts it)")
    print(
        f"  {'path':<12} {'ours':>7} {'Starlette':>9} {'ratio':>6}"
        f" {'ours net':>9} {'Starlette net':>13} {'ratio':>6}"
    )
    for name, figures in result.items():
        ours, theirs = figures["ours"], figures["starlette"]
        net_ours, net_theirs = max(ours - harness, 1.0), theirs - harness
        print(
            f"  {name:<12} {ours:7.0f} {theirs:9.0f} {theirs / ours:6.2f}"
            f" {net_ours:9.0f} {net_theirs:13.0f} {net_theirs / net_ours:6.2f}"
        )
    figures_json = {name: {k: round(v) for k, v in f.items()} for name, f in result.items()}
    print(json.dumps({"harness": round(harness), **figures_json}))


if __name__ == "__main__":
    main()
