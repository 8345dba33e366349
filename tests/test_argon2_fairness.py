"""argon2 checks are admitted fairly (issue 8 item 13): one at a time per client, the answer
shared by requests that present the same secret, other guesses refused instead of queued, so a
flood against one client leaves the pool to the others."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tokensmith.oauth import SlowDown
from tokensmith.server import TokensmithApp
from tokensmith.server._secrets import SecretChecker
from tokensmith.store import StoredSecret

from .conftest import ServerThread, Service, make_settings, run_admin
from .test_auth_rate_limits import token


class GatedChecker(SecretChecker):
    """A checker whose argon2 checks of the ``gated`` digests wait until ``gate`` is set."""

    def __init__(self) -> None:
        super().__init__(max_concurrent_hashes=2, busy_delay=0)
        self.gate = threading.Event()
        self.gated: set[str] = set()
        self.hashes = 0

    def _verify_sync(self, digest: str, presented: str) -> bool:
        self.hashes += 1
        if digest in self.gated:
            self.gate.wait(10)
        return super()._verify_sync(digest, presented)


def stored(checker: SecretChecker, secret_id: int, secret: str) -> list[StoredSecret]:
    return [StoredSecret(secret_id, checker.digest_chosen(secret), 0, None)]


async def test_a_flood_on_one_client_leaves_the_pool_to_another() -> None:
    """While guesses against client A hold its argon2 check, further guesses for A are refused
    at once with slow_down and client B's first check runs without waiting for A's."""
    checker = GatedChecker()
    a = stored(checker, 1, "correct horse battery")
    b = stored(checker, 2, "staple of another client")
    checker.gated.add(a[0].digest)
    now = time.time()

    try:
        guesses = [
            asyncio.ensure_future(checker.check(f"guess {i}", a, now, owner="A")) for i in range(10)
        ]
        await asyncio.sleep(0.05)
        refused = [g for g in guesses if g.done() and isinstance(g.exception(), SlowDown)]
        b_ok = await asyncio.wait_for(
            checker.check("staple of another client", b, now, owner="B"), 5
        )
    finally:
        checker.gate.set()
    results = await asyncio.gather(*guesses, return_exceptions=True)

    assert len(refused) == 9
    assert b_ok is True
    assert [r for r in results if not isinstance(r, SlowDown)] == [False]


async def test_requests_presenting_the_same_secret_share_one_hash() -> None:
    """Several processes of one client starting together present the same secret: one argon2
    check runs and all of them get its answer."""
    checker = GatedChecker()
    a = stored(checker, 1, "correct horse battery")
    checker.gated.add(a[0].digest)
    now = time.time()
    hashes_before = checker.hashes

    try:
        checks = [
            asyncio.ensure_future(checker.check("correct horse battery", a, now, owner="A"))
            for _ in range(5)
        ]
        await asyncio.sleep(0.05)
    finally:
        checker.gate.set()
    results = await asyncio.gather(*checks)

    assert results == [True] * 5
    assert checker.hashes - hashes_before == 1


async def test_a_cancelled_request_does_not_cancel_the_check_others_await() -> None:
    """The first requester going away (client disconnect) leaves the shared check running."""
    checker = GatedChecker()
    a = stored(checker, 1, "correct horse battery")
    checker.gated.add(a[0].digest)
    now = time.time()

    first = asyncio.ensure_future(checker.check("correct horse battery", a, now, owner="A"))
    await asyncio.sleep(0.02)
    second = asyncio.ensure_future(checker.check("correct horse battery", a, now, owner="A"))
    await asyncio.sleep(0.02)
    first.cancel()
    checker.gate.set()

    assert await asyncio.wait_for(second, 5) is True
    with pytest.raises(asyncio.CancelledError):
        await first


def test_concurrent_guesses_for_one_client_get_slow_down_over_http(
    sqlite_service: Service,
) -> None:
    """Concurrent wrong guesses at one person-chosen secret are answered 429 slow_down instead
    of queueing behind each other; a client of another realm still authenticates."""
    service = sqlite_service
    for realm, client, secret in (("r1", "a", "correct horse a"), ("r2", "b", "correct horse b")):
        service.admin(lambda adm, realm=realm: adm.create_realm(realm))
        service.admin(
            lambda adm, realm=realm, client=client, secret=secret: adm.create_client(
                realm, client, secret=secret
            )
        )
    barrier = threading.Barrier(8)

    def guess(i: int) -> tuple[int, str]:
        barrier.wait()
        response = service.http.post(
            service.token_url("r1"),
            data={"grant_type": "client_credentials", "client_id": "a", "client_secret": f"x{i}"},
        )
        return response.status_code, response.json()["error"]

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(guess, range(8)))
    other = service.http.post(
        service.token_url("r2"),
        data={
            "grant_type": "client_credentials",
            "client_id": "b",
            "client_secret": "correct horse b",
        },
    )

    assert (429, "slow_down") in answers
    assert (401, "invalid_client") in answers
    assert set(answers) <= {(429, "slow_down"), (401, "invalid_client")}
    assert other.status_code == 200


def test_guesses_cannot_lock_the_client_out_from_a_clean_address(sqlite_url: str) -> None:
    """While a guess at client svc's person-chosen secret is being checked, svc itself, from an
    address that never failed for it, waits its turn and gets its token; a further guess from
    the address that already failed is refused with slow_down."""
    settings = make_settings(sqlite_url)
    run_admin(settings, lambda a: a.create_realm("r1"))
    run_admin(settings, lambda a: a.create_client("r1", "svc", secret="correct horse svc"))
    app = TokensmithApp(settings)
    checker = GatedChecker()
    app.checker = checker
    with ServerThread(app) as server, ThreadPoolExecutor(3) as pool:
        first = token(server.url, "r1", "guess 1", source="127.0.0.3")
        checker.gated.update(s.digest for s in app.registry._states["r1"].clients["svc"].secrets)  # type: ignore[union-attr]
        guess = pool.submit(token, server.url, "r1", "guess 2", source="127.0.0.3")
        time.sleep(0.2)  # the guess now holds svc's argon2 check
        own = pool.submit(token, server.url, "r1", "correct horse svc", source="127.0.0.2")
        again = pool.submit(token, server.url, "r1", "guess 3", source="127.0.0.3")
        time.sleep(0.2)
        checker.gate.set()
        answers = (guess.result(10), own.result(10), again.result(10))

    assert first.status_code == 401
    assert answers[0].status_code == 401
    assert answers[1].status_code == 200, answers[1].text
    assert answers[2].status_code == 429
    assert answers[2].json()["error"] == "slow_down"
