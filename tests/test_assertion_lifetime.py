"""The longest private_key_jwt assertion lifetime is a realm setting whose default, an hour,
admits Authlib's ``PrivateKeyJWT`` as it comes (its assertions live 3600 s)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.jwk import RSAKey

from tokensmith.oauth import generate_key, jwt_claims, key_to_pem, public_jwk
from tokensmith.server import AdminError

from .cli_run import run_cli
from .conftest import Service


def _rsa_client(service: Service, realm: str) -> RSAKey:
    """A client ``signer`` of ``realm`` registered with an RSA public key (no kid, as a user
    who exports one key writes it); the private key as a user loads it for Authlib."""
    key = generate_key("RS256")
    jwk = public_jwk(key, kid="unused", alg="RS256")
    del jwk["kid"]
    service.admin(lambda a: a.create_client(realm, "signer", scopes="read", jwks={"keys": [jwk]}))
    return RSAKey.import_key(key_to_pem(key))


def _authlib_token(service: Service, realm: str, key: RSAKey, **claims: Any) -> dict[str, Any]:
    """Authlib's OAuth2Session with PrivateKeyJWT: defaults (RS256, an hour, aud = the token
    endpoint it posts to), unless ``claims`` override some."""
    auth = PrivateKeyJWT(claims=claims or None)
    with OAuth2Session("signer", key, token_endpoint_auth_method=auth) as session:
        token: dict[str, Any] = session.fetch_token(
            service.token_url(realm), grant_type="client_credentials"
        )
        return token


def test_authlib_private_key_jwt_with_its_defaults(service: Service) -> None:
    """Authlib's PrivateKeyJWT, unchanged (one-hour assertions), gets a token from a realm
    that leaves the longest assertion lifetime at its default."""
    service.admin(lambda a: a.create_realm("r1"))
    key = _rsa_client(service, "r1")

    token = _authlib_token(service, "r1", key)

    assert jwt_claims(token["access_token"])["client_id"] == "signer"  # type: ignore[index]


def test_an_assertion_longer_than_the_default_is_refused(service: Service) -> None:
    """An assertion living two hours is invalid_client by default, naming the realm's longest."""
    service.admin(lambda a: a.create_realm("r1"))
    key = _rsa_client(service, "r1")

    with pytest.raises(OAuthError) as refused:
        _authlib_token(service, "r1", key, exp=int(time.time()) + 7200)

    assert refused.value.error == "invalid_client"
    assert refused.value.description == (
        "the client assertion lives longer than 3600 s, this realm's longest"
    )


def test_a_realm_may_shorten_the_longest_assertion_lifetime(service: Service) -> None:
    """A realm created with a 600 s longest lifetime refuses Authlib's default assertions and
    accepts ten-minute ones."""
    service.admin(lambda a: a.create_realm("r1", max_assertion_lifetime=600))
    key = _rsa_client(service, "r1")

    with pytest.raises(OAuthError) as refused:
        _authlib_token(service, "r1", key)
    token = _authlib_token(service, "r1", key, exp=int(time.time()) + 600)

    assert refused.value.error == "invalid_client"
    assert "longer than 600 s" in str(refused.value.description)
    assert "access_token" in token


def test_a_realm_may_lengthen_the_longest_assertion_lifetime(service: Service) -> None:
    """A realm created with a two-hour longest lifetime accepts two-hour assertions."""
    service.admin(lambda a: a.create_realm("r1", max_assertion_lifetime=7200))
    key = _rsa_client(service, "r1")

    token = _authlib_token(service, "r1", key, exp=int(time.time()) + 7200)

    assert "access_token" in token


@pytest.mark.parametrize("seconds", [59, 24 * 3600 + 1])
def test_the_longest_assertion_lifetime_is_bounded(service: Service, seconds: int) -> None:
    """Under a minute (openid-client's assertions live 60 s) or over a day is refused."""
    with pytest.raises(AdminError, match="between 60 and 86400 seconds"):
        service.admin(lambda a: a.create_realm("r1", max_assertion_lifetime=seconds))


def test_cli_sets_and_shows_the_longest_assertion_lifetime(tmp_path: Path) -> None:
    """`realm create --max-assertion-lifetime` stores it and `realm show` prints it."""
    database = f"sqlite:///{tmp_path / 'ts.db'}"

    def cli(*args: str) -> str:
        done = run_cli(*args, "--database", database, cwd=tmp_path, env=dict(os.environ))
        assert done.returncode == 0, done.stderr
        return done.stdout

    cli("db", "upgrade")
    cli("realm", "create", "short", "--max-assertion-lifetime", "10m")
    cli("realm", "create", "plain")

    assert "assertion life:    600s\n" in cli("realm", "show", "short")
    assert "assertion life:    3600s (service default)" in cli("realm", "show", "plain")
