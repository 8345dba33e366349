"""JSON Web Signatures for tokensmith: the one module that talks to joserfc.

joserfc does the cryptography and key handling; the compact framing (RFC 7515 §7.1) of tokens we
sign is done here so that a header is encoded once per key rather than once per token.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Literal

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, RSAKey

Algorithm = Literal["ES256", "RS256"]
ALGORITHMS: tuple[Algorithm, ...] = ("ES256", "RS256")

PrivateKey = ECKey | RSAKey


def b64url(data: bytes) -> bytes:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def b64url_decode(data: str | bytes) -> bytes:
    """Decode base64url with or without padding.

    Raises:
        ValueError: ``data`` is not base64url.
    """
    if isinstance(data, str):
        data = data.encode("ascii")
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


def generate_key(alg: Algorithm) -> PrivateKey:
    """A new private key for ``alg``: P-256 for ES256, 2048-bit RSA for RS256."""
    if alg == "ES256":
        return ECKey.generate_key("P-256", private=True)
    return RSAKey.generate_key(2048, private=True)


def key_to_pem(key: PrivateKey) -> bytes:
    """The private key as PKCS#8 PEM."""
    return key.as_pem(private=True)


def key_from_pem(alg: Algorithm, pem: bytes) -> PrivateKey:
    """Load a private key written by :func:`key_to_pem`."""
    if alg == "ES256":
        return ECKey.import_key(pem)
    return RSAKey.import_key(pem)


def key_id(key: PrivateKey) -> str:
    """The RFC 7638 thumbprint of the key, used as its ``kid``."""
    return key.thumbprint()


def public_jwk(key: PrivateKey, *, kid: str, alg: Algorithm) -> dict[str, Any]:
    """The public half of ``key`` as a JWK with ``kid``, ``alg`` and ``use``."""
    data: dict[str, Any] = dict(key.as_dict(private=False))
    data.update({"kid": kid, "alg": alg, "use": "sig"})
    return data


class Signer:
    """Signs JWTs with one private key; the protected header is encoded once."""

    __slots__ = ("_alg", "_header", "_key", "kid")

    def __init__(self, key: PrivateKey, *, kid: str, alg: Algorithm, typ: str = "at+jwt") -> None:
        self.kid = kid
        self._key = key
        self._alg = jws.JWSRegistry.algorithms[alg]
        header = {"alg": alg, "typ": typ, "kid": kid}
        self._header = b64url(json.dumps(header, separators=(",", ":")).encode()) + b"."

    def __repr__(self) -> str:
        return f"Signer(kid={self.kid!r})"

    def sign(self, claims: dict[str, Any]) -> str:
        """The compact JWS of ``claims``."""
        signing_input = self._header + b64url(json.dumps(claims, separators=(",", ":")).encode())
        signature = self._alg.sign(signing_input, self._key)
        return (signing_input + b"." + b64url(signature)).decode("ascii")


class JoseFailure(Exception):
    """A token could not be verified; the message names the check, never the token."""


def verify_jwt(token: str, jwks: dict[str, Any], *, algorithms: list[str]) -> dict[str, Any]:
    """Verify ``token``'s signature against a JWKS and return its claims (no claim checks).

    Raises:
        JoseFailure: the token is malformed, uses another algorithm, or its signature is wrong.
    """
    try:
        key_set = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        decoded = jwt.decode(token, key_set, algorithms=algorithms)
    except (JoseError, ValueError) as exc:
        raise JoseFailure(type(exc).__name__) from None
    return dict(decoded.claims)
