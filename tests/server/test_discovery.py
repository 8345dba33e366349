"""The realm's metadata documents over real HTTP: complete enough for Authlib's validators of
RFC 8414 and OpenID Connect Discovery, served where Keycloak serves them, and true to what the
service does (the authorization endpoint they name refuses, every grant they list is accepted)."""

from __future__ import annotations

from typing import Any

import pytest
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oidc.discovery import OpenIDProviderMetadata

from ..conftest import Service

OIDC = "/realms/acme/.well-known/openid-configuration"
RFC8414_FIRST = "/.well-known/oauth-authorization-server/realms/acme"
KEYCLOAK_RFC8414 = "/realms/acme/.well-known/oauth-authorization-server"


@pytest.fixture
def acme(sqlite_service: Service) -> Service:
    """The service with realm acme (ES256)."""
    sqlite_service.admin(lambda a: a.create_realm("acme"))
    return sqlite_service


def fetch(service: Service, path: str) -> dict[str, Any]:
    response = service.http.get(service.url + path)
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def test_authlib_validates_the_rfc8414_document(acme: Service) -> None:
    """Authlib's RFC 8414 validator accepts the OAuth metadata as served."""
    document = fetch(acme, RFC8414_FIRST)

    AuthorizationServerMetadata(document).validate()


def test_authlib_validates_the_openid_configuration(acme: Service) -> None:
    """Authlib's OpenID Connect Discovery validator accepts the OpenID configuration as served."""
    document = fetch(acme, OIDC)

    OpenIDProviderMetadata(document).validate()


@pytest.mark.parametrize("prefix", ["", "/auth"])
def test_keycloak_path_serves_the_rfc8414_document(acme: Service, prefix: str) -> None:
    """/realms/{realm}/.well-known/oauth-authorization-server, with or without /auth, serves the
    same document as RFC 8414's own placement."""
    keycloak = fetch(acme, prefix + KEYCLOAK_RFC8414)

    assert keycloak == fetch(acme, RFC8414_FIRST)


def test_response_types_say_nothing_is_issued_at_the_authorization_endpoint(
    acme: Service,
) -> None:
    """Both documents list only the response type "none"; the RFC 8414 one names no
    authorization endpoint, which RFC 8414 §2 allows when no grant type uses it."""
    oidc, oauth = fetch(acme, OIDC), fetch(acme, RFC8414_FIRST)

    assert oidc["response_types_supported"] == oauth["response_types_supported"] == ["none"]
    assert "authorization_endpoint" not in oauth
    assert not {"authorization_code", "implicit"} & set(oauth["grant_types_supported"])


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_advertised_authorization_endpoint_refuses_without_redirecting(
    acme: Service, method: str
) -> None:
    """The authorization endpoint the OpenID configuration names exists and answers 400
    unauthorized_client directly, even to a request naming a redirect_uri."""
    url = fetch(acme, OIDC)["authorization_endpoint"]
    params = {"response_type": "code", "client_id": "svc", "redirect_uri": "https://evil.test/"}

    response = acme.http.request(method, url, params=params)

    assert url == f"{acme.url}/realms/acme/protocol/openid-connect/auth"
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"
    assert "location" not in response.headers


@pytest.mark.parametrize(("alg", "expected"), [("ES256", ["ES256", "RS256"]), ("RS256", ["RS256"])])
def test_id_token_algorithms_start_with_the_realms_and_include_rs256(
    sqlite_service: Service, alg: str, expected: list[str]
) -> None:
    """id_token_signing_alg_values_supported names the realm's algorithm first, and RS256 as
    OpenID Connect Discovery §3 requires."""
    sqlite_service.admin(lambda a: a.create_realm("acme", alg=alg))

    document = fetch(sqlite_service, OIDC)

    assert document["id_token_signing_alg_values_supported"] == expected


@pytest.mark.parametrize("endpoint", ["token", "introspection", "revocation"])
def test_private_key_jwt_comes_with_its_signing_algorithms(acme: Service, endpoint: str) -> None:
    """Each endpoint that lists private_key_jwt lists the algorithms its assertions may use
    (RFC 8414 §2: required then)."""
    document = fetch(acme, RFC8414_FIRST)

    assert "private_key_jwt" in document[f"{endpoint}_endpoint_auth_methods_supported"]
    assert "RS256" in document[f"{endpoint}_endpoint_auth_signing_alg_values_supported"]


def test_every_advertised_grant_type_is_accepted_by_the_token_endpoint(acme: Service) -> None:
    """Each grant_types_supported value reaches its grant (a missing parameter at worst), never
    unsupported_grant_type, which an unlisted value gets."""
    grants = ("id_auth", "token-exchange", "jwt-bearer")
    new = acme.admin(
        lambda a: a.create_client("acme", "svc", refresh_tokens=True, grant_types=grants)
    )
    assert new.secret is not None
    token_url = fetch(acme, OIDC)["token_endpoint"]

    def error(grant_type: str) -> str | None:
        form = {"grant_type": grant_type, "client_id": "svc", "client_secret": new.secret}
        answer: dict[str, Any] = acme.http.post(token_url, data=form).json()
        return answer.get("error")

    errors = {grant: error(grant) for grant in fetch(acme, OIDC)["grant_types_supported"]}

    assert "id_auth" in errors
    assert "unsupported_grant_type" not in errors.values(), errors
    assert error("urn:example:unlisted") == "unsupported_grant_type"


def test_realm_names_in_urls_are_case_sensitive(acme: Service) -> None:
    """As in Keycloak, /realms/ACME is not realm acme: a realm's issuer URL is one exact string,
    so the same realm is never served under a second spelling of its name."""
    found = acme.http.get(acme.url + OIDC)
    other_case = acme.http.get(acme.url + OIDC.replace("acme", "ACME"))

    assert found.status_code == 200
    assert other_case.status_code == 404
