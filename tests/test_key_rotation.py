"""Signing-key rotation: a key stays in the realm's JWKS until every token it signed has expired,
however often keys rotate (on SQLite and PostgreSQL)."""

from __future__ import annotations

import time

import jwt

from .conftest import Service, eventually


def _cc(service: Service, secret: str) -> str:
    response = service.http.post(
        service.token_url("acme"),
        data={"grant_type": "client_credentials", "client_id": "svc", "client_secret": secret},
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def _kids(service: Service) -> set[str]:
    return {k["kid"] for k in service.jwks("acme")["keys"]}


def _active(service: Service, secret: str, token: str) -> bool:
    response = service.http.post(
        service.token_url("acme") + "/introspect",
        data={"token": token, "client_id": "svc", "client_secret": secret},
    )
    assert response.status_code == 200, response.text
    return bool(response.json()["active"])


def test_key_stays_published_through_two_rotations_until_its_tokens_expire(
    service: Service,
) -> None:
    """Guards item 17: after two rotations in a row, a token signed before them still verifies
    against the JWKS and at the service; the key leaves the JWKS only once the realm's longest
    access-token lifetime (here a client's 600 s override) has passed since it stopped signing."""
    service.admin(lambda a: a.create_realm("acme", access_token_ttl=300))
    new = service.admin(lambda a: a.create_client("acme", "svc", access_token_ttl=600))
    assert new.secret is not None
    token = _cc(service, new.secret)
    old_kid = jwt.get_unverified_header(token)["kid"]

    service.admin(lambda a: a.rotate_keys("acme"))
    service.admin(lambda a: a.rotate_keys("acme"))

    assert eventually(lambda: jwt.get_unverified_header(_cc(service, new.secret))["kid"] != old_kid)
    assert old_kid in _kids(service)
    assert _active(service, new.secret, token)
    service.clock.advance(301)  # past the realm's lifetime, not the client's
    time.sleep(0.3)  # a few poll intervals
    assert old_kid in _kids(service)
    service.clock.advance(600)  # past the client's lifetime and the verifiers' leeway
    assert eventually(lambda: old_kid not in _kids(service))
