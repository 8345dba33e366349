"""Secrets and tokens never reach logs, error messages or repr."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from tokensmith.oauth import TokenResponse
from tokensmith.server import NewClient
from tokensmith.server._clientauth import credentials

from .conftest import Service, make_settings, run_admin
from .serve_process import serving

WRONG = "not-the-secret-0123456789"


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("--workers", "1"), id="1-worker-default-stack"),
        pytest.param(("--workers", "2", "--loop", "asyncio", "--http", "h11"), id="2-workers-h11"),
        pytest.param(("--workers", "2", "--log-format", "json"), id="2-workers-json"),
    ],
)
def test_serve_output_holds_no_secret_or_token(tmp_path: Path, args: tuple[str, ...]) -> None:
    """`tokensmith serve --access-log --log-level trace` (every log option on, in either log
    format) writes no secret or token to stdout or stderr, whether it came in the body, a Basic
    header, a Bearer header or the query string."""
    settings = make_settings(f"sqlite:///{tmp_path / 'tokensmith.db'}")
    run_admin(settings, lambda a: a.create_realm("acme"))
    new = run_admin(settings, lambda a: a.create_client("acme", "svc", refresh_tokens=True))
    secret = new.secret
    assert secret is not None
    seen = [secret, WRONG]

    with (
        serving(tmp_path, settings, "--access-log", "--log-level", "trace", *args) as service,
        httpx.Client(
            base_url=service.url + "/realms/acme/protocol/openid-connect", timeout=10
        ) as c,
    ):
        basic = ("svc", secret)
        cc = {"grant_type": "client_credentials"}
        body = c.post("/token", data={**cc, "client_id": "svc", "client_secret": secret}).json()
        header = c.post("/token", data=cc, auth=basic).json()
        refreshed = c.post(
            "/token",
            data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
            auth=basic,
        ).json()
        seen += [body["access_token"], body["refresh_token"], header["access_token"]]
        seen += [refreshed["access_token"], refreshed["refresh_token"]]
        c.post("/token", data={**cc, "client_id": "svc", "client_secret": WRONG})
        c.post("/token", data=cc, auth=("svc", WRONG))
        c.post("/token", params={**cc, "client_id": "svc", "client_secret": secret})
        c.post("/token", params={"client_secret": secret}, data={**cc, "client_id": "svc"})
        c.post("/token", params={"refresh_token": refreshed["refresh_token"]}, auth=basic)
        c.post(
            "/token",
            data={"grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"] + "x"},
            auth=basic,
        )
        for token in (body["access_token"], refreshed["refresh_token"]):
            c.post("/token/introspect", data={"token": token}, auth=basic)
        c.post("/token/introspect", data={"token": body["access_token"]}, auth=("svc", WRONG))
        c.get("/certs", params={"access_token": header["access_token"]})
        c.get("/certs", headers={"Authorization": "Bearer " + header["access_token"]})
        c.post("/revoke", data={"token": header["access_token"]}, auth=basic)
        c.post("/revoke", data={"token": refreshed["refresh_token"]}, auth=basic)
        # Presenting a rotated refresh token again is reuse: the service revokes the family.
        c.post(
            "/token",
            data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
            auth=basic,
        )

    output = service.output()
    if "json" in args:
        assert (
            '"path":"/realms/acme/protocol/openid-connect/token","http":"1.1","status":200'
            in output
        )
        assert '"level":"trace"' in output
        assert '"event":"refresh_token_reused"' in output
    else:
        assert '"POST /realms/acme/protocol/openid-connect/token HTTP/1.1" 200' in output
        assert "TRACE" in output
        assert "event=refresh_token_reused" in output
    for value in seen:
        assert value not in output


def test_no_secret_or_token_in_logs_or_errors(
    sqlite_service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    """A session of good and bad requests against the app in this process logs nothing that holds
    a secret or a token on any logger (tokensmith, uvicorn, SQLAlchemy, aiosqlite) at DEBUG."""
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
