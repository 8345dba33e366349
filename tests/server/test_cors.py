"""CORS over real HTTP: the realm's public documents (JWKS, OpenID configuration, RFC 8414
metadata) answer any origin and its preflight; the token endpoint answers the origins its realm
lists, and only those; otherwise the endpoints that take client credentials answer no CORS at
all and refuse the preflight."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tokensmith.server import AdminError
from tokensmith.server import _routes as routes

from ..cli_run import run_cli
from ..conftest import Service

ORIGIN = {"Origin": "https://verifier.example"}
PREFLIGHT = {
    **ORIGIN,
    "Access-Control-Request-Method": "GET",
    "Access-Control-Request-Headers": "if-none-match, x-requested-with",
}
PUBLIC = [
    "/realms/acme/protocol/openid-connect/certs",
    "/auth/realms/acme/protocol/openid-connect/certs",
    "/realms/acme/.well-known/openid-configuration",
    "/auth/realms/acme/.well-known/openid-configuration",
    "/.well-known/oauth-authorization-server/realms/acme",
    "/realms/acme/.well-known/oauth-authorization-server",
]
CREDENTIALED = [
    "/realms/acme/protocol/openid-connect/token",
    "/auth/realms/acme/protocol/openid-connect/token",
    "/connect/token",
    "/realms/acme/protocol/openid-connect/token/introspect",
    "/realms/acme/protocol/openid-connect/revoke",
]


@pytest.fixture
def acme(sqlite_service: Service) -> tuple[Service, str]:
    """Realm acme with the token-path alias /connect/token and client svc; its secret."""
    sqlite_service.admin(lambda a: a.create_realm("acme", token_paths=["/connect/token"]))
    new = sqlite_service.admin(lambda a: a.create_client("acme", "svc", scopes="read"))
    assert new.secret is not None
    return sqlite_service, new.secret


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


def test_public_documents_are_exactly_the_jwks_and_the_metadata() -> None:
    """The route table marks the JWKS and both metadata documents public, nothing else."""
    public = {endpoint.name for endpoint in routes.ENDPOINTS if endpoint.public}

    assert public == {"certs", "openid-configuration", "oauth-authorization-server"}


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("path", PUBLIC)
def test_public_documents_allow_any_origin(
    acme: tuple[Service, str], path: str, method: str
) -> None:
    """A GET or HEAD from a page of any origin gets Access-Control-Allow-Origin: *."""
    service, _ = acme

    response = service.http.request(method, service.url + path, headers=ORIGIN)

    assert response.status_code == 200
    assert cors_headers(response) == {"access-control-allow-origin": "*"}


def test_the_allowed_origin_does_not_depend_on_the_request(acme: tuple[Service, str]) -> None:
    """Without an Origin header the answer is the same, so caches may share one copy: no Vary
    on Origin."""
    service, _ = acme

    response = service.http.get(service.url + PUBLIC[0])

    assert response.headers["access-control-allow-origin"] == "*"
    assert "origin" not in response.headers.get("vary", "").lower()


@pytest.mark.parametrize("path", PUBLIC)
def test_public_documents_answer_the_preflight(acme: tuple[Service, str], path: str) -> None:
    """An OPTIONS preflight gets 204 allowing any origin GET and HEAD with the requested
    headers, for an hour, and no body."""
    service, _ = acme

    response = service.http.options(service.url + path, headers=PREFLIGHT)

    assert response.status_code == 204
    assert response.content == b""
    assert "content-length" not in response.headers
    assert cors_headers(response) == {
        "access-control-allow-origin": "*",
        "access-control-allow-methods": "GET, HEAD",
        "access-control-allow-headers": "*",
        "access-control-max-age": "3600",
    }


@pytest.mark.parametrize("path", CREDENTIALED)
def test_credentialed_endpoints_refuse_the_preflight(acme: tuple[Service, str], path: str) -> None:
    """In a realm that lists no origin, an OPTIONS preflight at the token (aliases included),
    introspection or revocation endpoint gets 405 and no CORS header, so the browser stops
    there."""
    service, _ = acme
    preflight = {**PREFLIGHT, "Access-Control-Request-Method": "POST"}

    response = service.http.options(service.url + path, headers=preflight)

    assert (response.status_code, response.headers["allow"]) == (405, "POST")
    assert cors_headers(response) == {}


@pytest.mark.parametrize("path", CREDENTIALED)
def test_credentialed_endpoints_answer_no_cors(acme: tuple[Service, str], path: str) -> None:
    """In a realm that lists no origin, a POST with an Origin gets its usual answer (a token,
    introspection, revocation) with no CORS header, so a page of another origin cannot read
    it."""
    service, secret = acme
    form = {"client_id": "svc", "client_secret": secret, "grant_type": "client_credentials"}
    if "/token/" in path or path.endswith("/revoke"):
        form["token"] = "unknown"

    response = service.http.post(service.url + path, data=form, headers=ORIGIN)

    assert response.status_code == 200, response.text
    assert cors_headers(response) == {}


def test_the_authorization_endpoint_answers_no_cors(acme: tuple[Service, str]) -> None:
    """The authorization endpoint is no public document: its refusal carries no CORS header."""
    service, _ = acme

    response = service.http.get(
        service.url + "/realms/acme/protocol/openid-connect/auth", headers=ORIGIN
    )

    assert response.status_code == 400
    assert cors_headers(response) == {}


APP = "https://app.example.com"
WEB_TOKEN = [
    "/realms/web/protocol/openid-connect/token",
    "/auth/realms/web/protocol/openid-connect/token",
    "/web/token",
]


@pytest.fixture
def web(sqlite_service: Service) -> tuple[Service, str]:
    """Realm web, whose token endpoint (and its alias /web/token) allows the pages of APP and of
    http://localhost:3000, with client svc; its secret."""
    sqlite_service.admin(
        lambda a: a.create_realm(
            "web", token_paths=["/web/token"], cors_origins=[APP, "http://localhost:3000"]
        )
    )
    new = sqlite_service.admin(lambda a: a.create_client("web", "svc", scopes="read"))
    assert new.secret is not None
    return sqlite_service, new.secret


def token_form(secret: str) -> dict[str, str]:
    return {"client_id": "svc", "client_secret": secret, "grant_type": "client_credentials"}


@pytest.mark.parametrize("path", WEB_TOKEN)
def test_a_listed_origin_gets_the_token_preflight(web: tuple[Service, str], path: str) -> None:
    """A preflight from a listed origin gets 204 allowing that origin (never "*", never
    credentials) to POST with Authorization, Content-Type and DPoP, for an hour, varying on
    Origin."""
    service, _ = web
    preflight = {
        "Origin": APP,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }

    response = service.http.options(service.url + path, headers=preflight)

    assert response.status_code == 204
    assert response.content == b""
    assert cors_headers(response) == {
        "access-control-allow-origin": APP,
        "access-control-allow-methods": "POST",
        "access-control-allow-headers": "authorization, content-type, dpop",
        "access-control-max-age": "3600",
        "access-control-expose-headers": "DPoP-Nonce",
    }
    assert response.headers["vary"] == "Origin"


@pytest.mark.parametrize("origin", [APP, "http://localhost:3000"])
@pytest.mark.parametrize("path", WEB_TOKEN)
def test_a_listed_origin_may_read_a_token(web: tuple[Service, str], path: str, origin: str) -> None:
    """A token request from a listed origin gets its token with that origin allowed and Vary:
    Origin."""
    service, secret = web

    response = service.http.post(
        service.url + path, data=token_form(secret), headers={"Origin": origin}
    )

    assert response.status_code == 200, response.text
    assert "access_token" in response.json()
    assert cors_headers(response) == {
        "access-control-allow-origin": origin,
        "access-control-expose-headers": "DPoP-Nonce",
    }
    assert response.headers["vary"] == "Origin"


def test_a_listed_origin_may_read_a_refusal(web: tuple[Service, str]) -> None:
    """A wrong secret from a listed origin gets its 401 invalid_client with the origin allowed,
    so the page can show why."""
    service, _ = web

    response = service.http.post(
        service.token_url("web"), data=token_form("wrong"), headers={"Origin": APP}
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert cors_headers(response) == {
        "access-control-allow-origin": APP,
        "access-control-expose-headers": "DPoP-Nonce",
    }
    assert response.headers["vary"] == "Origin"


@pytest.mark.parametrize(
    "origin",
    ["https://evil.example", "https://app.example.com:8443", "http://app.example.com", "null"],
)
def test_another_origin_gets_no_cors_at_the_token_endpoint(
    web: tuple[Service, str], origin: str
) -> None:
    """An origin the realm does not list, however close, gets its token but no CORS header,
    and 405 to its preflight."""
    service, secret = web
    preflight = {"Origin": origin, "Access-Control-Request-Method": "POST"}

    answer = service.http.post(
        service.token_url("web"), data=token_form(secret), headers={"Origin": origin}
    )
    refused = service.http.options(service.token_url("web"), headers=preflight)

    assert answer.status_code == 200
    assert cors_headers(answer) == {}
    assert (refused.status_code, cors_headers(refused)) == (405, {})


@pytest.mark.parametrize(
    "path",
    [
        "/realms/web/protocol/openid-connect/token/introspect",
        "/realms/web/protocol/openid-connect/revoke",
    ],
)
def test_a_listed_origin_gets_no_cors_at_introspection_or_revocation(
    web: tuple[Service, str], path: str
) -> None:
    """The realm's origins are for its token endpoint only: introspection and revocation answer
    them no CORS header and 405 to the preflight."""
    service, secret = web
    form = {**token_form(secret), "token": "unknown"}

    answer = service.http.post(service.url + path, data=form, headers={"Origin": APP})
    refused = service.http.options(
        service.url + path, headers={"Origin": APP, "Access-Control-Request-Method": "POST"}
    )

    assert answer.status_code == 200
    assert cors_headers(answer) == {}
    assert (refused.status_code, cors_headers(refused)) == (405, {})


def test_another_realms_origins_do_not_carry_over(web: tuple[Service, str]) -> None:
    """An origin listed by realm web gets no CORS at the token endpoint of a realm that lists
    none."""
    service, _ = web
    service.admin(lambda a: a.create_realm("plain"))
    new = service.admin(lambda a: a.create_client("plain", "svc", scopes="read"))
    assert new.secret is not None

    response = service.http.post(
        service.token_url("plain"), data=token_form(new.secret), headers={"Origin": APP}
    )

    assert response.status_code == 200
    assert cors_headers(response) == {}


@pytest.mark.parametrize(
    "origin",
    [
        "*",
        "null",
        "https://*.example.com",
        "app.example.com",
        "https://app.example.com/",
        "https://app.example.com/login",
        "https://app.example.com?x=1",
        "https://user@app.example.com",
        "https://app.example.com:0",
        "https://app.example.com:70000",
    ],
)
def test_a_realm_refuses_what_is_no_origin(sqlite_service: Service, origin: str) -> None:
    """A wildcard, "null", or anything with a path, query, user or bad port is refused."""
    with pytest.raises(AdminError, match="must be scheme://host\\[:port\\] without a path"):
        sqlite_service.admin(lambda a: a.create_realm("r1", cors_origins=[origin]))


@pytest.mark.parametrize(
    ("origin", "sent"),
    [
        ("https://App.Example.com", "https://app.example.com"),
        ("HTTPS://app.example.com", "https://app.example.com"),
        ("https://app.example.com:443", "https://app.example.com"),
        ("http://localhost:80", "http://localhost"),
        ("http://localhost:03000", "http://localhost:3000"),
    ],
)
def test_a_realm_refuses_an_origin_no_browser_sends(
    sqlite_service: Service, origin: str, sent: str
) -> None:
    """An origin in a form browsers never send (upper case, the default port, a port's
    leading zero) would never
    match, so it is refused with the form to give."""
    with pytest.raises(AdminError, match=f"sent by browsers as {sent}; give that"):
        sqlite_service.admin(lambda a: a.create_realm("r1", cors_origins=[origin]))


def test_cli_sets_and_shows_the_cors_origins(tmp_path: Path) -> None:
    """`realm create --cors-origin` (repeatable) stores the origins and `realm show` prints
    them; a realm without lists none."""
    database = f"sqlite:///{tmp_path / 'ts.db'}"

    def cli(*args: str) -> str:
        done = run_cli(*args, "--database", database, cwd=tmp_path, env=dict(os.environ))
        assert done.returncode == 0, done.stderr
        return done.stdout

    cli("db", "upgrade")
    cli("realm", "create", "web", "--cors-origin", APP, "--cors-origin", "http://localhost:3000")
    cli("realm", "create", "plain")

    assert f"cors origins:      {APP} http://localhost:3000\n" in cli("realm", "show", "web")
    assert "cors origins:      -\n" in cli("realm", "show", "plain")
