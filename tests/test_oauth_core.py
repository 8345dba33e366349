"""The protocol core, without I/O: forms, scopes, responses and errors."""

from __future__ import annotations

import json
import typing
from types import ModuleType

import pytest

import tokensmith
import tokensmith.client
import tokensmith.core
import tokensmith.oauth
import tokensmith.resource
import tokensmith.server
import tokensmith.store
from tokensmith.oauth import (
    InvalidClient,
    InvalidRequest,
    InvalidScope,
    OAuthError,
    ResponseStyle,
    TokenResponse,
    TokensmithError,
    error_body,
    format_scope,
    parse_form,
    parse_scope,
)

_ABSENT = object()


def test_form_treats_empty_values_as_omitted() -> None:
    """RFC 6749 §3.1: a parameter sent without a value is as if omitted."""
    assert parse_form(b"grant_type=client_credentials&username=&scope=openid") == {
        "grant_type": "client_credentials",
        "scope": "openid",
    }


def test_form_decodes_plus_and_percent() -> None:
    """'+' is a space and %3B a semicolon, as in Trulioo's documented body."""
    assert parse_form(b"scope=api+api2&client_secret=12345%3B") == {
        "scope": "api api2",
        "client_secret": "12345;",
    }


@pytest.mark.parametrize(
    "body", [b"a=1&a=2", b"a=\xff", b"&".join([b"x%d=1" % i for i in range(100)])]
)
def test_form_refuses_repeats_bad_utf8_and_floods(body: bytes) -> None:
    """Repeated parameters, invalid UTF-8 and too many fields are invalid_request."""
    with pytest.raises(InvalidRequest):
        parse_form(body)


def test_scope_parsing() -> None:
    """Scopes split on spaces; RFC 6749 §3.3 forbids quotes and backslashes."""
    assert parse_scope("api  api2") == {"api", "api2"}
    assert format_scope({"b", "a"}) == "a b"
    with pytest.raises(InvalidScope):
        parse_scope('a "b"')


def test_standard_response_is_compact_with_access_token_first() -> None:
    """The standard dialect is compact JSON starting with access_token (the seeds' sed needs it)."""
    body = TokenResponse("t", 300, "a", refresh_token="r", refresh_expires_in=1800).render()

    assert body.startswith(b'{"access_token":"t"')
    assert b" " not in body
    assert json.loads(body)["refresh_expires_in"] == 1800


def test_pascal_response() -> None:
    """The pascal dialect answers Trulioo's documented fields."""
    body = TokenResponse("t", 3599, "workflow.studio.api").render(ResponseStyle.PASCAL)

    assert (
        body == b'{"Token":"t","TokenType":"bearer","ExpiresIn":3599,"scope":"workflow.studio.api"}'
    )


def test_error_body_and_tree() -> None:
    """Errors render as RFC 6749 §5.2 JSON; invalid_client is 401; all share one root."""
    err = InvalidClient("unknown client")

    assert json.loads(error_body(err)) == {
        "error": "invalid_client",
        "error_description": "unknown client",
    }
    assert err.status_code == 401
    assert issubclass(InvalidClient, OAuthError)
    assert issubclass(OAuthError, TokensmithError)


@pytest.mark.parametrize(
    "module",
    [
        tokensmith,
        tokensmith.oauth,
        tokensmith.core,
        tokensmith.client,
        tokensmith.server,
        tokensmith.store,
        tokensmith.resource,
    ],
)
def test_public_names_are_complete(module: ModuleType) -> None:
    """Each package's __all__ lists exactly its public names (ruff's RUF022 keeps it sorted)."""
    names = set(module.__all__)
    public = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and not (isinstance(v, ModuleType) and n not in names)
        and getattr(typing, n, _ABSENT) is not v  # TYPE_CHECKING, Any: used for annotations
    }
    lazy = {n for n in names - public if hasattr(module, n)}  # served by a module __getattr__

    assert (public | lazy) - {"annotations"} == names - {"__version__"}


def test_client_import_needs_no_server_dependency() -> None:
    """Importing the client loads none of the server's dependencies."""
    import subprocess
    import sys

    code = (
        "import sys, tokensmith, tokensmith.client, tokensmith.cli._main as m; m.build_parser();"
        "print(sorted(k for k in sys.modules if k.split('.')[0] in "
        "('sqlalchemy','alembic','uvicorn','argon2','aiosqlite','asyncpg')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "[]"
