"""How a protected API answers a refused bearer token (RFC 6750 §3.1), as status, headers and the
RFC's JSON body."""

from __future__ import annotations

from tokensmith.oauth import InsufficientScope, InvalidToken
from tokensmith.resource import error_response


def test_a_missing_token_gets_401_with_a_bare_challenge_and_a_description() -> None:
    """No token: the challenge names no error (RFC 6750 §3.1), the body says one is needed."""
    status, headers, body = error_response("api", InvalidToken())

    assert status == 401
    assert headers["www-authenticate"] == 'Bearer realm="api"'
    assert body == b'{"error":"invalid_token","error_description":"a bearer token is required"}'


def test_a_missing_scope_gets_403_naming_the_scope() -> None:
    """A valid token without the scope: 403 insufficient_scope, in the challenge and the body."""
    err = InsufficientScope("the token lacks a scope", scope="write")

    status, headers, body = error_response("api", err)

    assert status == 403
    assert 'error="insufficient_scope"' in headers["www-authenticate"]
    assert 'scope="write"' in headers["www-authenticate"]
    assert body == (b'{"error":"insufficient_scope","error_description":"the token lacks a scope"}')
