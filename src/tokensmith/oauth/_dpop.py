"""DPoP (RFC 9449): proofs that the sender of a request holds a private key, on both sides:
:class:`ProofKey` makes them (the client), :func:`check_proof` checks them (the token service
and protected APIs), :class:`Nonces` makes and checks server nonces (§8, §9). No I/O: whether a
proof's ``jti`` was seen before is the caller's to remember.

A DPoP-bound access token carries ``cnf.jkt``, the RFC 7638 thumbprint of the client's public key
(:func:`thumbprint`); a protected API accepts it only with a proof made by that key for that
request, with ``ath``, the hash of the token (§4.3, §7).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ._errors import OAuthError, echo
from ._jose import KEY_TYPES, MalformedJWT, b64url, read_jwt

if TYPE_CHECKING:
    from ._jose import Algorithm, PrivateKey

DPOP_ALGORITHMS = ("ES256", "ES384", "RS256", "PS256", "EdDSA", "Ed25519")
"""The algorithms a proof may be signed with, as discovery advertises them
(``dpop_signing_alg_values_supported``): Ed25519 keys under both names, the deprecated ``EdDSA``
and RFC 9864's ``Ed25519``, which node openid-client (oauth4webapi) signs with."""
PROOF_TYPE = "dpop+jwt"
MAX_PROOF_AGE = 300
"""How many seconds after its ``iat`` a proof is accepted (RFC 9449 §11.1: a short window)."""
CLOCK_LEEWAY = 5
"""Seconds a proof's ``iat`` may lie in the future."""
MAX_PROOF_LENGTH = 4096
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
_THUMBPRINT_MEMBERS = {
    "EC": ("crv", "kty", "x", "y"),
    "RSA": ("e", "kty", "n"),
    "OKP": ("crv", "kty", "x"),
}


class InvalidDPoPProof(OAuthError):
    """The DPoP proof is missing a part, malformed, or does not fit the request (RFC 9449 §4.3,
    §7.1): 400 at the token endpoint, 401 with a ``DPoP`` challenge at a protected API."""

    error = "invalid_dpop_proof"


class UseDPoPNonce(OAuthError):
    """The server wants a proof with its nonce (RFC 9449 §8, §9); the answer carries a fresh one
    in the ``DPoP-Nonce`` header."""

    error = "use_dpop_nonce"

    def __init__(
        self, description: str = "", *, nonce: str, status_code: int | None = None
    ) -> None:
        super().__init__(description, status_code=status_code)
        self.nonce = nonce


@dataclass(frozen=True)
class Proof:
    """A checked proof: the key's thumbprint (``cnf.jkt``), its ``jti`` and ``iat``."""

    jkt: str
    jti: str
    iat: float


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public JWK, base64url.

    Raises:
        ValueError: it is not an EC, RSA or OKP key with its required members as strings.
    """
    members = _THUMBPRINT_MEMBERS.get(str(jwk.get("kty")))
    if members is None or not all(isinstance(jwk.get(m), str) for m in members):
        raise ValueError("not an EC, RSA or OKP public key")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode()).digest()).decode("ascii")


def token_hash(access_token: str) -> str:
    """``ath``: the base64url SHA-256 of an access token (RFC 9449 §4.2)."""
    return b64url(hashlib.sha256(access_token.encode("ascii", "replace")).digest()).decode("ascii")


def normalized_url(url: str) -> str:
    """``url`` as proofs compare it (RFC 9449 §4.3 step 9, RFC 3986 §6.2.2-3): scheme and host in
    lower case, no default port, no user information, query or fragment, ``/`` for an empty
    path; ``""`` for a URL with an invalid port."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        return ""  # an invalid port matches no URL
    netloc = (
        host if port is None or port == {"http": 80, "https": 443}.get(scheme) else f"{host}:{port}"
    )
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


def check_proof(
    proof: str,
    *,
    method: str,
    url: str,
    now: float,
    access_token: str | None = None,
    algorithms: tuple[str, ...] = DPOP_ALGORITHMS,
    max_age: float = MAX_PROOF_AGE,
) -> Proof:
    """Check a DPoP proof for a request (RFC 9449 §4.3): well formed, ``typ`` dpop+jwt, an
    allowed asymmetric ``alg``, signed by the public ``jwk`` of its header, ``htm`` and ``htu``
    those of the request, ``iat`` within ``max_age`` seconds, and, when given, ``ath`` the hash of
    ``access_token``. Whether its ``jti`` was seen before, and its ``nonce`` (:func:`proof_nonce`,
    :meth:`Nonces.valid`), are the caller's to check.

    Raises:
        InvalidDPoPProof: any check fails; the description names it and quotes nothing secret.
    """
    if len(proof) > MAX_PROOF_LENGTH:
        raise InvalidDPoPProof(f"the DPoP proof is longer than {MAX_PROOF_LENGTH} characters")
    try:
        jwt = read_jwt(proof)
    except MalformedJWT as exc:
        raise InvalidDPoPProof(f"the DPoP proof is malformed: {exc}") from None
    header, claims = jwt.header, jwt.claims
    if header.get("typ") != PROOF_TYPE:
        raise InvalidDPoPProof(f"the DPoP proof's typ is not {PROOF_TYPE}")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms:
        raise InvalidDPoPProof(
            f"the DPoP proof's alg {echo(str(alg))!r} is not accepted (allowed: "
            f"{', '.join(algorithms)})"
        )
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise InvalidDPoPProof("the DPoP proof has no public key (jwk) in its header")
    if any(member in jwk for member in _PRIVATE_MEMBERS):
        raise InvalidDPoPProof("the DPoP proof's jwk holds a private key")
    if jwk.get("kty") != KEY_TYPES.get(alg):
        raise InvalidDPoPProof(f"the DPoP proof's jwk is not a key for {alg}")
    try:
        jkt = thumbprint(jwk)
    except ValueError:
        raise InvalidDPoPProof("the DPoP proof's jwk is not a usable public key") from None
    if alg in _FAST:
        _verify_fast(jwt.signing_input, jwt.signature, alg, jwk, jkt)
    else:
        _verify(proof, alg, jwk)
    for name, kind in (("jti", str), ("htm", str), ("htu", str)):
        if not isinstance(claims.get(name), kind) or not claims[name]:
            raise InvalidDPoPProof(f"the DPoP proof has no {name}")
    if len(claims["jti"]) > 200 or not claims["jti"].isprintable():
        raise InvalidDPoPProof("the DPoP proof's jti must be at most 200 printable characters")
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, int | float):
        raise InvalidDPoPProof("the DPoP proof has no iat")
    if claims["htm"] != method:
        raise InvalidDPoPProof(
            f"the DPoP proof is for method {echo(claims['htm'])!r}, not {method}"
        )
    if not normalized_url(claims["htu"]) or normalized_url(claims["htu"]) != normalized_url(url):
        raise InvalidDPoPProof(
            f"the DPoP proof is for another URL (htu), not {normalized_url(url)}"
        )
    if iat > now + CLOCK_LEEWAY:
        raise InvalidDPoPProof("the DPoP proof was made in the future (iat)")
    if iat < now - max_age:
        raise InvalidDPoPProof(f"the DPoP proof is older than {int(max_age)} s (iat)")
    if access_token is not None and not _same(claims.get("ath"), token_hash(access_token)):
        raise InvalidDPoPProof("the DPoP proof's ath is not the hash of this access token")
    return Proof(jkt, claims["jti"], float(iat))


def _same(given: object, expected: str) -> bool:
    """Whether the claim ``given`` is the string ``expected``, compared in constant time (any
    other type, or text that is not ASCII, is simply not it)."""
    return (
        isinstance(given, str)
        and given.isascii()
        and hmac.compare_digest(given.encode(), expected.encode())
    )


def proof_nonce(proof: str) -> str | None:
    """The ``nonce`` claim of a proof, read without checking it (to check it against the
    server's before the rest)."""
    try:
        value = read_jwt(proof).claims.get("nonce")
    except MalformedJWT:
        return None
    return value if isinstance(value, str) else None


_FAST = ("ES256", "RS256")
_KEYS: dict[str, Any] = {}
"""Public keys of recent proofs by thumbprint: a client sends many proofs with one key."""
_MAX_KEYS = 4096


def _verify_fast(
    signing_input: bytes, signature: bytes, alg: str, jwk: dict[str, Any], jkt: str
) -> None:
    """Check an ES256 or RS256 signature with ``cryptography`` directly (a third of joserfc's
    time, with the key imported once per thumbprint).

    Raises:
        InvalidDPoPProof: the key is unusable or the signature does not verify.
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    from ._jose import b64url_decode

    key = _KEYS.get(jkt)
    try:
        if key is None:
            if alg == "ES256":
                if jwk.get("crv") != "P-256":
                    raise ValueError("not P-256")
                key = ec.EllipticCurvePublicNumbers(
                    int.from_bytes(b64url_decode(jwk["x"]), "big"),
                    int.from_bytes(b64url_decode(jwk["y"]), "big"),
                    ec.SECP256R1(),
                ).public_key()
            else:
                key = rsa.RSAPublicNumbers(
                    int.from_bytes(b64url_decode(jwk["e"]), "big"),
                    int.from_bytes(b64url_decode(jwk["n"]), "big"),
                ).public_key()
                _check_rsa(key.public_numbers().e, key.key_size)
    except (ValueError, TypeError, KeyError):
        raise InvalidDPoPProof("the DPoP proof's jwk is not a usable public key") from None
    try:
        if alg == "ES256":
            if len(signature) != 64 or not isinstance(key, ec.EllipticCurvePublicKey):
                raise InvalidSignature
            der = encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
            key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
        else:
            assert isinstance(key, rsa.RSAPublicKey)
            key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise InvalidDPoPProof("the DPoP proof's signature is not valid") from None
    if jkt not in _KEYS:  # only keys that verified a proof: made-up keys cannot crowd them out
        if len(_KEYS) >= _MAX_KEYS:
            _KEYS.clear()
        _KEYS[jkt] = key


def _check_rsa(exponent: int, bits: int) -> None:
    """Refuse an RSA key that costs more to verify than a client's should (RFC 9449 names no
    limit; these are what every JOSE library makes).

    Raises:
        ValueError: its exponent is not 65537, or it is not 2048 to 4096 bits.
    """
    if exponent != 65537 or not 2048 <= bits <= 4096:
        raise ValueError("an RSA key must have exponent 65537 and 2048 to 4096 bits")


def _verify(proof: str, alg: str, jwk: dict[str, Any]) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet

    from ._bearer import BadSignature, _verify_signature

    try:
        key = KeySet.import_key_set({"keys": [jwk]}).keys[0]
        public = key.public_key
        if isinstance(public, rsa.RSAPublicKey):
            _check_rsa(public.public_numbers().e, public.key_size)
    except (JoseError, ValueError, TypeError, KeyError, IndexError, AttributeError):
        raise InvalidDPoPProof("the DPoP proof's jwk is not a usable public key") from None
    try:
        _verify_signature(proof, alg, [key], proof=True)
    except BadSignature:
        raise InvalidDPoPProof("the DPoP proof's signature is not valid") from None
    except OAuthError as exc:
        raise InvalidDPoPProof(f"the DPoP proof is not a valid JWS: {exc.description}") from None


class Nonces:
    """Server nonces without state (RFC 9449 §8): a nonce names a time window and carries an
    HMAC of it, so every process with the same secret makes and accepts the same nonces. A nonce
    is good in its window and the next (``window`` seconds each)."""

    def __init__(self, secret: bytes, *, window: int = 60) -> None:
        self._secret = secret
        self.window = window

    def __repr__(self) -> str:
        return f"Nonces(window={self.window})"

    def current(self, now: float) -> str:
        """The nonce to hand out now."""
        return self._make(int(now // self.window))

    def valid(self, nonce: str | None, now: float) -> bool:
        """Whether ``nonce`` is one of this window's, the previous one's or the next one's."""
        if not nonce or not nonce.isascii():
            return False
        slot = int(now // self.window)
        # The next window too: another instance's clock may run a little ahead of this one's.
        return any(_same(nonce, self._make(s)) for s in (slot + 1, slot, slot - 1))

    def _make(self, slot: int) -> str:
        packed = struct.pack(">q", slot)
        mac = hmac.new(self._secret, packed, hashlib.sha256).digest()[:16]
        return b64url(packed + mac).decode("ascii")


class ProofKey:
    """A client's DPoP key, held in memory only: makes a proof per request (RFC 9449 §4.2).
    ``key`` is a joserfc EC or RSA private key for ``alg`` (ES256 or RS256); by default a new
    P-256 key."""

    def __init__(self, key: PrivateKey | None = None, *, alg: Algorithm = "ES256") -> None:
        from ._jose import _signature_function, generate_key, public_jwk

        self.alg = alg
        self._key = key if key is not None else generate_key(alg)
        jwk = public_jwk(self._key, kid="-", alg=alg)
        self.jwk = {k: v for k, v in jwk.items() if k in ("kty", "crv", "x", "y", "n", "e")}
        """The public key, as proofs carry it."""
        self.jkt = thumbprint(self.jwk)
        """The key's thumbprint: the ``cnf.jkt`` of tokens bound to it."""
        self._sign = _signature_function(self._key.private_key, alg)
        header = {"typ": PROOF_TYPE, "alg": alg, "jwk": self.jwk}
        self._header = b64url(json.dumps(header, separators=(",", ":")).encode()) + b"."

    def __repr__(self) -> str:
        return f"ProofKey(alg={self.alg!r}, jkt={self.jkt!r})"

    def proof(
        self,
        method: str,
        url: str,
        *,
        now: float,
        access_token: str | None = None,
        nonce: str | None = None,
    ) -> str:
        """A fresh proof for ``method`` on ``url`` (its query and fragment left out), with
        ``ath`` for ``access_token`` and the server's ``nonce`` when given."""
        parts = urlsplit(url)
        claims: dict[str, Any] = {
            "jti": secrets.token_urlsafe(16),
            "htm": method.upper(),
            "htu": urlunsplit(
                (parts.scheme, parts.netloc.rpartition("@")[2], parts.path or "/", "", "")
            ),
            "iat": int(now),
        }
        if access_token is not None:
            claims["ath"] = token_hash(access_token)
        if nonce is not None:
            claims["nonce"] = nonce
        signing_input = self._header + b64url(json.dumps(claims, separators=(",", ":")).encode())
        return (signing_input + b"." + b64url(self._sign(signing_input))).decode("ascii")
