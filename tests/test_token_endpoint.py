"""The token endpoint over real HTTP, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import jwt
import pytest

from tokensmith.server import Admin
from tokensmith.store import Conflict

from .conftest import Service, eventually


def make_realm(service: Service, name: str = "acme", **kwargs: Any) -> None:
    service.admin(lambda a: a.create_realm(name, **kwargs))


def make_client(service: Service, realm: str, client_id: str, **kwargs: Any) -> str:
    new = service.admin(lambda a: a.create_client(realm, client_id, **kwargs))
    return new.secret or kwargs["secret"]


def verify(service: Service, realm: str, token: str, alg: str = "ES256") -> dict[str, Any]:
    keys = {k["kid"]: jwt.PyJWK(k) for k in service.jwks(realm)["keys"]}
    kid = jwt.get_unverified_header(token)["kid"]
    claims: dict[str, Any] = jwt.decode(token, keys[kid], algorithms=[alg], audience=realm)
    return claims


def post(service: Service, url: str, data: dict[str, str], **kwargs: Any) -> Any:
    return service.http.post(url, data=data, **kwargs)


@pytest.fixture
def acme(service: Service) -> tuple[Service, str]:
    """Realm acme with client svc (scopes a b, default a, refresh tokens)."""
    make_realm(service)
    secret = make_client(
        service, "acme", "svc", scopes="a b", default_scopes="a", refresh_tokens=True
    )
    return service, secret


def cc(service: Service, secret: str, **extra: str) -> Any:
    data = {"grant_type": "client_credentials", "client_id": "svc", "client_secret": secret}
    data.update(extra)
    return post(service, service.token_url("acme"), data)


def test_client_credentials_issues_a_verifiable_rfc9068_token(acme: tuple[Service, str]) -> None:
    """client_credentials answers compact JSON whose token verifies against the realm's JWKS."""
    service, secret = acme

    response = cc(service, secret)

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    assert response.text.startswith('{"access_token":"')
    assert " " not in response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    header = jwt.get_unverified_header(body["access_token"])
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "ES256"
    claims = verify(service, "acme", body["access_token"])
    assert claims["iss"] == f"{service.url}/realms/acme"
    assert claims["sub"] == claims["client_id"] == "svc"
    assert claims["aud"] == "acme"
    assert claims["exp"] - claims["iat"] == 300
    assert claims["scope"] == "a"
    assert claims["jti"]


def test_client_secret_basic_is_accepted(acme: tuple[Service, str]) -> None:
    """HTTP Basic with the form-encoded client id and secret authenticates the client."""
    service, secret = acme

    response = post(
        service,
        service.token_url("acme"),
        {"grant_type": "client_credentials"},
        auth=("svc", secret),
    )

    assert response.status_code == 200
    assert "access_token" in response.json()


def test_wrong_secret_with_basic_is_401_with_www_authenticate(acme: tuple[Service, str]) -> None:
    """A wrong secret sent with HTTP Basic is invalid_client, 401, WWW-Authenticate: Basic."""
    service, _ = acme

    response = post(
        service,
        service.token_url("acme"),
        {"grant_type": "client_credentials"},
        auth=("svc", "wrong"),
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic ")


@pytest.mark.parametrize(
    ("client_id", "secret"), [("svc", "wrong"), ("nobody", "x"), ("svc", None)]
)
def test_bad_client_credentials_are_invalid_client(
    acme: tuple[Service, str], client_id: str, secret: str | None
) -> None:
    """A wrong secret, an unknown client or a missing secret in the body is invalid_client
    (401) without a WWW-Authenticate challenge: the client did not use HTTP Basic."""
    service, _ = acme
    data = {"grant_type": "client_credentials", "client_id": client_id}
    if secret is not None:
        data["client_secret"] = secret

    response = post(service, service.token_url("acme"), data)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.json()["error_description"]
    assert "www-authenticate" not in response.headers


def test_disabling_a_client_is_noticed_within_seconds(acme: tuple[Service, str]) -> None:
    """A client disabled by another process (the CLI) is refused after the next poll."""
    service, secret = acme
    assert cc(service, secret).status_code == 200

    service.admin(lambda a: a.set_client_enabled("acme", "svc", False))
    eventually(lambda: cc(service, secret).status_code != 200)

    response = cc(service, secret)
    assert response.status_code == 401
    assert "disabled" in response.json()["error_description"]


def test_requested_scope_must_be_allowed(acme: tuple[Service, str]) -> None:
    """A scope within the client's allowed scopes is granted; one outside is invalid_scope."""
    service, secret = acme

    granted = cc(service, secret, scope="a b")
    refused = cc(service, secret, scope="a admin")

    assert granted.json()["scope"] == "a b"
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_scope"
    assert "admin" in refused.json()["error_description"]


def test_refresh_token_rotates_and_reuse_revokes_the_family(acme: tuple[Service, str]) -> None:
    """A refresh token works once; presenting it again after the reuse grace period (30 s by
    default) revokes every token issued from it."""
    service, secret = acme
    first = cc(service, secret).json()
    assert first["refresh_expires_in"] == 1800
    refresh = {"grant_type": "refresh_token", "client_id": "svc", "client_secret": secret}

    second = post(
        service, service.token_url("acme"), {**refresh, "refresh_token": first["refresh_token"]}
    )
    service.clock.advance(31)
    reused = post(
        service, service.token_url("acme"), {**refresh, "refresh_token": first["refresh_token"]}
    )
    child = post(
        service,
        service.token_url("acme"),
        {**refresh, "refresh_token": second.json()["refresh_token"]},
    )

    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    verify(service, "acme", second.json()["access_token"])
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert "already used" in reused.json()["error_description"]
    assert child.status_code == 400
    assert child.json()["error"] == "invalid_grant"


def test_refresh_may_narrow_scope_but_never_widen_it(acme: tuple[Service, str]) -> None:
    """Refreshing with a subset of the granted scope narrows it; a wider scope is invalid_scope."""
    service, secret = acme
    refresh = {"grant_type": "refresh_token", "client_id": "svc", "client_secret": secret}
    wide = cc(service, secret, scope="a b").json()

    narrow = post(
        service,
        service.token_url("acme"),
        {**refresh, "refresh_token": wide["refresh_token"], "scope": "b"},
    )
    widen = post(
        service,
        service.token_url("acme"),
        {**refresh, "refresh_token": narrow.json()["refresh_token"], "scope": "a b"},
    )

    assert narrow.status_code == 200
    assert narrow.json()["scope"] == "b"
    assert widen.status_code == 400
    assert widen.json()["error"] == "invalid_scope"


def test_refresh_token_is_bound_to_its_client(acme: tuple[Service, str]) -> None:
    """Another client presenting a refresh token gets invalid_grant."""
    service, secret = acme
    other = make_client(service, "acme", "other", refresh_tokens=True)
    token = cc(service, secret).json()["refresh_token"]

    response = post(
        service,
        service.token_url("acme"),
        {
            "grant_type": "refresh_token",
            "refresh_token": token,
            "client_id": "other",
            "client_secret": other,
        },
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert "another client" in response.json()["error_description"]


def test_expired_refresh_token_is_invalid_grant(acme: tuple[Service, str]) -> None:
    """A refresh token past its lifetime is invalid_grant (the clock is moved, not waited on)."""
    service, secret = acme
    token = cc(service, secret).json()["refresh_token"]

    service.clock.advance(1801)
    response = post(
        service,
        service.token_url("acme"),
        {
            "grant_type": "refresh_token",
            "refresh_token": token,
            "client_id": "svc",
            "client_secret": secret,
        },
    )

    assert response.status_code == 400
    assert response.json()["error_description"] == "the refresh token has expired"


def test_refresh_tokens_only_for_clients_that_opt_in(service: Service) -> None:
    """A client without refresh tokens gets none and may not use the refresh_token grant."""
    make_realm(service)
    secret = make_client(service, "acme", "plain")

    issued = post(
        service,
        service.token_url("acme"),
        {"grant_type": "client_credentials", "client_id": "plain", "client_secret": secret},
    )
    refused = post(
        service,
        service.token_url("acme"),
        {
            "grant_type": "refresh_token",
            "refresh_token": "x",
            "client_id": "plain",
            "client_secret": secret,
        },
    )

    assert "refresh_token" not in issued.json()
    assert refused.status_code == 400
    assert refused.json()["error"] == "unauthorized_client"


def test_a_pasted_refresh_token_with_a_stray_character_gets_a_hint(
    acme: tuple[Service, str],
) -> None:
    """The Truphone docs' '<your_refresh_token>k' typo gets a description that points at it."""
    service, secret = acme
    token = cc(service, secret).json()["refresh_token"]

    response = post(
        service,
        service.token_url("acme"),
        {
            "grant_type": "refresh_token",
            "refresh_token": token + "k",
            "client_id": "svc",
            "client_secret": secret,
        },
    )

    assert response.json()["error"] == "invalid_grant"
    assert "appended" in response.json()["error_description"]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"client_id": "svc"}, "invalid_request"),
        ({"grant_type": "password", "client_id": "svc"}, "unsupported_grant_type"),
        ({"grant_type": "urn:x:custom", "client_id": "svc"}, "unsupported_grant_type"),
    ],
)
def test_grant_type_errors(acme: tuple[Service, str], data: dict[str, str], error: str) -> None:
    """A missing grant_type is invalid_request; an unknown one unsupported_grant_type."""
    service, secret = acme

    response = post(service, service.token_url("acme"), {**data, "client_secret": secret})

    assert response.status_code == 400
    assert response.json()["error"] == error


def test_malformed_requests_get_clear_4xx(acme: tuple[Service, str]) -> None:
    """Wrong content type, oversized, non-UTF-8, repeated parameters, query parameters, unknown
    realms, wrong methods and double authentication are 4xx with an OAuth error, never 500."""
    service, secret = acme
    url = service.token_url("acme")
    form = f"grant_type=client_credentials&client_id=svc&client_secret={secret}"
    cases = [
        (service.http.post(url, json={"grant_type": "client_credentials"}), 400),
        (
            service.http.post(
                url,
                content=b"a=" + b"x" * 70_000,
                headers={"content-type": "application/x-www-form-urlencoded"},
            ),
            413,
        ),
        (
            service.http.post(
                url,
                content=b"grant_type=\xff\xfe",
                headers={"content-type": "application/x-www-form-urlencoded"},
            ),
            400,
        ),
        (
            service.http.post(
                url,
                content=(form + "&scope=a&scope=b").encode(),
                headers={"content-type": "application/x-www-form-urlencoded"},
            ),
            400,
        ),
        (
            service.http.post(
                url + "?client_secret=x",
                content=form.encode(),
                headers={"content-type": "application/x-www-form-urlencoded"},
            ),
            400,
        ),
        (
            service.http.post(
                service.token_url("nope"),
                content=form.encode(),
                headers={"content-type": "application/x-www-form-urlencoded"},
            ),
            404,
        ),
        (service.http.get(url), 405),
        (
            service.http.post(
                url,
                content=form.encode(),
                auth=("svc", secret),
                headers={"content-type": "application/x-www-form-urlencoded"},
            ),
            400,
        ),
        (
            service.http.post(
                url,
                content=b"%%%&&&==",
                headers={"content-type": "application/x-www-form-urlencoded"},
            ),
            400,
        ),
        (service.http.get(f"{service.url}/nowhere"), 404),
    ]

    for response, status in cases:
        assert response.status_code == status, response.text
        assert response.json()["error"] == "invalid_request", response.text
        assert response.json()["error_description"]


def test_pascal_dialect_on_a_token_path_alias(service: Service) -> None:
    """A pascal realm answers Trulioo's field names at its alias path."""
    make_realm(
        service,
        "tl",
        token_paths=["/connect/token"],
        response_style="pascal",
        access_token_ttl=3600,
    )
    secret = make_client(service, "tl", "c1", scopes="workflow.studio.api")

    response = post(
        service,
        f"{service.url}/connect/token",
        {
            "grant_type": "client_credentials",
            "scope": "workflow.studio.api",
            "client_id": "c1",
            "client_secret": secret,
        },
    )

    body = response.json()
    assert list(body) == ["Token", "TokenType", "ExpiresIn", "scope"]
    assert body["TokenType"] == "bearer"
    assert body["ExpiresIn"] == 3600
    claims = verify(service, "tl", body["Token"])
    assert claims["iss"] == f"{service.url}/realms/tl"


def test_client_can_override_the_response_style(service: Service) -> None:
    """A client's response style wins over its realm's."""
    make_realm(service)
    secret = make_client(service, "acme", "p", response_style="pascal")

    body = post(
        service,
        service.token_url("acme"),
        {"grant_type": "client_credentials", "client_id": "p", "client_secret": secret},
    ).json()

    assert "Token" in body


def test_two_realms_cannot_claim_one_path(service: Service) -> None:
    """A token path belongs to one realm."""
    make_realm(service, "one", token_paths=["/connect/token"])

    with pytest.raises(Conflict):
        make_realm(service, "two", token_paths=["/connect/token"])


def test_legacy_auth_prefix_and_discovery(acme: tuple[Service, str]) -> None:
    """Endpoints answer with and without /auth, and both path forms serve the realm's one
    issuer (as Keycloak's is configured, not taken from the path)."""
    service, secret = acme

    legacy = post(
        service,
        service.token_url("acme", "/auth"),
        {"grant_type": "client_credentials", "client_id": "svc", "client_secret": secret},
    )
    oidc = service.http.get(
        f"{service.url}/auth/realms/acme/.well-known/openid-configuration"
    ).json()
    rfc8414 = service.http.get(
        f"{service.url}/.well-known/oauth-authorization-server/realms/acme"
    ).json()

    claims = verify(service, "acme", legacy.json()["access_token"])
    assert claims["iss"] == oidc["issuer"] == rfc8414["issuer"] == f"{service.url}/realms/acme"
    assert oidc["token_endpoint"] == service.token_url("acme")
    assert "refresh_token" in rfc8414["grant_types_supported"]
    assert service.http.get(rfc8414["jwks_uri"]).json()["keys"]


def test_key_rotation_keeps_old_tokens_verifiable(acme: tuple[Service, str]) -> None:
    """After a rotation new tokens carry the new kid and tokens signed before still verify."""
    service, secret = acme
    before = cc(service, secret).json()["access_token"]
    published = {k["kid"] for k in service.jwks("acme")["keys"]}

    keys = service.admin(lambda a: a.rotate_keys("acme"))
    current = next(k.kid for k in keys if k.state == "current")
    eventually(
        lambda: (
            jwt.get_unverified_header(cc(service, secret).json()["access_token"])["kid"] == current
        )
    )
    after = cc(service, secret).json()["access_token"]

    assert current in published  # the next key was published before it signed anything
    assert jwt.get_unverified_header(after)["kid"] == current
    assert len(service.jwks("acme")["keys"]) == 3
    verify(service, "acme", before)
    verify(service, "acme", after)


def test_rs256_realm(service: Service) -> None:
    """A realm created with RS256 signs with RSA keys."""
    make_realm(service, "rsa", alg="RS256")
    secret = make_client(service, "rsa", "c")

    token = post(
        service,
        service.token_url("rsa"),
        {"grant_type": "client_credentials", "client_id": "c", "client_secret": secret},
    ).json()

    assert verify(service, "rsa", token["access_token"], alg="RS256")["sub"] == "c"


def test_chosen_secret_is_argon2_hashed_and_works(service: Service) -> None:
    """A secret a person chose is stored with argon2id and accepted, including via Basic."""
    make_realm(service)
    make_client(service, "acme", "person", secret="12345;")
    stored = service.admin(lambda a: a.client("acme", "person")).secrets[0].digest

    response = post(
        service,
        service.token_url("acme"),
        {"grant_type": "client_credentials"},
        auth=("person", "12345;"),
    )

    assert stored.startswith("$argon2id$")
    assert response.status_code == 200


def test_rotated_secret_grace_period(acme: tuple[Service, str]) -> None:
    """During a rotation the old and the new secret both work until the grace period ends."""
    service, old = acme
    new = service.admin(lambda a: a.rotate_secret("acme", "svc", grace=3600)).secret
    assert new is not None
    eventually(lambda: cc(service, new).status_code == 200)  # the service reloaded the client

    assert cc(service, old).status_code == 200
    assert cc(service, new).status_code == 200
    service.clock.advance(3601)
    assert cc(service, old).status_code == 401
    assert cc(service, new).status_code == 200


def test_admin_rejects_bad_input(service: Service) -> None:
    """Bad names, lifetimes, paths and scopes are refused with a message, and nothing is stored."""
    from tokensmith.server import AdminError

    bad: list[Any] = [
        lambda a: a.create_realm("has space"),
        lambda a: a.create_realm("r", access_token_ttl=0),
        lambda a: a.create_realm("r", token_paths=["/realms/x"]),
        lambda a: a.create_realm("r", alg="HS256"),
    ]
    for op in bad:
        with pytest.raises(AdminError):
            service.admin(op)

    async def realms(a: Admin) -> list[str]:
        return [r.name for r in await a.list_realms()]

    assert service.admin(realms) == ["master"]  # made on first start, holds admin clients


def test_database_outage_is_503_and_cached_realms_keep_serving(postgres_url: str) -> None:
    """With the database gone, cached realms keep issuing tokens and others get a 503
    temporarily_unavailable with Retry-After, never a 500."""
    from .conftest import _pg, _service

    gen = _service(postgres_url)
    service = next(gen)
    try:
        make_realm(service)
        secret = make_client(service, "acme", "svc")
        data = {"grant_type": "client_credentials", "client_id": "svc", "client_secret": secret}
        assert post(service, service.token_url("acme"), data).status_code == 200

        name = postgres_url.rsplit("/", 1)[1]
        asyncio.run(_pg(f'DROP DATABASE "{name}" WITH (FORCE)'))
        cached = post(service, service.token_url("acme"), data)
        uncached = post(service, service.token_url("other"), data)

        assert cached.status_code == 200
        assert uncached.status_code == 503
        assert uncached.json()["error"] == "temporarily_unavailable"
        assert uncached.headers["retry-after"] == "2"
    finally:
        gen.close()


def test_non_ascii_basic_credentials_and_nul_realm_names_are_client_errors(
    acme: tuple[Service, str],
) -> None:
    """A Basic header holding non-ASCII bytes is invalid_client and a realm name holding NUL is
    404, on every database (they were a 500 and, on PostgreSQL, a 503)."""
    service, _ = acme
    form = {"grant_type": "client_credentials"}

    basic = post(
        service, service.token_url("acme"), form, headers={"authorization": b"Basic \xe9t\xe9"}
    )
    nul = post(service, f"{service.url}/realms/ac%00me/protocol/openid-connect/token", form)
    nul_discovery = service.http.get(f"{service.url}/realms/a%00/.well-known/openid-configuration")

    assert basic.status_code == 401
    assert basic.json()["error"] == "invalid_client"
    assert nul.status_code == nul_discovery.status_code == 404
