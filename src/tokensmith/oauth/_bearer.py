"""Bearer tokens on the resource-server side (RFC 6750): reading the ``Authorization`` header,
writing ``WWW-Authenticate``, and verifying RFC 9068 JWT access tokens against a JWKS.

Refused outright: ``alg: none`` and any algorithm not allowed, an algorithm whose key type does
not match the key (HS/RS confusion), and keys carried by the token itself (``jwk``, ``jku``,
``x5u``, ``x5c``): a token never chooses the key that verifies it.

joserfc checks the JWS (``jws.deserialize_compact``) and the registered claims
(``JWTClaimsRegistry``); what is ours are the checks it does not make: the bounds of
:func:`read_jwt`, the header rules above, ``typ``, which keys may have signed a token without
``kid``, and NumericDates within the year 9999.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from joserfc import jws
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    InvalidKeyCurveError,
    JoseError,
    KeyParameterError,
    UnsupportedAlgorithmError,
)
from joserfc.jwa import JWSAlgModel
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from joserfc.jwt import ClaimsOption, JWTClaimsRegistry

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


def presented_token(authorization: str | None) -> tuple[str, str] | None:
    """The scheme (``bearer`` or ``dpop``, RFC 9449 §7.1) and token of an ``Authorization``
    header; None when there is no header.

    Raises:
        InvalidToken: the header is not a Bearer or DPoP credential with a token68 value.
    """
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() not in ("bearer", "dpop") or not token or " " in token:
        raise InvalidToken("the Authorization header must be 'Bearer <token>' or 'DPoP <token>'")
    return scheme.lower(), token


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
        jwt = read_jwt(token)  # our bounds on size, depth and numbers, before joserfc parses it
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
    # joserfc parses the token again (read_jwt must come first for its bounds): with
    # JWTClaimsRegistry that costs 30-50 µs per fresh verification on a loaded two-core VM
    # (bench/verify.py "core" rows: RS256 1.7x, ES256 1.3x the hand-rolled time) and 2 % of a
    # private_key_jwt token request (3.87 to 3.96 ms in-process, the jti write dominates); the
    # Verifier caches verified tokens. Judged not worth keeping our own JWS framing.
    _verify_signature(token, alg, candidates)
    # The claims read_jwt decoded are those joserfc verified: both decode the same payload
    # segment, and b64: false (RFC 7797), the one way they could differ, needs crit.
    check_claims(jwt.claims, issuer=issuer, audience=audience, now=now, leeway=leeway)
    return jwt.claims


class _Registry(JWSRegistry):
    """joserfc's JWS registry for one algorithm, with any header parameter allowed (identity
    providers add their own, e.g. Azure AD's ``nonce``) and without the ``SecurityWarning`` that
    joserfc raises on every EdDSA verification: RFC 9864 deprecates that name for new
    specifications, but deployed Ed25519 signers send it and the caller's ``algorithms`` chose
    to accept it."""

    def get_alg(self, name: str) -> JWSAlgModel:
        if not self.allowed or name not in self.allowed or name not in self.algorithms:
            raise UnsupportedAlgorithmError(f"Algorithm of '{name}' is not allowed")
        return self.algorithms[name]


_REGISTRIES = {
    alg: _Registry(algorithms=(alg,), strict_check_header=False)
    for alg in KEY_TYPES
    if alg in JWSRegistry.algorithms
}


_PROOF_REGISTRIES = {
    alg: _Registry(algorithms=(alg,), strict_check_header=False) for alg in _REGISTRIES
}
for _registry in _PROOF_REGISTRIES.values():
    # A DPoP proof carries its public key in the header: an RSA-4096 JWK is ~1 KB of it.
    _registry.max_header_length = 2048


def _verify_signature(token: str, alg: str, candidates: list[Any], *, proof: bool = False) -> None:
    """Return when one of ``candidates`` verifies ``token`` (RFC 7515 §5.2, by joserfc: strict
    base64url, its size limits, the types of registered header parameters, the signature).

    With ``proof``, the header may be as large as a DPoP proof's, which carries its key.

    Raises:
        BadSignature: none does.
        InvalidToken: joserfc refuses the token whatever the key.
    """
    registry = (_PROOF_REGISTRIES if proof else _REGISTRIES).get(alg)
    kty = KEY_TYPES.get(alg)
    for key in candidates:
        if registry is None or key.key_type != kty:  # HS/RS confusion: never across key types
            continue
        try:
            jws.deserialize_compact(token, key, registry=registry)
        except (BadSignatureError, KeyParameterError, InvalidKeyCurveError, ValueError, TypeError):
            continue  # not this key (cryptography may refuse it too); another candidate may fit
        except JoseError as exc:
            raise InvalidToken(f"the token is not a valid JWS ({echo(exc.description)})") from None
        return
    raise BadSignature("the token signature is not valid")


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
    """Check ``iss``, ``aud``, ``exp``, ``nbf`` and ``iat``, and the types of ``sub`` and ``jti``
    (RFC 7519 §4.1); the dates must be finite numbers in range (so ``exp`` can never mean
    "never").

    Raises:
        InvalidToken: a claim is missing or wrong.
    """
    for name in ("exp", "nbf", "iat"):
        numeric_date(claims, name)  # joserfc takes any int: exp 10**400 would never come
    options: dict[str, ClaimsOption] = {"exp": {"essential": True}}
    if issuer is not None:
        options["iss"] = {"essential": True, "value": issuer}
    if audience is not None:
        options["aud"] = {"essential": True, "value": audience}
    # joserfc annotates now and leeway as int, yet only compares them with the claims: a float
    # keeps a fractional NumericDate (RFC 7519 §2) and a fractional leeway exact.
    registry = JWTClaimsRegistry(now=now, leeway=leeway, **options)  # type: ignore[arg-type]
    try:
        registry.validate(dict(claims))
    except ClaimError as exc:
        raise InvalidToken(_refusal(exc, claims, issuer, audience)) from None


def _refusal(
    exc: ClaimError, claims: Mapping[str, Any], issuer: str | None, audience: str | None
) -> str:
    """Our description of joserfc's refusal (its ``claim`` names registered claims only)."""
    names = exc.claim.split(",")  # MissingClaimError names every missing claim
    if isinstance(exc, ExpiredTokenError):
        return "the token has expired"
    if "exp" in names:
        return "the token has no exp"
    if names == ["nbf"]:  # numeric_date checked the type: only the time is left
        return "the token is not valid yet (nbf)"
    if names == ["iat"]:
        return "the token was issued in the future (iat)"
    if issuer is not None and "iss" in names:
        return f"the token is from issuer {echo(str(claims.get('iss')))!r}; expected {issuer!r}"
    if audience is not None and "aud" in names:
        shown = echo(", ".join(sorted(audiences_of(claims))) or "none")
        return f"the token is for another audience ({shown!r}); expected {audience!r}"
    return f"the token's {exc.claim} is not a valid value for it (RFC 7519 §4.1)"


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
