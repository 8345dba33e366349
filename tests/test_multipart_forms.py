"""``multipart/form-data`` at the token, introspection and revocation endpoints over real HTTP:
read as urlencoded forms are (GBG's PHP sample sends it), under the same size limit and rules,
and every malformed body is a 4xx ``invalid_request``, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Service

BOUNDARY = "------------------------74bea3afce3fa0b5"
TOKEN, INTROSPECT, REVOKE = "token", "token/introspect", "revoke"


def multipart(fields: dict[str, str] | list[tuple[str, str]], boundary: str = BOUNDARY) -> bytes:
    """``fields`` as curl sends them with ``-F name=value`` (and PHP with an array)."""
    pairs = fields.items() if isinstance(fields, dict) else fields
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in pairs
    ]
    return ("".join(parts) + f"--{boundary}--\r\n").encode()


@pytest.fixture
def acme(sqlite_service: Service) -> tuple[Service, str]:
    """Realm acme with client svc (scope a, refresh tokens)."""
    sqlite_service.admin(lambda a: a.create_realm("acme"))
    new = sqlite_service.admin(
        lambda a: a.create_client("acme", "svc", scopes="a", refresh_tokens=True)
    )
    assert new.secret is not None
    return sqlite_service, new.secret


def url(service: Service, endpoint: str) -> str:
    return f"{service.url}/realms/acme/protocol/openid-connect/{endpoint}"


def send(service: Service, endpoint: str, payload: bytes, content_type: str | None = None) -> Any:
    """POST ``payload`` to one of realm acme's form endpoints as multipart/form-data."""
    headers = {"content-type": content_type or f"multipart/form-data; boundary={BOUNDARY}"}
    return service.http.post(url(service, endpoint), content=payload, headers=headers)


def test_token_endpoint_reads_a_multipart_form(acme: tuple[Service, str]) -> None:
    """client_credentials sent as multipart/form-data gets the same answer as urlencoded."""
    service, secret = acme
    fields = {"grant_type": "client_credentials", "client_id": "svc", "client_secret": secret}

    answer = send(service, TOKEN, multipart(fields))

    assert answer.status_code == 200, answer.text
    assert answer.json()["scope"] == "a"
    assert answer.headers["cache-control"] == "no-store"


def test_introspection_and_revocation_read_multipart_forms(acme: tuple[Service, str]) -> None:
    """Introspection (RFC 7662) and revocation (RFC 7009) read multipart forms too: a token is
    active, revoked, then inactive."""
    service, secret = acme
    creds = {"client_id": "svc", "client_secret": secret}
    token = send(service, TOKEN, multipart({"grant_type": "client_credentials", **creds})).json()
    form = multipart({"token": token["access_token"], **creds})

    before = send(service, INTROSPECT, form)
    revoked = send(service, REVOKE, form)
    after = send(service, INTROSPECT, form)

    assert before.json()["active"] is True
    assert revoked.status_code == 200, revoked.text
    assert after.json() == {"active": False}


@pytest.mark.parametrize("endpoint", [TOKEN, INTROSPECT, REVOKE])
@pytest.mark.parametrize(
    ("payload", "content_type"),
    [
        (multipart({"a": "1"}), "multipart/form-data"),
        (multipart({"a": "1"}), "multipart/form-data; boundary=other"),
        (multipart({"a": "1"})[:-12], None),
        (multipart([("a", "1"), ("a", "2")]), None),
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="f"; filename="a.pem"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\nkey\r\n--{BOUNDARY}--\r\n".encode(),
            None,
        ),
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="f"\r\n'
            f"Content-Type: multipart/mixed; boundary=inner\r\n\r\n--inner\r\n\r\nx\r\n--inner--"
            f"\r\n--{BOUNDARY}--\r\n".encode(),
            None,
        ),
        (multipart({"a": "1"}).replace(b"1", b"\xff\xfe"), None),
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="a"\r\n'
            f"Content-Transfer-Encoding: base64\r\n\r\nMQ==\r\n--{BOUNDARY}--\r\n".encode(),
            None,
        ),
        (multipart({"a": "1"}).replace(b'name="a"', b'name="a"' + b"; x=y" * 300), None),
        (multipart({f"p{i}": "1" for i in range(65)}), None),
    ],
    ids=[
        "no-boundary",
        "other-boundary",
        "unclosed",
        "duplicate",
        "file",
        "nested",
        "not-utf8",
        "base64",
        "oversized-headers",
        "too-many-parts",
    ],
)
def test_malformed_multipart_bodies_are_invalid_request(
    acme: tuple[Service, str], endpoint: str, payload: bytes, content_type: str | None
) -> None:
    """Missing or wrong boundaries, unclosed bodies, repeated names, files, nested parts, bad
    encodings, oversized part headers and floods are 400 invalid_request saying why."""
    service, _ = acme

    answer = send(service, endpoint, payload, content_type)

    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_request"
    assert answer.json()["error_description"]


def test_an_oversized_multipart_body_is_413_as_an_urlencoded_one(acme: tuple[Service, str]) -> None:
    """The body limit is the same for both encodings: over it, 413 invalid_request."""
    service, secret = acme
    fields = {"grant_type": "client_credentials", "client_id": "svc", "client_secret": secret}

    answer = send(service, TOKEN, multipart({**fields, "pad": "x" * 70_000}))

    assert answer.status_code == 413
    assert answer.json()["error"] == "invalid_request"
