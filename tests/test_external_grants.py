"""id_auth, token exchange and jwt-bearer against trusted issuers whose JWKS a small server
started by the test serves; on SQLite and PostgreSQL."""

from __future__ import annotations

import functools
import json
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest

from tokensmith.client import gbg
from tokensmith.oauth import Signer, generate_key, key_id, public_jwk

from .conftest import CHEAP_ARGON2, Service

SEED = Path(__file__).with_name("fixtures") / "002_746353d24479f9c1.txt"
ISSUER = "https://sso.test.invalid"


class SSO:
    """An external issuer: a signing key, and its JWKS served over loopback HTTP."""

    def __init__(self) -> None:
        self.key = generate_key("ES256")
        self.kid = key_id(self.key)
        jwks = json.dumps({"keys": [public_jwk(self.key, kid=self.kid, alg="ES256")]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(jwks)))
                self.end_headers()
                self.wfile.write(jwks)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.jwks_url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks"
        # shutdown() waits for the serving loop to look up, every poll_interval (default 0.5 s).
        serve = functools.partial(self.server.serve_forever, poll_interval=0.01)
        threading.Thread(target=serve, daemon=True).start()

    def id_token(self, sub: str = "alice", **overrides: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": sub,
            "aud": "gbg-api",
            "iat": now,
            "exp": now + 300,
            "email": f"{sub}@example.com",
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return Signer(self.key, kid=self.kid, alg="ES256", typ="JWT").sign(claims)


@pytest.fixture
def sso() -> Iterator[SSO]:
    """The external issuer."""
    issuer = SSO()
    yield issuer
    issuer.server.shutdown()
    issuer.server.server_close()


@pytest.fixture
def gbg_realm(service: Service, sso: SSO) -> Service:
    """Realm gbg at /authenticate/v1/connect/token trusting the SSO issuer; client ro.client
    (secret 'secret', scopes api api2) with every extension grant; client plain with none. The
    chosen secrets are hashed with cheap argon2 parameters: these tests are about the grants."""
    from tokensmith.server import Trust

    service.admin(lambda a: a.create_realm("gbg", token_paths=["/authenticate/v1/connect/token"]))
    service.admin(
        lambda a: Trust(a).add(
            "gbg",
            ISSUER,
            jwks_url=sso.jwks_url,
            audiences=["gbg-api"],
            algorithms=["ES256"],
            max_age=600,
            claims=["email"],
        )
    )
    service.admin(
        lambda a: a.create_client(
            "gbg",
            "ro.client",
            secret="secret",
            scopes="api api2",
            grant_types=["id_auth", "token-exchange", "jwt-bearer"],
            extra_claims={"tenant": "acme"},
        ),
        hasher=CHEAP_ARGON2,
    )
    service.admin(
        lambda a: a.create_client("gbg", "plain", secret="plain-secret", scopes="api"),
        hasher=CHEAP_ARGON2,
    )
    return service


def verified(service: Service, token: str) -> dict[str, Any]:
    keys = {k["kid"]: pyjwt.PyJWK(k) for k in service.jwks("gbg")["keys"]}
    key = keys[pyjwt.get_unverified_header(token)["kid"]]
    claims: dict[str, Any] = pyjwt.decode(token, key, algorithms=["ES256"], audience="gbg")
    return claims


def seed_curl(base: str, id_token: str | None = None) -> str:
    text = SEED.read_text()
    command = re.search(r"curl -X POST \\.*?\"https://api\.gbgplc\.com[^\"]*\"", text, re.S)
    assert command is not None
    # The seed writes "- H 'Content-Type: …'" with a stray space; curl itself refuses that
    # ("option -: is unknown") against any server, so the one typo is mended, nothing else.
    script = command.group(0).replace("- H '", "-H '").replace("https://api.gbgplc.com", base)
    if id_token is not None:
        script = re.sub(r"id_token=[A-Za-z0-9_-]+", f"id_token={id_token}", script)
    return subprocess.run(
        ["bash", "-c", script + " -s"], capture_output=True, text=True, check=True, timeout=30
    ).stdout


def post(service: Service, **form: str) -> Any:
    form.setdefault("client_id", "ro.client")
    form.setdefault("client_secret", "secret")
    return service.http.post(f"{service.url}/authenticate/v1/connect/token", data=form)


def test_gbg_seed_request_with_a_valid_id_token(gbg_realm: Service, sso: SSO) -> None:
    """The seed's curl, host replaced and with a real id_token, gets a GBG access token for the
    external subject, with the mapped and static claims."""
    answer = json.loads(seed_curl(gbg_realm.url, sso.id_token("alice")))

    assert {"access_token", "expires_in", "token_type"} <= set(answer)
    claims = verified(gbg_realm, answer["access_token"])
    assert claims["sub"] == "alice"
    assert claims["client_id"] == claims["azp"] == "ro.client"
    assert claims["email"] == "alice@example.com"
    assert claims["tenant"] == "acme"
    assert claims["scope"] == "api api2"
    assert "refresh_token" not in answer


def test_gbg_seed_request_verbatim_gets_a_clear_invalid_grant(gbg_realm: Service) -> None:
    """The seed's own example id_token (an unsigned base64 blob) is invalid_grant saying so."""
    answer = json.loads(seed_curl(gbg_realm.url))

    assert answer["error"] == "invalid_grant"
    assert "not a signed JWT" in answer["error_description"]


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        (lambda now: {"exp": now - 120, "iat": now - 420}, "expired"),
        (lambda now: {"aud": "someone-else"}, "another audience"),
        (lambda now: {"iss": "https://evil.invalid"}, "not trusted"),
        (lambda now: {"iat": now - 900, "exp": now + 300}, "older than"),
        (lambda now: {"sub": None}, "no sub"),
    ],
)
def test_bad_id_tokens_each_say_why(
    gbg_realm: Service, sso: SSO, overrides: Callable[[int], dict[str, Any]], words: str
) -> None:
    """Expired, wrong-audience, untrusted-issuer, too-old and subject-less tokens are refused.
    The times are taken when the test runs, not when it is collected (minutes earlier in a full
    run, enough for an exp five minutes ahead to have passed)."""
    claims = overrides(int(time.time()))
    response = post(gbg_realm, grant_type="id_auth", id_token=sso.id_token(**claims))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert words in response.json()["error_description"]


def test_tampered_and_foreign_signed_id_tokens(gbg_realm: Service, sso: SSO) -> None:
    """A changed payload, or a token signed by a key the issuer does not publish, is refused."""
    header, _, signature = sso.id_token().split(".")
    other = SSO()
    tampered = f"{header}.{sso.id_token('mallory').split('.')[1]}.{signature}"
    foreign = other.id_token()
    other.server.shutdown()
    other.server.server_close()

    first = post(gbg_realm, grant_type="id_auth", id_token=tampered).json()
    second = post(gbg_realm, grant_type="id_auth", id_token=foreign).json()

    assert "signature" in first["error_description"]
    assert "key" in second["error_description"]


def test_grant_must_be_enabled_for_the_client(gbg_realm: Service, sso: SSO) -> None:
    """A client without id_auth enabled gets unauthorized_client."""
    response = post(
        gbg_realm,
        grant_type="id_auth",
        id_token=sso.id_token(),
        client_id="plain",
        client_secret="plain-secret",
    )

    assert response.json()["error"] == "unauthorized_client"


def test_token_exchange_round_trips(gbg_realm: Service, sso: SSO) -> None:
    """RFC 8693: an external id_token, or this realm's own access token with an actor, is
    exchanged for an access token naming its issued_token_type."""
    id_type = "urn:ietf:params:oauth:token-type:id_token"
    access_type = "urn:ietf:params:oauth:token-type:access_token"
    exchange = "urn:ietf:params:oauth:grant-type:token-exchange"
    own = post(
        gbg_realm, grant_type="client_credentials", client_id="plain", client_secret="plain-secret"
    ).json()["access_token"]

    from_id = post(
        gbg_realm,
        grant_type=exchange,
        subject_token=sso.id_token("bob"),
        subject_token_type=id_type,
    ).json()
    from_own = post(
        gbg_realm,
        grant_type=exchange,
        subject_token=own,
        subject_token_type=access_type,
        actor_token=sso.id_token("carol"),
        actor_token_type=id_type,
    ).json()
    bad_type = post(
        gbg_realm, grant_type=exchange, subject_token=own, subject_token_type="urn:x"
    ).json()

    assert from_id["issued_token_type"] == access_type
    assert verified(gbg_realm, from_id["access_token"])["sub"] == "bob"
    claims = verified(gbg_realm, from_own["access_token"])
    assert claims["sub"] == "plain"
    assert claims["act"] == {"sub": "carol"}
    assert bad_type["error"] == "invalid_request"


def test_jwt_bearer_round_trip(gbg_realm: Service, sso: SSO) -> None:
    """RFC 7523 §2.1: a JWT assertion from a trusted issuer gets a token for its subject."""
    response = post(
        gbg_realm,
        grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
        assertion=sso.id_token("dave"),
    )

    assert verified(gbg_realm, response.json()["access_token"])["sub"] == "dave"


def test_discovery_lists_every_grant(gbg_realm: Service) -> None:
    """The realm's discovery names the extension grants."""
    meta = gbg_realm.http.get(f"{gbg_realm.url}/realms/gbg/.well-known/openid-configuration").json()

    assert {
        "id_auth",
        "urn:ietf:params:oauth:grant-type:token-exchange",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
    } <= set(meta["grant_types_supported"])


def test_client_gets_gbg_tokens_that_renew_with_fresh_id_tokens(
    gbg_realm: Service, sso: SSO
) -> None:
    """tokensmith.client's GBG preset asks its supplier for a fresh id_token at each renewal."""
    subjects = iter(["erin", "frank"])

    with gbg(
        lambda: sso.id_token(next(subjects)),
        client_id="ro.client",
        client_secret="secret",
        base_url=gbg_realm.url,
    ) as tokens:
        first = tokens.token()
        tokens.invalidate(first)
        second = tokens.token()

    assert verified(gbg_realm, first.access_token)["sub"] == "erin"
    assert verified(gbg_realm, second.access_token)["sub"] == "frank"


@pytest.fixture
def keyed_client(gbg_realm: Service) -> tuple[Service, Any]:
    """Client 'signer' of realm gbg authenticating with private_key_jwt (inline keys)."""
    key = generate_key("ES256")
    jwks = {"keys": [public_jwk(key, kid=key_id(key), alg="ES256")]}
    gbg_realm.admin(lambda a: a.create_client("gbg", "signer", scopes="api", jwks=jwks))
    return gbg_realm, key


def assertion(key: Any, audience: str, **overrides: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": "signer",
        "sub": "signer",
        "aud": audience,
        "iat": now,
        "exp": now + 60,
        "jti": f"j-{time.monotonic_ns()}",
    }
    claims.update(overrides)
    return Signer(key, kid=key_id(key), alg="ES256", typ="JWT").sign(claims)


def pkjwt(service: Service, client_assertion: str) -> Any:
    return service.http.post(
        service.token_url("gbg"),
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": client_assertion,
        },
    )


def test_private_key_jwt_accepted_and_replay_refused(keyed_client: tuple[Service, Any]) -> None:
    """A signed assertion authenticates the client once; the same assertion again is refused."""
    service, key = keyed_client
    signed = assertion(key, service.token_url("gbg"))

    first = pkjwt(service, signed)
    replay = pkjwt(service, signed)
    issuer_aud = pkjwt(service, assertion(key, f"{service.url}/realms/gbg"))

    assert first.status_code == 200, first.text
    assert verified(service, first.json()["access_token"])["client_id"] == "signer"
    assert replay.status_code == 401
    assert "replay" in replay.json()["error_description"]
    assert issuer_aud.status_code == 200


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        (lambda now: {"aud": "https://elsewhere.invalid/token"}, "aud"),
        (lambda now: {"sub": "someone"}, "sub"),
        (lambda now: {"exp": now - 100}, "expired"),
        (lambda now: {"exp": now + 2 * 3600}, "longer than"),
    ],
)
def test_private_key_jwt_refusals(
    keyed_client: tuple[Service, Any], overrides: Callable[[int], dict[str, Any]], words: str
) -> None:
    """Wrong audience, subject, an expired or too long-lived assertion is invalid_client (times
    taken when the test runs)."""
    service, key = keyed_client
    claims = overrides(int(time.time()))

    response = pkjwt(service, assertion(key, service.token_url("gbg"), **claims))

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert words in response.json()["error_description"]


def test_private_key_jwt_signed_by_another_key(keyed_client: tuple[Service, Any]) -> None:
    """An assertion signed with a key the client did not register is refused."""
    service, _ = keyed_client

    response = pkjwt(service, assertion(generate_key("ES256"), service.token_url("gbg")))

    assert response.json()["error"] == "invalid_client"


def test_client_library_private_key_jwt(keyed_client: tuple[Service, Any]) -> None:
    """TokenSource(private_key=…) authenticates with fresh assertions, renewal after renewal."""
    from tokensmith.client import TokenSource
    from tokensmith.oauth import key_to_pem

    service, key = keyed_client
    with TokenSource(
        service.token_url("gbg"), client_id="signer", private_key=key_to_pem(key)
    ) as source:
        first = source.token()
        source.invalidate(first)
        second = source.token()

    assert first.access_token != second.access_token
    assert verified(service, second.access_token)["sub"] == "signer"


def test_per_client_audience_and_discovery_auth_methods(gbg_realm: Service) -> None:
    """A client's own audience goes into its tokens; discovery names private_key_jwt."""
    gbg_realm.admin(
        lambda a: a.create_client(
            "gbg", "aud-client", secret="aud-secret", audience="billing-api", access_token_ttl=60
        ),
        hasher=CHEAP_ARGON2,
    )
    answer = post(
        gbg_realm,
        grant_type="client_credentials",
        client_id="aud-client",
        client_secret="aud-secret",
    ).json()
    meta = gbg_realm.http.get(f"{gbg_realm.url}/realms/gbg/.well-known/openid-configuration").json()

    claims = pyjwt.decode(answer["access_token"], options={"verify_signature": False})
    assert claims["aud"] == "billing-api"
    assert claims["exp"] - claims["iat"] == 60
    assert "private_key_jwt" in meta["token_endpoint_auth_methods_supported"]
    assert "ES256" in meta["token_endpoint_auth_signing_alg_values_supported"]
