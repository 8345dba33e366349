"""JSON Web Signatures for tokensmith: the one module that talks to joserfc.

joserfc does the cryptography and key handling; the compact framing (RFC 7515 §7.1) of tokens we
sign is done here so that a header is encoded once per key rather than once per token.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Literal

from joserfc import jws
from joserfc.jwk import ECKey, RSAKey

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


def jwt_claims(token: str) -> dict[str, Any] | None:
    """The claims of a JWT read *without verifying* it (to learn its ``exp``, or whose key
    verifies it); None when ``token`` is not a JWT with a JSON object payload."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(b64url_decode(parts[1]))
    except (ValueError, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None


def as_algorithm(name: str) -> Algorithm:
    """``name`` as a signing algorithm tokensmith issues with.

    Raises:
        ValueError: it is not ES256 or RS256.
    """
    if name == "ES256":
        return "ES256"
    if name == "RS256":
        return "RS256"
    raise ValueError(f"unknown algorithm {name!r}; choose one of {', '.join(ALGORITHMS)}")
