"""The route table: which paths are realm endpoints, in both path forms, and the methods each
takes; and the 405 and HEAD behaviour that follows from it over HTTP."""

from __future__ import annotations

import pytest

from tokensmith.server import _routes as routes

from ..conftest import Service


@pytest.mark.parametrize("prefix", ["", "/auth"])
@pytest.mark.parametrize("endpoint", routes.ENDPOINTS)
def test_every_realm_endpoint_matches_in_both_path_forms(
    prefix: str, endpoint: routes.Endpoint
) -> None:
    """Each endpoint of the table is found under /realms/{realm}, with and without /auth."""
    assert routes.match(f"{prefix}/realms/acme{endpoint.path}") == (endpoint, "acme")


@pytest.mark.parametrize("prefix", ["", "/auth"])
def test_rfc8414_metadata_path_puts_well_known_first(prefix: str) -> None:
    """RFC 8414 §3: the metadata sits at the well-known path followed by the issuer's path."""
    found = routes.match(f"{routes.RFC8414}{prefix}/realms/acme")

    assert found == (routes.AUTHORIZATION_SERVER, "acme")


@pytest.mark.parametrize(
    "path",
    [
        "/realms/acme",
        "/realms/acme/",
        "/realms/acme/protocol/openid-connect/token/",
        "/auth/auth/realms/acme/protocol/openid-connect/token",
        "/authx/realms/acme/protocol/openid-connect/token",
        f"{routes.RFC8414}/realms/acme/extra",
        "/health",
        "/connect/token",
    ],
)
def test_other_paths_are_not_realm_endpoints(path: str) -> None:
    """Anything else is left to the application (health, aliases) or is a 404."""
    assert routes.match(path) is None


def test_discovery_urls_come_from_the_table() -> None:
    """Endpoint URLs are the issuer followed by the table's path."""
    issuer = "https://auth.example.com/realms/acme"

    assert routes.url(issuer, routes.TOKEN) == issuer + "/protocol/openid-connect/token"


def test_wrong_method_is_405_with_allow_from_the_table(sqlite_service: Service) -> None:
    """A wrong method gets 405 whose Allow lists the endpoint's methods (OPTIONS too at a public
    document), at realm endpoints and token-path aliases alike; HEAD answers as GET without a
    body."""
    service = sqlite_service
    service.admin(lambda a: a.create_realm("acme", token_paths=["/connect/token"]))
    base = f"{service.url}/realms/acme"

    token = service.http.get(base + "/protocol/openid-connect/token")
    alias = service.http.put(service.url + "/connect/token")
    certs = service.http.post(base + "/protocol/openid-connect/certs")
    head = service.http.head(base + "/.well-known/openid-configuration")
    get = service.http.get(base + "/.well-known/openid-configuration")

    assert (token.status_code, token.headers["allow"]) == (405, "POST")
    assert (alias.status_code, alias.headers["allow"]) == (405, "POST")
    assert (certs.status_code, certs.headers["allow"]) == (405, "GET, HEAD, OPTIONS")
    assert token.json()["error"] == "invalid_request"
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"]
