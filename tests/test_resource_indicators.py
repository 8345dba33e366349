"""RFC 8707 resource indicators at the token endpoint: one or more ``resource`` parameters, each
one the client may name, become the token's ``aud``, and a refresh keeps them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tokensmith.client import ClientCredentials, TokenSource
from tokensmith.oauth import InvalidTarget
from tokensmith.server import AdminError

from .cli_run import run_cli
from .conftest import Service

ORDERS = "https://orders.example.com/"
BILLING = "https://billing.example.com/api"
AUDIT = "urn:example:audit"
OWN = "https://svc.example.com/"


@pytest.fixture
def acme(service: Service) -> tuple[Service, str]:
    """Realm acme with client svc (refresh tokens, audience OWN) that may name ORDERS, BILLING
    and AUDIT; its secret."""
    service.admin(lambda a: a.create_realm("acme"))
    new = service.admin(
        lambda a: a.create_client(
            "acme",
            "svc",
            scopes="read",
            refresh_tokens=True,
            audience=OWN,
            resources=[ORDERS, BILLING, AUDIT],
        )
    )
    assert new.secret is not None
    return service, new.secret


def _token(service: Service, secret: str, **form: str | list[str]) -> httpx.Response:
    data: dict[str, Any] = {"client_id": "svc", "client_secret": secret}
    data.setdefault("grant_type", "client_credentials")
    data.update(form)
    return service.http.post(service.token_url("acme"), data=data)


def _aud(service: Service, response: httpx.Response, audience: str | list[str]) -> Any:
    """The verified ``aud`` of the answer's access token, checked against ``audience``."""
    assert response.status_code == 200, response.text
    keys = {k["kid"]: jwt.PyJWK(k) for k in service.jwks("acme")["keys"]}
    token = response.json()["access_token"]
    key = keys[jwt.get_unverified_header(token)["kid"]]
    return jwt.decode(token, key, algorithms=["ES256"], audience=audience)["aud"]


def test_one_resource_is_the_tokens_audience(acme: tuple[Service, str]) -> None:
    """A request naming one resource gets a token whose aud is that resource."""
    service, secret = acme

    response = _token(service, secret, resource=ORDERS)

    assert _aud(service, response, ORDERS) == ORDERS


def test_repeated_resources_are_all_in_the_audience(acme: tuple[Service, str]) -> None:
    """Repeated resource parameters (RFC 8707 §2) give an aud listing each, in order, once."""
    service, secret = acme

    response = _token(service, secret, resource=[BILLING, AUDIT, BILLING])

    assert _aud(service, response, AUDIT) == [BILLING, AUDIT]


def test_without_resource_the_audience_is_the_default(acme: tuple[Service, str]) -> None:
    """A request naming no resource gets the client's audience, as before."""
    service, secret = acme

    assert _aud(service, _token(service, secret), OWN) == OWN


def test_the_default_audience_may_be_named(acme: tuple[Service, str]) -> None:
    """The client's own audience is a resource it may always name."""
    service, secret = acme

    assert _aud(service, _token(service, secret, resource=OWN), OWN) == OWN


@pytest.mark.parametrize(
    "resource",
    [
        "https://elsewhere.example.com/",  # absolute, but not the client's
        "https://orders.example.com",  # not the same string as ORDERS
        "orders",  # relative
        "https://orders.example.com/#top",  # a fragment
        "https://orders.example.com/\u00e9",  # not ASCII
    ],
)
def test_a_resource_the_client_may_not_name_is_invalid_target(
    acme: tuple[Service, str], resource: str
) -> None:
    """A resource that is not the client's, or not an absolute URI without a fragment, is
    400 invalid_target (RFC 8707 §2), even beside allowed ones."""
    service, secret = acme

    response = _token(service, secret, resource=[ORDERS, resource])

    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_target"


def test_a_resource_holding_whitespace_is_refused(acme: tuple[Service, str]) -> None:
    """One resource value holding two URIs is refused rather than read as two resources."""
    service, secret = acme

    response = _token(service, secret, resource=f"{ORDERS} {BILLING}")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_other_parameters_still_may_not_repeat(acme: tuple[Service, str]) -> None:
    """Only resource may repeat: a repeated scope is still invalid_request (RFC 6749 §3.2)."""
    service, secret = acme

    response = _token(service, secret, scope=["read", "read"])

    assert response.status_code == 400
    assert "repeated" in response.json()["error_description"]


def test_refresh_keeps_the_resources(acme: tuple[Service, str]) -> None:
    """A refresh naming no resource gets a token for every resource of the first one, and its
    refresh token keeps them."""
    service, secret = acme
    first = _token(service, secret, resource=[ORDERS, BILLING]).json()

    refreshed = _token(
        service, secret, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    again = _token(
        service,
        secret,
        grant_type="refresh_token",
        refresh_token=refreshed.json()["refresh_token"],
    )

    assert _aud(service, refreshed, ORDERS) == [ORDERS, BILLING]
    assert _aud(service, again, ORDERS) == [ORDERS, BILLING]


def test_refresh_may_narrow_the_resources_for_one_token(acme: tuple[Service, str]) -> None:
    """A refresh naming one of its resources gets a token for that one; the refresh token it
    gets back still holds all of them (RFC 8707 §2.2)."""
    service, secret = acme
    first = _token(service, secret, resource=[ORDERS, BILLING]).json()

    narrowed = _token(
        service,
        secret,
        grant_type="refresh_token",
        refresh_token=first["refresh_token"],
        resource=BILLING,
    )
    after = _token(
        service,
        secret,
        grant_type="refresh_token",
        refresh_token=narrowed.json()["refresh_token"],
    )

    assert _aud(service, narrowed, BILLING) == BILLING
    assert _aud(service, after, ORDERS) == [ORDERS, BILLING]


@pytest.mark.parametrize("first", [[ORDERS], []])
def test_refresh_never_widens_the_resources(acme: tuple[Service, str], first: list[str]) -> None:
    """A refresh naming a resource its token was not issued for (one the client may name
    otherwise) is invalid_target, and the refresh token stays good."""
    service, secret = acme
    issued = _token(service, secret, resource=first).json()

    widened = _token(
        service,
        secret,
        grant_type="refresh_token",
        refresh_token=issued["refresh_token"],
        resource=AUDIT,
    )
    retried = _token(
        service, secret, grant_type="refresh_token", refresh_token=issued["refresh_token"]
    )

    assert widened.status_code == 400
    assert widened.json()["error"] == "invalid_target"
    assert retried.status_code == 200


def test_tokensmith_client_sends_repeated_resources(acme: tuple[Service, str]) -> None:
    """tokensmith's TokenSource with ClientCredentials(resource=[…]) gets a token for both."""
    service, secret = acme
    grant = ClientCredentials(resource=[ORDERS, AUDIT])

    with TokenSource(
        service.token_url("acme"), client_id="svc", client_secret=secret, grant=grant
    ) as source:
        token = source.token()

    answer = httpx.Response(200, json={"access_token": token.access_token})
    assert _aud(service, answer, AUDIT) == [ORDERS, AUDIT]


def test_tokensmith_client_raises_invalid_target(acme: tuple[Service, str]) -> None:
    """A resource the client may not name surfaces as the client's InvalidTarget error."""
    service, secret = acme
    grant = ClientCredentials(resource="https://elsewhere.example.com/")

    with (
        TokenSource(
            service.token_url("acme"), client_id="svc", client_secret=secret, grant=grant
        ) as source,
        pytest.raises(InvalidTarget),
    ):
        source.token()


def test_admin_refuses_a_resource_that_is_not_an_absolute_uri(service: Service) -> None:
    """A client's resource must be an absolute URI without a fragment."""
    service.admin(lambda a: a.create_realm("acme"))

    with pytest.raises(AdminError, match="absolute URI"):
        service.admin(lambda a: a.create_client("acme", "svc", resources=["orders"]))


def test_cli_sets_and_shows_a_clients_resources(tmp_path: Path) -> None:
    """`client create --resource` (repeated) stores them and `client show` prints them."""
    database = f"sqlite:///{tmp_path / 'ts.db'}"

    def cli(*args: str) -> str:
        done = run_cli(*args, "--database", database, cwd=tmp_path, env=dict(os.environ))
        assert done.returncode == 0, done.stderr
        return done.stdout

    cli("db", "upgrade")
    cli("realm", "create", "acme")
    cli("client", "create", "acme", "svc", "--resource", ORDERS, "--resource", AUDIT)

    assert f"resources:       {ORDERS} {AUDIT}\n" in cli("client", "show", "acme", "svc")
