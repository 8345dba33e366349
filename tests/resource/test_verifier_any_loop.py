"""The Verifier on any loop anyio runs (asyncio and trio), with one JWKS fetch shared by the
threads and tasks that need it at the same time."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import anyio
import anyio.to_thread
import pytest
from joserfc import jws
from joserfc.jwk import ECKey

from tokensmith.core import Verifier, VerifierUnavailable
from tokensmith.oauth import InvalidToken

BACKENDS = ["asyncio", "trio"]
KEY = ECKey.generate_key("P-256", parameters={"kid": "k1"})


class Issuer:
    """A JWKS at ``/jwks`` (answered after ``delay``) and an introspection endpoint that calls
    every token inactive, on 127.0.0.1; counts the requests."""

    def __init__(self, delay: float) -> None:
        self.jwks_fetches = 0
        self.introspections = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                issuer.jwks_fetches += 1
                time.sleep(delay)
                self._json({"keys": [KEY.as_dict(private=False)]})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                assert "token" in dict(parse_qsl(self.rfile.read(length).decode()))
                issuer.introspections += 1
                self._json({"active": False})

            def _json(self, document: object) -> None:
                data = json.dumps(document).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        ).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slow_issuer() -> Iterator[Issuer]:
    """An issuer whose JWKS takes 0.3 s to answer."""
    issuer = Issuer(delay=0.3)
    yield issuer
    issuer.close()


def token() -> str:
    now = int(time.time())
    claims = {"sub": "svc", "iat": now, "exp": now + 300, "jti": "j1"}
    header = {"alg": "ES256", "typ": "at+jwt", "kid": "k1"}
    return jws.serialize_compact(header, json.dumps(claims).encode(), KEY)


@pytest.mark.parametrize("backend", BACKENDS)
def test_100_tasks_share_one_jwks_fetch(slow_issuer: Issuer, backend: str) -> None:
    """100 tasks verifying while no keys are known make one JWKS request and all succeed."""
    verifier = Verifier(jwks_url=slow_issuer.url + "/jwks")
    jwt = token()
    subjects: list[str] = []

    async def main() -> None:
        async def check() -> None:
            subjects.append((await verifier.averify(jwt))["sub"])

        async with anyio.create_task_group() as tasks:
            for _ in range(100):
                tasks.start_soon(check)
        await verifier.aclose()

    anyio.run(main, backend=backend)

    assert subjects == ["svc"] * 100
    assert slow_issuer.jwks_fetches == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_thread_and_a_task_share_one_jwks_fetch(slow_issuer: Issuer, backend: str) -> None:
    """A thread and a task verifying at the same instant make one JWKS request between them."""
    verifier = Verifier(jwks_url=slow_issuer.url + "/jwks")
    jwt = token()

    async def main() -> list[str]:
        found: list[str] = []

        async def in_task() -> None:
            found.append((await verifier.averify(jwt))["sub"])

        async def in_thread() -> None:
            found.append((await anyio.to_thread.run_sync(verifier.verify, jwt))["sub"])

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(in_thread)
            tasks.start_soon(in_task)
        await verifier.aclose()
        return found

    assert anyio.run(main, backend=backend) == ["svc", "svc"]
    assert slow_issuer.jwks_fetches == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_unreachable_keys_are_every_waiters_error(backend: str) -> None:
    """When the JWKS cannot be fetched, every task waiting on that fetch gets
    VerifierUnavailable, not a misleading 'unknown key'."""
    issuer = Issuer(delay=0.0)
    url = issuer.url + "/jwks"
    issuer.close()  # nothing listens there any more
    verifier = Verifier(jwks_url=url)
    jwt = token()
    errors: list[type[BaseException]] = []

    async def main() -> None:
        async def check() -> None:
            try:
                await verifier.averify(jwt)
            except Exception as exc:
                errors.append(type(exc))

        async with anyio.create_task_group() as tasks:
            for _ in range(20):
                tasks.start_soon(check)
        await verifier.aclose()

    anyio.run(main, backend=backend)

    assert errors == [VerifierUnavailable] * 20


@pytest.mark.parametrize("backend", BACKENDS)
def test_introspection_refuses_an_inactive_token(backend: str) -> None:
    """With introspection, a well-signed token the service calls inactive is refused, and the
    answer is cached: the second check asks no one."""
    from tokensmith.core import Introspection

    issuer = Issuer(delay=0.0)
    verifier = Verifier(
        jwks_url=issuer.url + "/jwks",
        introspection=Introspection(issuer.url + "/introspect", "api", "api-secret"),
    )
    jwt = token()

    async def main() -> list[str]:
        refusals = []
        for _ in range(2):
            try:
                await verifier.averify(jwt)
            except InvalidToken as exc:
                refusals.append(exc.description)
        await verifier.aclose()
        return refusals

    refusals = anyio.run(main, backend=backend)
    issuer.close()

    assert refusals == ["the token is not active (revoked or expired)"] * 2
    assert issuer.introspections == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_cancelled_fetch_leaves_the_keys_to_the_next_caller(
    slow_issuer: Issuer, backend: str
) -> None:
    """When the task leading the first JWKS fetch is cancelled, the tasks waiting for it fetch
    the keys themselves and succeed, instead of failing for the next second."""
    verifier = Verifier(jwks_url=slow_issuer.url + "/jwks")
    jwt = token()
    subjects: list[str] = []

    async def lead(cancelled: anyio.CancelScope) -> None:
        with cancelled:
            await verifier.averify(jwt)

    async def check() -> None:
        subjects.append((await verifier.averify(jwt))["sub"])

    async def main() -> None:
        cancelled = anyio.CancelScope()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(lead, cancelled)
            await anyio.sleep(0.05)  # the leader's request is on its way (the JWKS takes 0.3 s)
            for _ in range(3):
                tasks.start_soon(check)
            await anyio.sleep(0.05)
            cancelled.cancel()
        await check()
        await verifier.aclose()

    anyio.run(main, backend=backend)

    assert subjects == ["svc"] * 4
