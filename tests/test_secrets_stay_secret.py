"""Secrets and tokens never reach logs, error messages or repr."""

from __future__ import annotations

import logging

import pytest

from tokensmith.oauth import TokenResponse
from tokensmith.server import NewClient
from tokensmith.server._clientauth import credentials

from .conftest import Service, run_admin


def test_no_secret_or_token_in_logs_or_errors(
    sqlite_service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    """A session of good and bad requests logs nothing that holds a secret or a token."""
    service = sqlite_service
    caplog.set_level(logging.DEBUG)
    run_admin(service.settings, lambda a: a.create_realm("acme"))
    new = run_admin(service.settings, lambda a: a.create_client("acme", "svc", refresh_tokens=True))
    secret = new.secret
    assert secret is not None
    url = service.token_url("acme")
    seen: list[str] = [secret, "not-the-secret-0123456789"]

    good = service.http.post(
        url, data={"grant_type": "client_credentials", "client_id": "svc", "client_secret": secret}
    ).json()
    seen += [good["access_token"], good["refresh_token"]]
    bodies = [
        service.http.post(
            url,
            data={
                "grant_type": "client_credentials",
                "client_id": "svc",
                "client_secret": "not-the-secret-0123456789",
            },
        ).text,
        service.http.post(
            url,
            data={
                "grant_type": "refresh_token",
                "client_id": "svc",
                "client_secret": secret,
                "refresh_token": good["refresh_token"] + "x",
            },
        ).text,
        service.http.post(url + "?client_secret=" + secret, data={}).text,
    ]

    # httpx and httpcore are the test's own client (it logs the URL it was given); everything
    # else (tokensmith, uvicorn, SQLAlchemy, aiosqlite) is the service.
    service_logs = [
        r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))
    ]
    text = "\n".join(service_logs) + "".join(bodies)
    for value in seen:
        assert value not in text


def test_reprs_hide_secrets() -> None:
    """Credentials, new clients and token responses do not show secrets in repr."""
    creds = credentials({"client_id": "c", "client_secret": "s3cr3t-value"}, None)
    response = TokenResponse(access_token="tok-value", expires_in=1, refresh_token="ref-value")

    assert "s3cr3t-value" not in repr(creds)
    assert "tok-value" not in repr(response)
    assert "ref-value" not in repr(response)
    assert "secret=" not in repr(NewClient(client=None, secret="s3cr3t-value"))  # type: ignore[arg-type]
