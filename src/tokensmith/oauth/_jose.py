"""JSON Web Signatures for tokensmith: the one module that talks to joserfc.

joserfc does the cryptography and key handling; the compact framing (RFC 7515 §7.1) of tokens we
sign is done here so that a header is encoded once per key rather than once per token.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from ._errors import TokensmithError

# joserfc (and the cryptography it loads, ~100 ms) is imported where a key is made or used, not
# here: reading a token response's JWT claims, or `tokensmith token`, must not pay for it.
if TYPE_CHECKING:
    from joserfc.jwk import ECKey, RSAKey

Algorithm = Literal["ES256", "RS256"]
ALGORITHMS: tuple[Algorithm, ...] = ("ES256", "RS256")
"""The algorithms tokensmith signs with (ES256 is the default: RS256 costs ten times more)."""

KEY_TYPES: Mapping[str, str] = {
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
    "Ed25519": "OKP",
}
"""The JWK key type (``kty``) each algorithm a token may be verified with needs (RFC 7518 §3.1,
RFC 8037 §3.1, RFC 9864 §2.2: ``Ed25519`` is EdDSA on that curve only, a key of another curve
fails its signature check); an algorithm not in it is never accepted."""

ASSERTION_ALGORITHMS = ("ES256", "ES384", "RS256", "RS384", "PS256", "EdDSA")
"""The algorithms accepted for client assertions (``private_key_jwt``, RFC 7523 §2.2), as
discovery advertises them."""

EXTERNAL_ALGORITHMS = ("ES256", "ES384", "RS256", "RS384", "RS512", "PS256", "EdDSA")
"""The algorithms a realm may accept from a trusted external issuer."""

DEFAULT_EXTERNAL_ALGORITHMS = ("RS256", "ES256")
"""The algorithms accepted from a trusted external issuer when none are named."""

if TYPE_CHECKING:
    PrivateKey: TypeAlias = ECKey | RSAKey
else:

    class _PrivateKeyType(type):
        def __instancecheck__(cls, instance: object) -> bool:
            from joserfc.jwk import ECKey, RSAKey

            return isinstance(instance, ECKey | RSAKey)

    class PrivateKey(metaclass=_PrivateKeyType):
        """``joserfc.jwk.ECKey | RSAKey``; at run time a stand-in that answers ``isinstance``
        without importing joserfc until asked."""


def b64url(data: bytes) -> bytes:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def b64url_decode(data: str | bytes) -> bytes:
    """Decode base64url with or without padding.

    Raises:
        ValueError: ``data`` is not base64url.
    """
    if isinstance(data, str):
        data = data.encode("ascii")  # UnicodeEncodeError is a ValueError
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


def generate_key(alg: Algorithm) -> PrivateKey:
    """A new private key for ``alg``: P-256 for ES256, 2048-bit RSA for RS256."""
    from joserfc.jwk import ECKey, RSAKey

    if alg == "ES256":
        return ECKey.generate_key("P-256", private=True)
    return RSAKey.generate_key(2048, private=True)


def key_to_pem(key: PrivateKey) -> bytes:
    """The private key as PKCS#8 PEM."""
    return key.as_pem(private=True)


def key_from_pem(alg: Algorithm, pem: bytes) -> PrivateKey:
    """Load a private key written by :func:`key_to_pem`."""
    from joserfc.jwk import ECKey, RSAKey

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
    """Signs JWTs with one private key; the protected header is encoded once.

    The signature itself is made by a ``cryptography`` key (the one a joserfc key holds, or one
    :meth:`from_pem` loaded), called directly: for ES256 that takes 27 µs where joserfc's
    algorithm object takes 33 µs (timeit, 2026-11-22), on the service's hottest path.
    """

    __slots__ = ("_header", "_sign", "kid")

    def __init__(self, key: PrivateKey, *, kid: str, alg: Algorithm, typ: str = "at+jwt") -> None:
        self._start(key.private_key, kid, alg, typ)

    @classmethod
    def from_pem(cls, pem: bytes, *, kid: str, alg: Algorithm, typ: str = "at+jwt") -> Signer:
        """A signer for a private key written by :func:`key_to_pem`, loaded by ``cryptography``
        alone: the service signs tokens without importing joserfc (~2 MB of each worker's memory,
        needed only to verify a token).

        Raises:
            ValueError: ``pem`` is not an unencrypted private key, or not one for ``alg``.
        """
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        signer = cls.__new__(cls)
        signer._start(load_pem_private_key(pem, password=None), kid, alg, typ)
        return signer

    def _start(self, private: object, kid: str, alg: Algorithm, typ: str) -> None:
        self.kid = kid
        self._sign = _signature_function(private, alg)
        header = {"alg": alg, "typ": typ, "kid": kid}
        self._header = b64url(json.dumps(header, separators=(",", ":")).encode()) + b"."

    def __repr__(self) -> str:
        return f"Signer(kid={self.kid!r})"

    def sign(self, claims: dict[str, Any]) -> str:
        """The compact JWS of ``claims``.

        Raises:
            ValueError: a claim is NaN or infinite (JSON has neither).
        """
        signing_input = self._header + b64url(_compact_json(claims).encode())
        return (signing_input + b"." + b64url(self._sign(signing_input))).decode("ascii")


_compact_json = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode  # RFC 8259 JSON


def _signature_function(private: object, alg: Algorithm) -> Callable[[bytes], bytes]:
    """The JWS signature (RFC 7518 §3.3, §3.4) of a signing input with ``private``, a
    ``cryptography`` private key.

    Raises:
        ValueError: ``private`` is not a key for ``alg``.
    """
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    if alg == "ES256":
        if not isinstance(private, ec.EllipticCurvePrivateKey) or private.curve.name != "secp256r1":
            raise ValueError("ES256 needs a P-256 private key")
        ecdsa = ec.ECDSA(hashes.SHA256())

        def sign_es256(data: bytes) -> bytes:
            r, s = decode_dss_signature(private.sign(data, ecdsa))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")  # R || S, not DER

        return sign_es256
    if not isinstance(private, rsa.RSAPrivateKey):
        raise ValueError("RS256 needs an RSA private key")
    pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()

    def sign_rs256(data: bytes) -> bytes:
        return private.sign(data, pkcs1, sha256)

    return sign_rs256


MAX_JWT_LENGTH = 32 * 1024
"""The longest compact JWT read at all (access tokens are ~0.5 KB; SSO id_tokens a few KB)."""
MAX_JSON_DEPTH = 16
"""The deepest nesting of arrays and objects accepted in a JWT header or payload."""


class MalformedJWT(TokensmithError, ValueError):
    """A string that is not a compact JWS with JSON object header and payload; the message says
    what is wrong and never quotes the token."""


@dataclass(frozen=True, slots=True)
class UnverifiedJWT:
    """A compact JWS split and decoded, its signature not yet checked."""

    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def read_jwt(token: str) -> UnverifiedJWT:
    """Split and decode a compact JWS (RFC 7515 §7.1) *without verifying it*: the one place where
    JSON from an untrusted token is parsed.

    The token is at most :data:`MAX_JWT_LENGTH` characters; header and payload must be JSON
    objects nested at most :data:`MAX_JSON_DEPTH` deep, without ``NaN``, ``Infinity``, numbers
    too large for a float, or lone UTF-16 surrogates.

    Raises:
        MalformedJWT: anything else.
    """
    if len(token) > MAX_JWT_LENGTH:
        raise MalformedJWT(f"the token is longer than {MAX_JWT_LENGTH} characters")
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedJWT("the token is not a JWT (three dot-separated parts)")
    try:
        header_bytes, payload_bytes = b64url_decode(parts[0]), b64url_decode(parts[1])
        signature = b64url_decode(parts[2])
    except ValueError:
        raise MalformedJWT("the token is not valid base64url") from None
    header = _json_object(header_bytes, "header")
    claims = _json_object(payload_bytes, "payload")
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")  # ascii: b64url_decode checked it
    return UnverifiedJWT(header, claims, signing_input, signature)


def jwt_claims(token: str) -> dict[str, Any] | None:
    """The claims of a JWT read *without verifying* it (to learn its ``exp``, or whose key
    verifies it); None when ``token`` is not a JWT with a JSON object payload."""
    try:
        return read_jwt(token).claims
    except MalformedJWT:
        return None


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise MalformedJWT(f"the token {what} is not JSON") from None
    if not isinstance(value, dict):
        raise MalformedJWT(f"the token {what} is not a JSON object")
    if not _shallow(value, MAX_JSON_DEPTH):
        raise MalformedJWT(f"the token {what} nests deeper than {MAX_JSON_DEPTH} levels")
    if _SURROGATE_ESCAPE.search(data):  # rare: only then look for a lone one
        try:
            json.dumps(value, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            raise MalformedJWT(f"the token {what} holds a lone UTF-16 surrogate") from None
    return value


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
"""A JSON escape of a UTF-16 surrogate: paired, it is a character; alone (RFC 8259 §8.2), it is
text no database, encoder or UTF-8 peer can carry."""


def audiences_of(claims: Mapping[str, Any]) -> frozenset[str]:
    """The ``aud`` of ``claims`` as a set of strings (RFC 7519 §4.1.3: a string or an array of
    strings); values of any other type name no audience."""
    aud = claims.get("aud")
    if isinstance(aud, str):
        return frozenset((aud,))
    if isinstance(aud, list):
        return frozenset(a for a in aud if isinstance(a, str))
    return frozenset()


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400: JSON has no infinity, and it would not survive a copy
        raise ValueError("the number is out of range")
    return value


def _shallow(value: dict[str, Any], limit: int) -> bool:
    """Whether ``value`` nests at most ``limit`` levels of arrays and objects (iteratively, so
    that checking never recurses)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, dict | list):
                if depth >= limit:
                    return False
                stack.append((child, depth + 1))
    return True


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
