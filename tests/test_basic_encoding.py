"""HTTP Basic from clients that skip the form-encoding of RFC 6749 §2.3.1 (Authlib's client and
httpx-auth, as they come): a chosen secret holding '+', '%', a space and non-ASCII works read as
sent as well as form-decoded, and a wrong one still counts once against the rate limits."""

from __future__ import annotations

from base64 import b64encode
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from authlib.integrations.requests_client import OAuth2Session
from httpx_auth import OAuth2ClientCredentials

from tokensmith.oauth import jwt_claims

from .conftest import CHEAP_ARGON2, Service
from .test_auth_rate_limits import clear_of_window_edge

SECRET = "gr+en 100%41 tä é"
"""Read form-decoded, '+' becomes a space and '%41' an 'A'; 'ä' and 'é' are in Latin-1, which
Authlib encodes Basic credentials in."""


@pytest.fixture
def chosen(service: Service) -> Service:
    """Realm acme (at most 3 failures of a client an hour) with client svc holding
    :data:`SECRET` and client eu+svc (a '+' in its id) holding the same secret."""
    clear_of_window_edge(3600)
    service.admin(lambda a: a.create_realm("acme", client_auth_limit="3/hour"))
    for client_id in ("svc", "eu+svc"):
        service.admin(
            lambda a, c=client_id: a.create_client("acme", c, secret=SECRET, scopes="read"),
            hasher=CHEAP_ARGON2,
        )
    return service


def _client_id(token: str) -> Any:
    claims = jwt_claims(token)
    assert claims is not None
    return claims["client_id"]


def _basic(service: Service, user: str, password: str, encoding: str = "utf-8") -> httpx.Response:
    """A client_credentials request with ``user:password`` in Basic, not form-encoded."""
    value = b64encode(f"{user}:{password}".encode(encoding)).decode()
    return service.http.post(
        service.token_url("acme"),
        data={"grant_type": "client_credentials"},
        headers={"authorization": f"Basic {value}"},
    )


def test_authlib_client_secret_basic_with_a_chosen_secret(chosen: Service) -> None:
    """Authlib's OAuth2Session (client_secret_basic, Latin-1, not form-encoded) gets a token."""
    with OAuth2Session("svc", SECRET) as session:
        token = session.fetch_token(chosen.token_url("acme"), grant_type="client_credentials")

    assert _client_id(token["access_token"]) == "svc"


def test_httpx_auth_client_credentials_with_a_chosen_secret(chosen: Service) -> None:
    """httpx-auth's OAuth2ClientCredentials (Basic in UTF-8, not form-encoded) gets a token and
    sends it on the request it authenticates."""
    auth = OAuth2ClientCredentials(chosen.token_url("acme"), "svc", SECRET)

    sent = chosen.http.get(f"{chosen.url}/health", auth=auth).request

    scheme, _, token = sent.headers["authorization"].partition(" ")
    assert scheme == "Bearer"
    assert _client_id(token) == "svc"


def test_requests_oauthlib_client_credentials_with_a_chosen_secret(
    chosen: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """requests-oauthlib's OAuth2Session with a BackendApplicationClient (Basic by default, not
    form-encoded) gets a token (``OAUTHLIB_INSECURE_TRANSPORT=1``: the test is plain HTTP on
    loopback)."""
    from oauthlib.oauth2 import BackendApplicationClient
    from requests_oauthlib import OAuth2Session as RequestsOAuth2Session

    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    session = RequestsOAuth2Session(client=BackendApplicationClient(client_id="svc"))

    token = session.fetch_token(chosen.token_url("acme"), client_id="svc", client_secret=SECRET)

    assert _client_id(token["access_token"]) == "svc"


def test_form_encoded_basic_still_works(chosen: Service) -> None:
    """The RFC's own encoding (form-encoded id and secret, '%20' or '+' for the space) works."""
    encoded = _basic(chosen, "svc", quote(SECRET, safe=""))
    plus = _basic(chosen, "svc", quote(SECRET, safe="").replace("%20", "+"))

    assert (encoded.status_code, plus.status_code) == (200, 200), encoded.text


def test_a_client_id_holding_plus_sent_as_is(chosen: Service) -> None:
    """A client id holding '+' sent without form-encoding names that client, not 'eu svc'."""
    response = _basic(chosen, "eu+svc", SECRET)

    assert response.status_code == 200, response.text
    assert _client_id(response.json()["access_token"]) == "eu+svc"


def test_a_wrong_secret_read_two_ways_counts_once(chosen: Service) -> None:
    """A wrong secret that reads differently form-decoded and as sent fails three times before
    the client's limit of 3 failures refuses the fourth: each attempt counted once."""
    answers = [_basic(chosen, "svc", "wr+ng%41").status_code for _ in range(4)]

    assert answers == [401, 401, 401, 429]


def test_wrong_basic_credentials_stay_invalid_client(chosen: Service) -> None:
    """Neither reading of a wrong secret, nor Latin-1 bytes that are not UTF-8, let anyone in."""
    wrong = _basic(chosen, "svc", SECRET.replace("é", "e"), encoding="latin-1")
    decoded_not_raw = _basic(chosen, "svc", SECRET.replace("%41", "A"))

    assert wrong.status_code == 401
    assert decoded_not_raw.status_code == 401
