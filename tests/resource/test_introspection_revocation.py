"""The service's RFC 7662 introspection and RFC 7009 revocation endpoints, on SQLite and
PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from tokensmith.oauth import GRANT_TOKEN_EXCHANGE, TOKEN_TYPE_ACCESS

from ..conftest import Service, eventually


@pytest.fixture
def realm(service: Service) -> tuple[Service, dict[str, str]]:
    """Realm acme with clients svc (refresh tokens), other, and realm beta with client b."""
    service.admin(lambda a: a.create_realm("acme"))
    service.admin(lambda a: a.create_realm("beta"))
    secrets = {}
    for realm_name, client, refresh in (
        ("acme", "svc", True),
        ("acme", "other", False),
        ("beta", "b", False),
    ):
        new = service.admin(
            lambda a, r=realm_name, c=client, f=refresh: a.create_client(
                r, c, scopes="read write", default_scopes="read", refresh_tokens=f
            )
        )
        secrets[client] = new.secret
    return service, secrets


def call(service: Service, realm: str, endpoint: str, client: str, secret: str, **form: str) -> Any:
    url = f"{service.url}/realms/{realm}/protocol/openid-connect/{endpoint}"
    return service.http.post(url, data={"client_id": client, "client_secret": secret, **form})


def tokens(service: Service, realm: str, client: str, secret: str) -> dict[str, Any]:
    body: dict[str, Any] = call(
        service, realm, "token", client, secret, grant_type="client_credentials"
    ).json()
    return body


def test_introspection_of_a_valid_access_token(realm: tuple[Service, dict[str, str]]) -> None:
    """An access token of the realm is active with its claims."""
    service, s = realm
    access = tokens(service, "acme", "svc", s["svc"])["access_token"]

    answer = call(service, "acme", "token/introspect", "other", s["other"], token=access)

    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["active"] is True
    assert body["client_id"] == "svc"
    assert body["scope"] == "read"
    assert body["token_type"] == "Bearer"
    assert {"exp", "iat", "iss", "aud", "jti", "sub"} <= set(body)


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "x" * 43])
def test_introspection_of_unknown_tokens_is_inactive(
    realm: tuple[Service, dict[str, str]], token: str
) -> None:
    """Anything unknown is {"active": false} and nothing more."""
    service, s = realm

    answer = call(service, "acme", "token/introspect", "svc", s["svc"], token=token)

    assert answer.json() == {"active": False}


def test_introspection_of_expired_and_foreign_tokens(realm: tuple[Service, dict[str, str]]) -> None:
    """A token of another realm, or one past its exp, is inactive."""
    service, s = realm
    foreign = tokens(service, "beta", "b", s["b"])["access_token"]
    mine = tokens(service, "acme", "svc", s["svc"])["access_token"]

    other_realm = call(service, "acme", "token/introspect", "svc", s["svc"], token=foreign)
    service.clock.advance(301)
    expired = call(service, "acme", "token/introspect", "svc", s["svc"], token=mine)

    assert other_realm.json() == {"active": False}
    assert expired.json() == {"active": False}


def test_introspection_needs_client_authentication(realm: tuple[Service, dict[str, str]]) -> None:
    """Without valid client credentials introspection is invalid_client."""
    service, _ = realm

    answer = call(service, "acme", "token/introspect", "svc", "wrong", token="x")

    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


def test_refresh_token_introspection_and_revocation(realm: tuple[Service, dict[str, str]]) -> None:
    """A refresh token is active until revoked; revoking it revokes its family."""
    service, s = realm
    issued = tokens(service, "acme", "svc", s["svc"])
    refresh = issued["refresh_token"]

    before = call(
        service,
        "acme",
        "token/introspect",
        "svc",
        s["svc"],
        token=refresh,
        token_type_hint="refresh_token",
    ).json()
    revoked = call(service, "acme", "revoke", "svc", s["svc"], token=refresh)
    after = call(service, "acme", "token/introspect", "svc", s["svc"], token=refresh).json()
    use = call(
        service, "acme", "token", "svc", s["svc"], grant_type="refresh_token", refresh_token=refresh
    )

    assert before["active"] is True
    assert before["token_type"] == "refresh_token"
    assert before["client_id"] == "svc"
    assert revoked.status_code == 200
    assert after == {"active": False}
    assert use.json()["error"] == "invalid_grant"


def test_access_token_revocation_by_jti(realm: tuple[Service, dict[str, str]]) -> None:
    """A revoked access token is inactive at introspection; revoking twice is fine."""
    service, s = realm
    access = tokens(service, "acme", "svc", s["svc"])["access_token"]

    first = call(
        service, "acme", "revoke", "svc", s["svc"], token=access, token_type_hint="access_token"
    )
    second = call(service, "acme", "revoke", "svc", s["svc"], token=access)
    answer = call(service, "acme", "token/introspect", "other", s["other"], token=access)

    assert first.status_code == second.status_code == 200
    assert answer.json() == {"active": False}


def test_revocation_of_unknown_and_foreign_tokens(realm: tuple[Service, dict[str, str]]) -> None:
    """Unknown tokens answer 200 (RFC 7009 §2.2); another client's token is refused."""
    service, s = realm
    access = tokens(service, "acme", "svc", s["svc"])["access_token"]

    unknown = call(service, "acme", "revoke", "svc", s["svc"], token="never-issued")
    foreign = call(service, "acme", "revoke", "other", s["other"], token=access)
    missing = call(service, "acme", "revoke", "svc", s["svc"])
    still = call(service, "acme", "token/introspect", "svc", s["svc"], token=access).json()

    assert unknown.status_code == 200
    assert foreign.status_code == 400
    assert foreign.json()["error"] == "unauthorized_client"
    assert missing.json()["error"] == "invalid_request"
    assert still["active"] is True


def test_discovery_lists_introspection_and_revocation(
    realm: tuple[Service, dict[str, str]],
) -> None:
    """Both endpoints are in the realm's discovery documents."""
    service, _ = realm

    oidc = service.http.get(f"{service.url}/realms/acme/.well-known/openid-configuration").json()

    assert (
        oidc["introspection_endpoint"]
        == f"{service.url}/realms/acme/protocol/openid-connect/token/introspect"
    )
    assert (
        oidc["revocation_endpoint"] == f"{service.url}/realms/acme/protocol/openid-connect/revoke"
    )


def test_tokens_of_a_disabled_or_deleted_client_are_inactive(
    realm: tuple[Service, dict[str, str]],
) -> None:
    """RFC 7662: a token that would not be honoured is not active: access and refresh tokens of
    a disabled client are inactive until it is enabled again, and stay inactive once deleted."""
    service, s = realm
    issued = tokens(service, "acme", "svc", s["svc"])

    def active() -> tuple[bool, bool]:
        return tuple(  # type: ignore[return-value]
            call(service, "acme", "token/introspect", "other", s["other"], token=t).json()["active"]
            for t in (issued["access_token"], issued["refresh_token"])
        )

    assert active() == (True, True)
    service.admin(lambda a: a.set_client_enabled("acme", "svc", False))
    assert eventually(lambda: active() == (False, False))
    service.admin(lambda a: a.set_client_enabled("acme", "svc", True))
    assert eventually(lambda: active() == (True, True))
    service.admin(lambda a: a.delete_client("acme", "svc"))
    assert eventually(lambda: active()[0] is False)


def test_revoked_access_token_cannot_be_exchanged(realm: tuple[Service, dict[str, str]]) -> None:
    """RFC 8693 token exchange refuses a subject token that was revoked (RFC 7009)."""
    service, s = realm
    exchanger = service.admin(
        lambda a: a.create_client("acme", "exchanger", grant_types=["token-exchange"])
    )
    assert exchanger.secret is not None
    access = tokens(service, "acme", "svc", s["svc"])["access_token"]

    def exchange() -> Any:
        return call(
            service,
            "acme",
            "token",
            "exchanger",
            exchanger.secret,  # type: ignore[arg-type]
            grant_type=GRANT_TOKEN_EXCHANGE,
            subject_token=access,
            subject_token_type=TOKEN_TYPE_ACCESS,
        )

    before = exchange()
    call(service, "acme", "revoke", "svc", s["svc"], token=access)
    after = exchange()

    assert before.status_code == 200, before.text
    assert after.status_code == 400
    assert after.json()["error"] == "invalid_grant"
    assert "revoked" in after.json()["error_description"]
