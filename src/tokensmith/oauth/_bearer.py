"""Bearer tokens on the resource-server side (RFC 6750): reading the ``Authorization`` header,
writing ``WWW-Authenticate``, and verifying RFC 9068 JWT access tokens against a JWKS.

Refused outright: ``alg: none`` and any algorithm not allowed, an algorithm whose key type does
not match the key (HS/RS confusion), and keys carried by the token itself (``jwk``, ``jku``,
``x5u``, ``x5c``): a token never chooses the key that verifies it.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from ._errors import InsufficientScope, InvalidToken, OAuthError
from ._jose import b64url_decode

_FORBIDDEN_HEADERS = ("jwk", "jku", "x5u", "x5c")
_KTY = {
    "ES256": "EC",
    "ES384": "EC",
    "ES512": "EC",
    "RS256": "RSA",
    "RS384": "RSA",
    "RS512": "RSA",
    "PS256": "RSA",
    "PS384": "RSA",
    "PS512": "RSA",
    "EdDSA": "OKP",
}


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer …`` header; None when there is no header.

    Raises:
        InvalidToken: the header is not a Bearer credential with a token68 value.
    """
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise InvalidToken("the Authorization header must be 'Bearer <token>'")
    return token


def www_authenticate(realm: str, err: OAuthError | None = None) -> str:
    """The ``WWW-Authenticate`` value of RFC 6750 §3: no ``error`` when no token was sent."""
    parts = [f'Bearer realm="{_quoted(realm)}"']
    if err is not None:
        parts.append(f'error="{err.error}"')
        if err.description:
            parts.append(f'error_description="{_quoted(err.description)}"')
        if isinstance(err, InsufficientScope) and err.scope:
            parts.append(f'scope="{_quoted(err.scope)}"')
    return ", ".join(parts)


def _quoted(text: str) -> str:
    return "".join(c for c in text if c.isprintable() and c not in '"\\')


class UnknownKey(InvalidToken):
    """The token names a key (``kid``) the JWKS does not hold; a refetch may find it."""


@dataclass(frozen=True)
class PublicKeys:
    """A JWKS, ready for verifying: keys by ``kid``."""

    by_kid: Mapping[str, Any] = field(repr=False)

    @classmethod
    def from_jwks(cls, jwks: object) -> PublicKeys:
        """Import a JWKS document (``{"keys": [...]}``); keys without a ``kid`` are skipped.

        Raises:
            ValueError: the document is not a JWKS.
        """
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise ValueError("not a JWKS document")
        usable = [k for k in jwks["keys"] if isinstance(k, dict) and isinstance(k.get("kid"), str)]
        try:
            key_set = KeySet.import_key_set({"keys": usable})
        except (JoseError, ValueError, TypeError) as exc:
            raise ValueError(
                f"the JWKS holds a key that cannot be read ({type(exc).__name__})"
            ) from None
        return cls({key.kid: key for key in key_set.keys if key.kid})

    def __len__(self) -> int:
        return len(self.by_kid)


def verify_jwt_access_token(
    token: str,
    keys: PublicKeys,
    *,
    algorithms: Collection[str],
    issuer: str | None,
    audience: str | None,
    now: float,
    leeway: float = 30.0,
    typ: Collection[str] | None = ("at+jwt", "application/at+jwt"),
) -> dict[str, Any]:
    """Verify an RFC 9068 JWT access token and return its claims.

    Checks the signature with the key named by ``kid``, then ``typ``, ``iss``, ``aud``, ``exp``,
    ``nbf`` and ``iat`` (with ``leeway`` seconds of clock tolerance).

    Raises:
        UnknownKey: the ``kid`` is not in ``keys``.
        InvalidToken: anything else is wrong; the description says what.
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("the token is not a JWT (three dot-separated parts)")
    try:
        header = json.loads(b64url_decode(parts[0]))
        payload_bytes = b64url_decode(parts[1])
        signature = b64url_decode(parts[2])
    except (ValueError, UnicodeDecodeError):
        raise InvalidToken("the token is not valid base64url JSON") from None
    if not isinstance(header, dict):
        raise InvalidToken("the token header is not a JSON object")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none" or alg not in algorithms:
        allowed = ", ".join(sorted(algorithms))
        raise InvalidToken(
            f"the token algorithm {str(alg)[:20]!r} is not accepted (allowed: {allowed})"
        )
    if any(name in header for name in _FORBIDDEN_HEADERS):
        raise InvalidToken("the token carries its own key (jwk/jku/x5u/x5c); refused")
    if typ is not None and str(header.get("typ", "")).lower() not in {t.lower() for t in typ}:
        raise InvalidToken("the token is not an access token (typ is not at+jwt)")
    kid = header.get("kid")
    key = keys.by_kid.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise UnknownKey("the token was signed with a key this service does not know")
    if _KTY.get(alg) != key.key_type:
        raise InvalidToken("the token algorithm does not match its key type")
    algorithm = JWSRegistry.algorithms.get(alg)
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii", "replace")
    try:
        valid = algorithm is not None and algorithm.verify(signing_input, signature, key)
    except (JoseError, ValueError, TypeError):
        valid = False
    if not valid:
        raise InvalidToken("the token signature is not valid")
    try:
        claims = json.loads(payload_bytes)
    except (ValueError, UnicodeDecodeError):
        raise InvalidToken("the token payload is not JSON") from None
    if not isinstance(claims, dict):
        raise InvalidToken("the token payload is not a JSON object")
    check_claims(claims, issuer=issuer, audience=audience, now=now, leeway=leeway)
    return claims


def check_claims(
    claims: Mapping[str, Any],
    *,
    issuer: str | None,
    audience: str | None,
    now: float,
    leeway: float,
) -> None:
    """Check ``iss``, ``aud``, ``exp``, ``nbf`` and ``iat``.

    Raises:
        InvalidToken: a claim is missing or wrong.
    """
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise InvalidToken("the token has no exp")
    if now >= exp + leeway:
        raise InvalidToken("the token has expired")
    nbf = claims.get("nbf")
    if isinstance(nbf, int | float) and now + leeway < nbf:
        raise InvalidToken("the token is not valid yet (nbf)")
    iat = claims.get("iat")
    if isinstance(iat, int | float) and now + leeway < iat:
        raise InvalidToken("the token was issued in the future (iat)")
    if issuer is not None and claims.get("iss") != issuer:
        raise InvalidToken("the token is from another issuer")
    if audience is not None:
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if audience not in audiences:
            raise InvalidToken("the token is for another audience")


def require_scopes(claims: Mapping[str, Any], needed: Collection[str]) -> None:
    """Raise unless the token's ``scope`` holds every scope in ``needed``.

    Raises:
        InsufficientScope: some are missing; its ``scope`` names all that are needed.
    """
    if not needed:
        return
    granted = claims.get("scope")
    have = set(granted.split()) if isinstance(granted, str) else set()
    missing = [s for s in needed if s not in have]
    if missing:
        raise InsufficientScope(
            f"the token lacks scope {' '.join(missing)}", scope=" ".join(sorted(needed))
        )
