"""``openid`` names no access, as in Keycloak: python-keycloak's ``token()``, which always sends
``scope=openid``, gets the client's default scopes beside ``openid``, in the answer and the token,
and keeps them on refresh."""

from __future__ import annotations

from typing import Any

import pytest
from keycloak import KeycloakOpenID

from tokensmith.oauth import jwt_claims

from .conftest import Service


@pytest.fixture
def keycloak(service: Service) -> KeycloakOpenID:
    """python-keycloak for realm kc's client app (scopes read write admin; default read write;
    refresh tokens), over the legacy /auth prefix as Keycloak clients use it."""
    service.admin(lambda a: a.create_realm("kc"))
    new = service.admin(
        lambda a: a.create_client(
            "kc", "app", scopes="read write admin", default_scopes="read write", refresh_tokens=True
        )
    )
    return KeycloakOpenID(
        server_url=service.url + "/auth/",
        realm_name="kc",
        client_id="app",
        client_secret_key=new.secret,
    )


def _scope(token: dict[str, Any]) -> tuple[str, str]:
    """The scope of a token answer, and the scope claim of its access token."""
    claims = jwt_claims(token["access_token"])
    assert claims is not None
    return token["scope"], claims["scope"]


def test_openid_alone_gets_the_default_scopes_beside_it(keycloak: KeycloakOpenID) -> None:
    """token() with its default scope=openid is granted openid and the client's default
    scopes, in the answer and in the access token."""
    token = keycloak.token(grant_type="client_credentials")

    assert _scope(token) == ("openid read write", "openid read write")


def test_openid_with_named_scopes_gets_those_only(keycloak: KeycloakOpenID) -> None:
    """openid beside named scopes changes nothing: the request gets what it names."""
    token = keycloak.token(grant_type="client_credentials", scope="openid admin")

    assert _scope(token) == ("admin openid", "admin openid")


def test_refresh_keeps_the_scopes_granted_beside_openid(keycloak: KeycloakOpenID) -> None:
    """refresh_token() (no scope) and a refresh naming only openid keep every scope granted."""
    token = keycloak.token(grant_type="client_credentials")

    refreshed = keycloak.refresh_token(token["refresh_token"])
    again = keycloak.token(
        grant_type="refresh_token", refresh_token=refreshed["refresh_token"], scope="openid"
    )

    assert _scope(refreshed) == ("openid read write", "openid read write")
    assert _scope(again) == ("openid read write", "openid read write")


def test_openid_never_widens_a_refresh(keycloak: KeycloakOpenID) -> None:
    """A refresh naming openid and a scope its token was not granted is invalid_scope."""
    from keycloak.exceptions import KeycloakPostError

    token = keycloak.token(grant_type="client_credentials")

    with pytest.raises(KeycloakPostError) as refused:
        keycloak.token(
            grant_type="refresh_token", refresh_token=token["refresh_token"], scope="openid admin"
        )

    assert refused.value.response_code == 400
    assert b"invalid_scope" in refused.value.response_body
