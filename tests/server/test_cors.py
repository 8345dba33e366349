"""CORS over real HTTP: the realm's public documents (JWKS, OpenID configuration, RFC 8414
metadata) answer any origin and its preflight; the endpoints that take client credentials
answer no CORS at all and refuse the preflight."""

from __future__ import annotations

import httpx
import pytest

from tokensmith.server import _routes as routes

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
    """An OPTIONS preflight at the token (aliases included), introspection or revocation
    endpoint gets 405 and no CORS header, so the browser stops there."""
    service, _ = acme
    preflight = {**PREFLIGHT, "Access-Control-Request-Method": "POST"}

    response = service.http.options(service.url + path, headers=preflight)

    assert (response.status_code, response.headers["allow"]) == (405, "POST")
    assert cors_headers(response) == {}


@pytest.mark.parametrize("path", CREDENTIALED)
def test_credentialed_endpoints_answer_no_cors(acme: tuple[Service, str], path: str) -> None:
    """A POST with an Origin gets its usual answer (a token, introspection, revocation) with no
    CORS header, so a page of another origin cannot read it."""
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
