"""Bearer tokens on the resource-server side (RFC 6750): reading the ``Authorization`` header,
writing ``WWW-Authenticate``, and verifying RFC 9068 JWT access tokens against a JWKS.

Refused outright: ``alg: none`` and any algorithm not allowed, an algorithm whose key type does
not match the key (HS/RS confusion), and keys carried by the token itself (``jwk``, ``jku``,
``x5u``, ``x5c``): a token never chooses the key that verifies it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from ._errors import InsufficientScope, InvalidToken, OAuthError, echo
from ._jose import KEY_TYPES, MalformedJWT, read_jwt

_FORBIDDEN_HEADERS = ("jwk", "jku", "x5u", "x5c")


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
    """The token names a key (``kid``) the JWKS does not hold, or no key fits a token without a
    ``kid``; a refetch may find it."""


class BadSignature(InvalidToken):
    """No key of the JWKS that fits the token verifies its signature."""


_MAX_CANDIDATES = 8  # keys tried for a token without kid; bounds the work a forged token causes
_MAX_NUMERIC_DATE = 253_402_300_799  # 9999-12-31T23:59:59Z


@dataclass(frozen=True)
class PublicKeys:
    """A JWKS, ready for verifying: every usable key, and those that name a ``kid`` by it."""

    by_kid: Mapping[str, Any] = field(repr=False)
    keys: tuple[tuple[Any, str | None], ...] = field(default=(), repr=False)
    """Each key with its ``kid`` as the document named it (None: the document gave none)."""

    @classmethod
    def from_jwks(cls, jwks: object) -> PublicKeys:
        """Import a JWKS document (``{"keys": [...]}``). Keys without ``kid`` are legal (RFC 7517
        §4.5) and kept; encryption keys (``use: enc``) and keys that cannot be read are skipped.

        Raises:
            ValueError: the document is not a JWKS.
        """
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise ValueError("not a JWKS document")
        keys: list[tuple[Any, str | None]] = []
        for entry in jwks["keys"]:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            try:
                key = KeySet.import_key_set({"keys": [entry]}).keys[0]
            except (JoseError, ValueError, TypeError, KeyError, IndexError):
                continue
            kid = entry.get("kid")
            keys.append((key, kid if isinstance(kid, str) else None))
        return cls({kid: key for key, kid in keys if kid is not None}, tuple(keys))

    def __len__(self) -> int:
        return len(self.keys)

    def candidates(self, kid: object, alg: str) -> list[Any]:
        """The keys that may have signed a token with header ``kid`` and ``alg``: the key named
        ``kid``; failing that (or without ``kid``), keys without a ``kid`` of their own (or every
        key, for a token without one) whose type and ``alg`` fit (RFC 7515 §4.1.4: ``kid`` is
        a hint)."""
        if isinstance(kid, str) and kid in self.by_kid:
            return [self.by_kid[kid]]
        kty = KEY_TYPES.get(alg)
        return [
            key
            for key, named in self.keys
            if (kid is None or named is None) and key.key_type == kty and key.get("alg", alg) == alg
        ][:_MAX_CANDIDATES]


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

    Checks the header (``alg``, no embedded keys, no ``crit`` extension, ``typ``), the signature
    with the key named by ``kid`` (or the fitting keys when there is none), then ``iss``, ``aud``,
    ``exp``, ``nbf`` and ``iat`` (with ``leeway`` seconds of clock tolerance).

    Raises:
        UnknownKey: no key of ``keys`` may have signed it.
        BadSignature: the keys that may have signed it do not verify it.
        InvalidToken: anything else is wrong; the description says what.
    """
    try:
        jwt = read_jwt(token)
    except MalformedJWT as exc:
        raise InvalidToken(str(exc)) from None
    header = jwt.header
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none" or alg not in algorithms:
        allowed = ", ".join(sorted(algorithms))
        raise InvalidToken(
            f"the token algorithm {echo(str(alg))!r} is not accepted (allowed: {allowed})"
        )
    if any(name in header for name in _FORBIDDEN_HEADERS):
        raise InvalidToken("the token carries its own key (jwk/jku/x5u/x5c); refused")
    if "crit" in header:  # RFC 7515 §4.1.11: we understand no extension, so refuse them all
        raise InvalidToken(
            "the token header names critical extensions (crit) that are not understood"
        )
    if typ is not None and str(header.get("typ", "")).lower() not in {t.lower() for t in typ}:
        raise InvalidToken("the token is not an access token (typ is not at+jwt)")
    candidates = keys.candidates(header.get("kid"), alg)
    if not candidates:
        raise UnknownKey("the token was signed with a key this service does not know")
    algorithm = JWSRegistry.algorithms.get(alg)
    if algorithm is None or not any(
        _verifies(algorithm, jwt.signing_input, jwt.signature, key) for key in candidates
    ):
        raise BadSignature("the token signature is not valid")
    check_claims(jwt.claims, issuer=issuer, audience=audience, now=now, leeway=leeway)
    return jwt.claims


def _verifies(algorithm: Any, signing_input: bytes, signature: bytes, key: Any) -> bool:
    try:
        return bool(algorithm.verify(signing_input, signature, key))
    except (JoseError, ValueError, TypeError):
        return False


def numeric_date(claims: Mapping[str, Any], name: str) -> float | None:
    """The claim ``name`` as a NumericDate (RFC 7519 §2): None when absent.

    Raises:
        InvalidToken: it is not a finite number between 0 and the year 9999.
    """
    value = claims.get(name)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 <= value <= _MAX_NUMERIC_DATE  # False for NaN
    ):
        raise InvalidToken(f"the token's {name} is not a valid NumericDate")
    return float(value)


def check_claims(
    claims: Mapping[str, Any],
    *,
    issuer: str | None,
    audience: str | None,
    now: float,
    leeway: float,
) -> None:
    """Check ``iss``, ``aud``, ``exp``, ``nbf`` and ``iat``; the dates must be finite numbers in
    range (so ``exp`` can never mean "never").

    Raises:
        InvalidToken: a claim is missing or wrong.
    """
    exp = numeric_date(claims, "exp")
    if exp is None:
        raise InvalidToken("the token has no exp")
    if now >= exp + leeway:
        raise InvalidToken("the token has expired")
    nbf = numeric_date(claims, "nbf")
    if nbf is not None and now + leeway < nbf:
        raise InvalidToken("the token is not valid yet (nbf)")
    iat = numeric_date(claims, "iat")
    if iat is not None and now + leeway < iat:
        raise InvalidToken("the token was issued in the future (iat)")
    if issuer is not None and claims.get("iss") != issuer:
        raise InvalidToken(
            f"the token is from issuer {echo(str(claims.get('iss')))!r}; expected {issuer!r}"
        )
    if audience is not None and audience not in (named := audiences_of(claims)):
        shown = echo(", ".join(sorted(named)) or "none")
        raise InvalidToken(f"the token is for another audience ({shown!r}); expected {audience!r}")


def audiences_of(claims: Mapping[str, Any]) -> frozenset[str]:
    """The ``aud`` of ``claims`` as a set of strings (RFC 7519 §4.1.3: a string or an array of
    strings); values of any other type name no audience."""
    aud = claims.get("aud")
    if isinstance(aud, str):
        return frozenset((aud,))
    if isinstance(aud, list):
        return frozenset(a for a in aud if isinstance(a, str))
    return frozenset()


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
