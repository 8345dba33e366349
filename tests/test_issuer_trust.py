"""The issuer is configured, never taken from an arbitrary Host: one issuer per realm whichever
path form a request used, and client assertions may only name this service's own URLs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tokensmith.oauth import InvalidToken, Signer, generate_key, jwt_claims, key_id, public_jwk
from tokensmith.resource import Verifier
from tokensmith.server import TokensmithApp

from .conftest import ServerThread, Service, make_settings, run_admin

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN = "/protocol/openid-connect/token"


def with_keyed_client(service: Service) -> Any:
    """Realm r1 with client 'signer' (private_key_jwt) and client 'svc' (secret); the key."""
    key = generate_key("ES256")
    service.admin(lambda a: a.create_realm("r1"))
    jwks = {"keys": [public_jwk(key, kid=key_id(key), alg="ES256")]}
    service.admin(lambda a: a.create_client("r1", "signer", jwks=jwks))
    return key


def assertion(key: Any, audience: str) -> str:
    now = int(time.time())
    claims = {
        "iss": "signer",
        "sub": "signer",
        "aud": audience,
        "iat": now,
        "exp": now + 60,
        "jti": f"j-{time.monotonic_ns()}",
    }
    return Signer(key, kid=key_id(key), alg="ES256", typ="JWT").sign(claims)


def post_assertion(service: Service, signed: str, host: str | None = None) -> httpx.Response:
    headers = {"host": host} if host else {}
    return service.http.post(
        service.token_url("r1"),
        headers=headers,
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": signed,
        },
    )


@pytest.fixture
def public_service(sqlite_url: str) -> Iterator[Service]:
    """The service with --public-url https://auth.example.com."""
    from .conftest import FrozenClock

    settings = make_settings(sqlite_url, public_url="https://auth.example.com")
    clock = FrozenClock()
    app = TokensmithApp(settings, clock=clock)
    with ServerThread(app) as server, httpx.Client(timeout=10) as http:
        yield Service(server.url, settings, clock, http, app)


def test_unknown_host_is_refused_without_public_url(sqlite_service: Service) -> None:
    """Without --public-url, a request naming a Host that is not allowed gets 400, so an
    assertion made for another server (aud on evil.example) is never accepted here."""
    service = sqlite_service
    key = with_keyed_client(service)
    evil = f"http://evil.example/realms/r1{TOKEN}"

    replayed = post_assertion(service, assertion(key, evil), host="evil.example")
    discovery = service.http.get(
        f"{service.url}/realms/r1/.well-known/openid-configuration",
        headers={"host": "evil.example"},
    )
    own = post_assertion(service, assertion(key, service.token_url("r1")))

    assert replayed.status_code == 400
    assert replayed.json()["error"] == "invalid_request"
    assert "evil.example" in replayed.json()["error_description"]
    assert discovery.status_code == 400
    assert own.status_code == 200, own.text


def test_public_url_fixes_issuer_and_assertion_audiences(public_service: Service) -> None:
    """With --public-url, Host is ignored: the issuer is the public URL's, and an assertion
    naming another host's token endpoint is refused even when the request names that host."""
    service = public_service
    key = with_keyed_client(service)
    public_token_url = f"https://auth.example.com/realms/r1{TOKEN}"

    replayed = post_assertion(
        service, assertion(key, f"http://evil.example/realms/r1{TOKEN}"), host="evil.example"
    )
    good = post_assertion(service, assertion(key, public_token_url), host="evil.example")
    discovery = service.http.get(
        f"{service.url}/auth/realms/r1/.well-known/openid-configuration",
        headers={"host": "evil.example"},
    )

    assert replayed.status_code == 401
    assert "aud" in replayed.json()["error_description"]
    assert good.status_code == 200, good.text
    assert jwt_claims(good.json()["access_token"])["iss"] == "https://auth.example.com/realms/r1"  # type: ignore[index]
    assert discovery.json()["issuer"] == "https://auth.example.com/realms/r1"
    assert discovery.json()["token_endpoint"] == public_token_url
    assert "vary" not in discovery.headers


def test_allowed_host_sets_the_issuer(sqlite_url: str) -> None:
    """--allowed-host admits exactly the hosts named; discovery then varies by Host."""
    settings = make_settings(sqlite_url, allowed_hosts=("Auth.Internal:8443",))
    run_admin(settings, lambda a: a.create_realm("r1"))
    url = "/realms/r1/.well-known/openid-configuration"
    with ServerThread(TokensmithApp(settings)) as server:
        allowed = httpx.get(server.url + url, headers={"host": "auth.internal:8443"})
        loopback = httpx.get(server.url + url)

    assert allowed.json()["issuer"] == "http://auth.internal:8443/realms/r1"
    assert allowed.headers["vary"] == "Host"
    assert loopback.status_code == 400  # once hosts are configured, only those


def test_one_issuer_for_both_path_forms(sqlite_service: Service) -> None:
    """Tokens and discovery through /auth/realms/… and /realms/… name the same issuer, so a
    Verifier pinned to it accepts tokens fetched through either."""
    service = sqlite_service
    service.admin(lambda a: a.create_realm("r1"))
    secret = service.admin(lambda a: a.create_client("r1", "svc")).secret
    form = {"grant_type": "client_credentials", "client_id": "svc", "client_secret": secret}
    issuers = set()
    tokens = []
    for prefix in ("", "/auth"):
        meta = service.http.get(f"{service.url}{prefix}/realms/r1/.well-known/openid-configuration")
        issuers.add(meta.json()["issuer"])
        token = service.http.post(service.token_url("r1", prefix), data=form).json()
        tokens.append(token["access_token"])
        issuers.add(jwt_claims(token["access_token"])["iss"])  # type: ignore[index]
    verifier = Verifier(issuer=issuers.pop(), audience="r1")

    assert issuers == set()
    for token in tokens:
        assert verifier.verify(token)["client_id"] == "svc"
    verifier.close()


def test_issuer_mismatch_names_both_issuers(sqlite_service: Service) -> None:
    """A Verifier pinned to another issuer says which issuer it expected and which it got."""
    service = sqlite_service
    service.admin(lambda a: a.create_realm("r1"))
    secret = service.admin(lambda a: a.create_client("r1", "svc")).secret
    token = service.http.post(
        service.token_url("r1"),
        data={"grant_type": "client_credentials", "client_id": "svc", "client_secret": secret},
    ).json()["access_token"]
    verifier = Verifier(issuer="https://elsewhere.example/realms/r1", jwks=service.jwks("r1"))

    with pytest.raises(InvalidToken) as caught:
        verifier.verify(token)

    assert "https://elsewhere.example/realms/r1" in caught.value.description
    assert f"{service.url}/realms/r1" in caught.value.description


def test_public_url_with_a_path_bounds_assertion_audiences(sqlite_url: str) -> None:
    """Under --public-url https://x.example/tokensmith an assertion may name the alias URL under
    that path, but not the same path at the host's root (another server on that host)."""
    settings = make_settings(sqlite_url, public_url="https://x.example/tokensmith")
    key = generate_key("ES256")
    jwks = {"keys": [public_jwk(key, kid=key_id(key), alg="ES256")]}
    run_admin(settings, lambda a: a.create_realm("r1", token_paths=["/connect/token"]))
    run_admin(settings, lambda a: a.create_client("r1", "signer", jwks=jwks))
    form = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE}
    with ServerThread(TokensmithApp(settings)) as server, httpx.Client() as http:
        alias = http.post(
            server.url + "/connect/token",
            data={
                **form,
                "client_assertion": assertion(key, "https://x.example/tokensmith/connect/token"),
            },
        )
        root = http.post(
            server.url + f"/realms/r1{TOKEN}",
            data={
                **form,
                "client_assertion": assertion(key, f"https://x.example/realms/r1{TOKEN}"),
            },
        )

    assert alias.status_code == 200, alias.text
    assert root.status_code == 401
    assert "aud" in root.json()["error_description"]
