"""Hostile JSON and JWTs for the fuzz test (tests/test_fuzz.py), described as hypothesis
strategies: a strategy draws a *recipe* (a frozen dataclass) that is rendered into a token only
when it is sent, so that signed tokens get a fresh ``jti`` and the current time even when
hypothesis replays an example while shrinking it.
"""

from __future__ import annotations

import base64
import json
import math
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import strategies as st

# --- keys and identities -------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class SigningKey:
    """A P-256 key that signs any bytes as ES256, so that a test can sign header and payload
    texts no JSON library would write (NaN, 2,000-deep nesting, duplicate names)."""

    def __init__(self, kid: str | None) -> None:
        self.kid = kid
        self._private = ec.generate_private_key(ec.SECP256R1())

    def __repr__(self) -> str:
        return f"SigningKey(kid={self.kid!r})"

    def jwk(self) -> dict[str, Any]:
        """The public JWK, with ``kid`` when the key has one."""
        numbers = self._private.public_key().public_numbers()
        jwk: dict[str, Any] = {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url(numbers.x.to_bytes(32, "big")),
            "y": b64url(numbers.y.to_bytes(32, "big")),
            "alg": "ES256",
            "use": "sig",
        }
        if self.kid is not None:
            jwk["kid"] = self.kid
        return jwk

    def sign(self, signing_input: bytes) -> bytes:
        """The raw r || s ES256 signature of ``signing_input`` (RFC 7518 §3.4)."""
        r, s = decode_dss_signature(self._private.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


@dataclass(frozen=True)
class Identity:
    """Who signs a token and the claims that make it acceptable when nothing is hostile."""

    key: SigningKey
    iss: str
    sub: str
    aud: str
    typ: str | None


# --- hostile JSON --------------------------------------------------------------------------------

# Numeric texts Python's json module reads: NaN and infinities, floats at and past the edge
# (1e400 reads as inf), integers of 400 digits, and values past int64 for a database column.
HOSTILE_NUMBERS = (
    "NaN",
    "Infinity",
    "-Infinity",
    "1e308",
    "-1e308",
    "1e400",
    "-1e400",
    "1" + "0" * 400,
    "-" + "9" * 400,
    "1e-400",
    "99999999999999999999",
    "-9223372036854775809",
    "0",
    "-1",
    "0.5",
    "true",
    "false",
    "null",
)
# Numbers a JWT time claim must never be accepted with (RFC 7519 §2 NumericDate; issue 8 item 2).
NON_FINITE_TIMES = frozenset(
    {"NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1" + "0" * 400, "-" + "9" * 400}
)
NEVER_EXPIRING = frozenset({"Infinity", "1e308", "1e400", "1" + "0" * 400})

_STRING_ATOMS = ("a", "\\u0000", "\\ud800", "\\udfff\\ud800", "\u00e9", "\\\\", "\\n", "%00", "'")


@st.composite
def deep_json(draw: st.DrawFn) -> str:
    """Arrays or objects nested up to 20,000 deep (``[[[[…]]]]``, ``{"a":{"a":…}}``)."""
    depth = draw(st.sampled_from([100, 990, 1000, 2000, 20000]) | st.integers(1, 3000))
    kind = draw(st.sampled_from(["array", "object", "mixed", "unclosed"]))
    if kind == "array":
        return "[" * depth + "]" * depth
    if kind == "object":
        return '{"a":' * depth + "1" + "}" * depth
    if kind == "mixed":
        return '[{"a":' * depth + "1" + "}]" * depth
    return "[" * depth


@st.composite
def big_string(draw: st.DrawFn) -> str:
    """A JSON string of up to 100 KB of one atom: plain, NUL, lone surrogates, escapes."""
    atom = draw(st.sampled_from(_STRING_ATOMS))
    size = draw(st.sampled_from([1, 300, 5_000, 40_000, 100_000]))
    return '"' + atom * max(1, size // len(atom)) + '"'


def _json_values() -> st.SearchStrategy[Any]:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=True, allow_infinity=True)
        | st.text(max_size=20)
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=12,
    )


def hostile_value() -> st.SearchStrategy[str]:
    """The JSON text of one hostile value (sometimes not valid JSON at all)."""
    return st.one_of(
        st.sampled_from(HOSTILE_NUMBERS),
        deep_json(),
        big_string(),
        st.sampled_from(['""', "[]", "{}", '["a",1]', '{"sub":"x"}', '"\\ud800"', "[1,", "'x'"]),
        _json_values().map(lambda v: json.dumps(v, allow_nan=True)),
    )


CLAIM_NAMES = (
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "scope",
    "client_id",
    "email",
    "act",
    "azp",
    "cnf",
)
HEADER_NAMES = ("alg", "kid", "typ", "crit", "b64", "jku", "jwk", "x5u", "x5c", "cty", "zip")
# "crit" values: unknown names, names the header lacks, registered names, and not-a-list.
CRIT_VALUES = (
    '["exp"]',
    '["b64"]',
    '["urn:fuzz:unknown"]',
    '["kid"]',
    "[]",
    '"b64"',
    "[1]",
    "null",
    '["' + "x" * 5000 + '"]',
)


def brief(value: object) -> str:
    """``repr`` of a recipe with long strings cut short (a failing example stays readable;
    hypothesis' reproduce blob replays it in full)."""
    if isinstance(value, str | bytes) and len(value) > 120:
        return f"{value[:40]!r}…<{len(value)} long>"
    if isinstance(value, tuple):
        return "(" + ", ".join(brief(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if hasattr(value, "__dataclass_fields__"):
        fields = ", ".join(
            f"{name}={brief(getattr(value, name))}" for name in value.__dataclass_fields__
        )
        return f"{type(value).__name__}({fields})"
    return repr(value)


def _pretty(self: object, printer: Any, cycle: bool) -> None:
    printer.text(brief(self))


def brief_repr(cls: type) -> None:
    """Make :func:`brief` the ``repr`` of ``cls``, for Python and for hypothesis' printer."""
    cls.__repr__ = brief  # type: ignore[assignment,method-assign]
    cls._repr_pretty_ = _pretty  # type: ignore[attr-defined]


# --- JWT recipes ---------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Jwt:
    """A JWT to build at send time.

    ``header`` and ``claims`` are overrides (name, JSON text) applied to the signer's acceptable
    header and claims, or a whole replacement text. ``signature``: ``valid`` signs what was
    built with the signer's key. ``encoding`` is how each segment is base64-encoded; ``parts``
    is the number of dot-separated parts (3 for a JWS; 5 looks like a JWE).
    """

    signer: str
    header: tuple[tuple[str, str], ...] | str = ()
    claims: tuple[tuple[str, str], ...] | str = ()
    drop: frozenset[str] = frozenset()
    signature: str = "valid"
    encoding: str = "b64url"
    parts: int = 3

    def must_be_refused(self) -> bool:
        """Whether a correctly signed token built from this recipe must be refused whatever
        else it says: a time claim that is not a finite number in range, an ``exp`` that never
        comes, or a ``crit`` header (tokensmith understands no JWS extension, RFC 7515 §4.1.11)."""
        if self.signature != "valid" or self.encoding != "b64url" or self.parts != 3:
            return False
        if isinstance(self.header, tuple) and any(name == "crit" for name, _ in self.header):
            return True
        if isinstance(self.claims, str):
            return False
        for name, value in self.claims:
            if name in ("exp", "nbf", "iat") and value in NON_FINITE_TIMES:
                return True
            if name == "exp" and value in NEVER_EXPIRING:
                return True
        return False


brief_repr(Jwt)


def _object(fields: Mapping[str, str], overrides: tuple[tuple[str, str], ...]) -> str:
    members = dict(fields)
    extra: list[tuple[str, str]] = []
    for name, value in overrides:
        if name in members:
            members[name] = value
        else:
            extra.append((name, value))
    pairs = [*members.items(), *extra]
    return "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in pairs) + "}"


def _encode(text: str, encoding: str) -> str:
    data = text.encode("utf-8", "surrogatepass")
    if encoding == "padded":
        return base64.urlsafe_b64encode(data).decode("ascii")
    if encoding == "standard":
        return base64.b64encode(data).decode("ascii")
    if encoding == "latin1":
        return b64url(text.encode("latin-1", "replace")[:-1] + b"\xff")
    if encoding == "truncated":
        return b64url(data)[:-1] if len(data) % 3 == 1 else b64url(data) + "A"
    if encoding == "raw":
        return text
    return b64url(data)


def render_jwt(recipe: Jwt, identities: Mapping[str, Identity]) -> str:
    """The token ``recipe`` describes, signed now by its identity's key."""
    who = identities[recipe.signer]
    now = int(time.time())
    if isinstance(recipe.header, str):
        header = recipe.header
    else:
        base = {"alg": '"ES256"'}
        if who.typ is not None:
            base["typ"] = json.dumps(who.typ)
        if who.key.kid is not None:
            base["kid"] = json.dumps(who.key.kid)
        header = _object(base, recipe.header)
    if isinstance(recipe.claims, str):
        claims = recipe.claims
    else:
        base = {
            "iss": json.dumps(who.iss),
            "sub": json.dumps(who.sub),
            "aud": json.dumps(who.aud),
            "iat": str(now),
            "exp": str(now + 60),
            "jti": json.dumps(uuid.uuid4().hex),
        }
        for name in recipe.drop:
            base.pop(name, None)
        claims = _object(base, recipe.claims)
    head, body = _encode(header, recipe.encoding), _encode(claims, recipe.encoding)
    signing_input = f"{head}.{body}"
    if recipe.signature == "valid":
        signature = b64url(who.key.sign(signing_input.encode("utf-8", "surrogatepass")))
    elif recipe.signature == "junk":
        signature = "c2ln"
    elif recipe.signature == "long":
        signature = "A" * 40_000
    else:
        signature = ""
    segments = [head, body, signature, "", ""][: max(recipe.parts, 1)]
    if recipe.parts > 5:
        segments += ["x"] * (recipe.parts - 5)
    return ".".join(segments)


@st.composite
def jwts(draw: st.DrawFn, signers: tuple[str, ...]) -> Jwt:
    """A JWT recipe from one of ``signers``: mostly well framed, with hostile claims, hostile
    headers, or whole hostile JSON documents as header or payload."""
    signer = draw(st.sampled_from(signers))
    shape = draw(st.sampled_from(["claims", "claims", "claims", "header", "payload", "both"]))
    header: tuple[tuple[str, str], ...] | str = ()
    claims: tuple[tuple[str, str], ...] | str = ()
    if shape in ("claims", "header"):
        names = st.sampled_from(CLAIM_NAMES) | st.text(min_size=1, max_size=6)
        claims = tuple(draw(st.lists(st.tuples(names, hostile_value()), max_size=3)))
    if shape == "header":
        header_value = st.one_of(
            st.sampled_from(HEADER_NAMES).flatmap(
                lambda n: st.tuples(
                    st.just(n),
                    st.sampled_from(CRIT_VALUES) if n == "crit" else hostile_value(),
                )
            ),
            st.tuples(st.just("crit"), st.sampled_from(CRIT_VALUES)),
        )
        header = tuple(draw(st.lists(header_value, min_size=1, max_size=2)))
    if shape in ("payload", "both"):
        claims = draw(hostile_value())
    if shape == "both":
        header = draw(hostile_value())
    return Jwt(
        signer=signer,
        header=header,
        claims=claims,
        drop=frozenset(draw(st.sets(st.sampled_from(["exp", "iss", "sub", "aud", "jti"]))))
        if draw(st.integers(0, 9)) == 0
        else frozenset(),
        signature=draw(st.sampled_from(["valid"] * 6 + ["junk", "empty", "long"])),
        encoding=draw(
            st.sampled_from(["b64url"] * 8 + ["padded", "standard", "latin1", "truncated", "raw"])
        ),
        parts=draw(st.sampled_from([3] * 12 + [1, 2, 4, 5, 7])),
    )


@st.composite
def refused_jwts(draw: st.DrawFn, signers: tuple[str, ...]) -> Jwt:
    """A correctly signed, well framed JWT that is acceptable but for one thing it must be
    refused for: a non-finite or never-coming time claim, or a ``crit`` header."""
    signer = draw(st.sampled_from(signers))
    if draw(st.booleans()):
        name = draw(st.sampled_from(["exp", "nbf", "iat"]))
        values = sorted(NON_FINITE_TIMES | (NEVER_EXPIRING if name == "exp" else frozenset()))
        return Jwt(signer=signer, claims=((name, draw(st.sampled_from(values))),))
    crit = draw(st.sampled_from(CRIT_VALUES))
    extra = draw(st.sampled_from([(), (("b64", "false"),), (("exp", "1"),)]))
    return Jwt(signer=signer, header=(("crit", crit), *extra))


def strict_json(data: bytes) -> Any:
    """``data`` parsed as RFC 8259 JSON: no NaN or Infinity, no number that only reads as an
    infinite float (1e400).

    Raises:
        ValueError: ``data`` is not strict JSON.
    """

    def constant(name: str) -> Any:
        raise ValueError(f"{name} is not JSON (RFC 8259 §6)")

    def number(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(f"{text[:20]} overflows to {value}")
        return value

    return json.loads(data, parse_constant=constant, parse_float=number)


def issued_claims(body: Any) -> Any:
    """The claims of the access token in a token response (standard or pascal dialect), read
    strictly; None when the body holds no token."""
    token = body.get("access_token") or body.get("Token") if isinstance(body, dict) else None
    if not isinstance(token, str) or token.count(".") != 2:
        return None
    payload = token.split(".")[1]
    return strict_json(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
