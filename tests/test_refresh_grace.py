"""The refresh-token reuse grace period: a client whose refresh answer was lost may present the
same token again for a short while and get a new pair; a thief gains nothing from it (on SQLite
and PostgreSQL)."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from .cli_run import run_cli
from .conftest import Service


@pytest.fixture
def realm(service: Service) -> tuple[Service, str]:
    """Realm acme (grace 30 s) with refresh-token client svc; returns the service and secret."""
    service.admin(lambda a: a.create_realm("acme", refresh_reuse_grace=30))
    new = service.admin(lambda a: a.create_client("acme", "svc", refresh_tokens=True))
    assert new.secret is not None
    return service, new.secret


def _post(service: Service, data: dict[str, str]) -> httpx.Response:
    return service.http.post(service.token_url("acme"), data=data)


def _first_pair(service: Service, secret: str) -> dict[str, Any]:
    creds = {"grant_type": "client_credentials", "client_id": "svc", "client_secret": secret}
    body: dict[str, Any] = _post(service, creds).json()
    return body


def _refresh(service: Service, secret: str, token: str, client_id: str = "svc") -> httpx.Response:
    return _post(
        service,
        {
            "grant_type": "refresh_token",
            "refresh_token": token,
            "client_id": client_id,
            "client_secret": secret,
        },
    )


def test_retry_within_grace_gets_a_new_pair_and_the_family_lives(
    realm: tuple[Service, str],
) -> None:
    """Guards item 18: presenting the just-rotated token again within the grace period (its
    answer was lost) gives a valid new pair, and the family keeps working from it."""
    service, secret = realm
    r1 = _first_pair(service, secret)["refresh_token"]
    lost = _refresh(service, secret, r1)
    assert lost.status_code == 200
    service.clock.advance(10)

    retry = _refresh(service, secret, r1)

    assert retry.status_code == 200, retry.text
    r2 = retry.json()["refresh_token"]
    assert r2 != lost.json()["refresh_token"]
    assert _refresh(service, secret, r2).status_code == 200


def test_retry_revokes_the_answer_that_was_lost(realm: tuple[Service, str]) -> None:
    """Only the newest pair stays valid: the replacement the retry superseded is refused, and
    presenting it revokes the family (so a thief who retried first loses its pair too)."""
    service, secret = realm
    r1 = _first_pair(service, secret)["refresh_token"]
    superseded = _refresh(service, secret, r1).json()["refresh_token"]
    newest = _refresh(service, secret, r1).json()["refresh_token"]

    refused = _refresh(service, secret, superseded)

    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    assert _refresh(service, secret, newest).json()["error"] == "invalid_grant"


def test_reuse_after_grace_revokes_the_family(realm: tuple[Service, str]) -> None:
    """Past the grace period, presenting a used token revokes everything issued from it."""
    service, secret = realm
    r1 = _first_pair(service, secret)["refresh_token"]
    r2 = _refresh(service, secret, r1).json()["refresh_token"]
    service.clock.advance(31)

    reused = _refresh(service, secret, r1)

    assert reused.status_code == 400
    assert "already used" in reused.json()["error_description"]
    assert _refresh(service, secret, r2).json()["error"] == "invalid_grant"


def test_reuse_of_an_older_generation_revokes_the_family(realm: tuple[Service, str]) -> None:
    """Within the grace period, a token whose replacement was already used is not a retry: the
    family is revoked."""
    service, secret = realm
    r1 = _first_pair(service, secret)["refresh_token"]
    r2 = _refresh(service, secret, r1).json()["refresh_token"]
    r3 = _refresh(service, secret, r2).json()["refresh_token"]

    reused = _refresh(service, secret, r1)

    assert reused.json()["error"] == "invalid_grant"
    assert _refresh(service, secret, r3).json()["error"] == "invalid_grant"


def test_another_client_gets_nothing_within_grace(realm: tuple[Service, str]) -> None:
    """Within the grace period, another client presenting the used token is refused and the
    owner's family is untouched."""
    service, secret = realm
    other = service.admin(lambda a: a.create_client("acme", "other", refresh_tokens=True))
    assert other.secret is not None
    r1 = _first_pair(service, secret)["refresh_token"]
    r2 = _refresh(service, secret, r1).json()["refresh_token"]

    stolen = _refresh(service, other.secret, r1, client_id="other")

    assert stolen.json()["error"] == "invalid_grant"
    assert _refresh(service, secret, r2).status_code == 200


def test_grace_zero_turns_it_off(service: Service) -> None:
    """A realm created with grace 0 revokes the family at the first reuse, as before."""
    service.admin(lambda a: a.create_realm("acme", refresh_reuse_grace=0))
    new = service.admin(lambda a: a.create_client("acme", "svc", refresh_tokens=True))
    assert new.secret is not None
    r1 = _first_pair(service, new.secret)["refresh_token"]
    r2 = _refresh(service, new.secret, r1).json()["refresh_token"]

    assert _refresh(service, new.secret, r1).json()["error"] == "invalid_grant"
    assert _refresh(service, new.secret, r2).json()["error"] == "invalid_grant"


def test_cli_sets_and_shows_the_grace_period(tmp_path: Path) -> None:
    """`realm create --refresh-reuse-grace` stores it and `realm show` prints it."""
    database = f"sqlite:///{tmp_path / 'ts.db'}"

    def cli(*args: str) -> str:
        done = run_cli(*args, "--database", database, cwd=tmp_path, env=dict(os.environ))
        assert done.returncode == 0, done.stderr
        return done.stdout

    cli("db", "upgrade")
    cli("realm", "create", "short", "--refresh-reuse-grace", "5s")
    cli("realm", "create", "plain")

    assert "refresh grace:     5s\n" in cli("realm", "show", "short")
    assert "refresh grace:     30s (service default)" in cli("realm", "show", "plain")


def _active(service: Service, secret: str, token: str) -> bool:
    answer = service.http.post(
        f"{service.url}/realms/acme/protocol/openid-connect/token/introspect",
        data={"token": token, "client_id": "svc", "client_secret": secret},
    )
    return bool(answer.json()["active"])


def test_concurrent_retry_is_a_retry_not_a_reuse(realm: tuple[Service, str]) -> None:
    """Two requests presenting one refresh token at the same instant (a proxy retrying while
    the first is still being answered) are decided one after the other: both get a pair and
    the family lives, on PostgreSQL as on SQLite."""
    service, secret = realm
    for _ in range(5):
        token = _first_pair(service, secret)["refresh_token"]
        barrier = threading.Barrier(2)

        def send(token: str = token, barrier: threading.Barrier = barrier) -> httpx.Response:
            barrier.wait()
            return _refresh(service, secret, token)

        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda _: send(), range(2)))

        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        children = [a.json()["refresh_token"] for a in answers]
        live = [child for child in children if _active(service, secret, child)]
        assert len(live) == 1  # the pair answered last; the other was superseded
        assert _refresh(service, secret, live[0]).status_code == 200
