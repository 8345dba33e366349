"""Reading token responses: RFC 6749 §5.1 and declared dialects such as Trulioo's PascalCase.

Expiry is taken, in this order, from ``expires_in`` (a number or a numeric string),
``expires_at``, the access token's own JWT ``exp`` (read without verifying: the client only needs
to know when to renew), then a configured default. Absolute times are moved onto this machine's
clock using the response's ``Date`` header.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from ..oauth import jwt_claims
from ._errors import InvalidTokenResponse
from ._token import Token

_SKEW_THRESHOLD = 2.0


@dataclass(frozen=True)
class Dialect:
    """Where a token response keeps each field."""

    access_token: str = "access_token"
    token_type: str = "token_type"
    expires_in: str = "expires_in"
    expires_at: str = "expires_at"
    scope: str = "scope"
    refresh_token: str = "refresh_token"
    refresh_expires_in: str = "refresh_expires_in"


STANDARD = Dialect()
"""RFC 6749 §5.1 (and Keycloak's ``refresh_expires_in``)."""

PASCAL = Dialect(
    access_token="Token",
    token_type="TokenType",
    expires_in="ExpiresIn",
    expires_at="ExpiresAt",
    scope="scope",
    refresh_token="RefreshToken",
    refresh_expires_in="RefreshExpiresIn",
)
"""Trulioo's ``{"Token":…,"TokenType":"bearer","ExpiresIn":3599,"scope":…}``."""


def _json_kind(value: object) -> str:
    """What a JSON-decoded value is, in JSON's words (for error messages)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "an array" if isinstance(value, list) else "an object"


def parse_token_response(
    body: bytes,
    *,
    dialect: Dialect = STANDARD,
    now: float,
    date_header: str | None = None,
    default_ttl: float | None = None,
) -> Token:
    """The token in a successful token response.

    Raises:
        InvalidTokenResponse: the body is not a JSON object, has no access token (the message
            says whether the field is missing, null, empty or not a string, and names the fields
            there were), or no way to tell when the token expires.
    """
    try:
        data = json.loads(body)
    except ValueError:
        raise InvalidTokenResponse(
            "the token endpoint answered 2xx with a body that is not JSON"
        ) from None
    if not isinstance(data, dict):
        raise InvalidTokenResponse(
            "the token endpoint answered 2xx with JSON that is not an object"
        )
    access_token = data.get(dialect.access_token)
    if not isinstance(access_token, str) or not access_token:
        seen = ", ".join(sorted(str(k) for k in data)) or "none"
        hint = ""
        if "Token" in data and dialect is STANDARD:
            hint = "; this looks like a PascalCase answer: use dialect=PASCAL"
        elif "access_token" in data and dialect is not STANDARD:
            hint = "; this looks like a standard answer: use dialect=STANDARD"
        name = dialect.access_token
        if name not in data:
            problem = f"has no {name!r} field"
        elif access_token is None:
            problem = f"has the field {name!r}, but it is null"
        elif access_token == "":
            problem = f"has the field {name!r}, but it is empty"
        else:
            problem = f"has the field {name!r}, but it is {_json_kind(access_token)}, not a string"
        raise InvalidTokenResponse(f"the token response {problem} (fields: {seen}){hint}")
    skew = _skew(date_header, now)
    expires_at = _expiry(data, dialect, access_token, now, skew, default_ttl)
    token_type = data.get(dialect.token_type)
    scope = data.get(dialect.scope)
    refresh_token = data.get(dialect.refresh_token)
    refresh_in = _number(data.get(dialect.refresh_expires_in))
    return Token(
        access_token=access_token,
        token_type=token_type if isinstance(token_type, str) and token_type else "Bearer",
        expires_at=expires_at,
        issued_at=now,
        scope=scope if isinstance(scope, str) else None,
        refresh_token=refresh_token if isinstance(refresh_token, str) and refresh_token else None,
        refresh_expires_at=now + refresh_in if refresh_in and refresh_in > 0 else None,
        raw=data,
    )


def _expiry(
    data: dict[str, Any],
    dialect: Dialect,
    access_token: str,
    now: float,
    skew: float,
    default_ttl: float | None,
) -> float:
    expires_in = _number(data.get(dialect.expires_in))
    if expires_in is not None:
        return now + expires_in
    expires_at = _number(data.get(dialect.expires_at))
    if expires_at is not None:
        return expires_at + skew
    claims = jwt_claims(access_token)
    exp = _number(claims.get("exp")) if claims else None
    if exp is not None:
        return exp + skew
    if default_ttl is not None:
        return now + default_ttl
    raise InvalidTokenResponse(
        f"the token response says nothing of expiry (no {dialect.expires_in!r}, "
        f"no {dialect.expires_at!r}, and the token is not a JWT with 'exp'); set default_ttl"
    )


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _skew(date_header: str | None, now: float) -> float:
    """How far this machine's clock is ahead of the server's, from the ``Date`` header."""
    if not date_header:
        return 0.0
    try:
        server_now = parsedate_to_datetime(date_header).timestamp()
    except (TypeError, ValueError, IndexError):
        return 0.0
    skew = now - server_now
    # Date has one-second resolution: ignore differences it cannot resolve.
    return skew if abs(skew) > _SKEW_THRESHOLD else 0.0
