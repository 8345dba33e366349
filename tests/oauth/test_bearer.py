"""RFC 9068 JWT access-token verification (``verify_jwt_access_token``), with a frozen ``now``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from joserfc import jws
from joserfc.jwk import ECKey, OKPKey, RSAKey
from joserfc.jws import JWSRegistry

from tokensmith.oauth import (
    BadSignature,
    InvalidToken,
    PublicKeys,
    UnknownKey,
    verify_jwt_access_token,
)

NOW = 1_700_000_000.0
ISSUER = "https://auth.example.com/realms/acme"
AUDIENCE = "acme"
ALGORITHMS = ("ES256", "RS256")
SIGNING_KEY = ECKey.generate_key("P-256")
OTHER_EC_KEY = ECKey.generate_key("P-256")
RSA_KEY = RSAKey.generate_key(2048)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def claims(**changes: Any) -> dict[str, Any]:
    """Valid claims at ``NOW`` (issued now, five minutes to live), with ``changes`` applied."""
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "svc",
        "client_id": "svc",
        "iat": int(NOW),
        "exp": int(NOW) + 300,
        "jti": "j1",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def sign(payload: dict[str, Any], key: Any = SIGNING_KEY, alg: str = "ES256", **header: Any) -> str:
    """A compact JWS of ``payload`` signed with ``key``; the header has ``typ: at+jwt`` and
    ``kid: k1`` unless ``header`` says otherwise (``kid=None`` leaves it out)."""
    fields = {"alg": alg, "typ": "at+jwt", "kid": "k1", **header}
    fields = {k: v for k, v in fields.items() if v is not None}
    return jws.serialize_compact(fields, json.dumps(payload).encode(), key, algorithms=[alg])


def jwks(*entries: tuple[Any, str | None]) -> PublicKeys:
    """The public keys of ``entries`` (key, kid or None for a key without kid) as a JWKS."""
    keys = []
    for key, kid in entries:
        public = key.as_dict(private=False)
        if kid is not None:
            public["kid"] = kid
        keys.append(public)
    return PublicKeys.from_jwks({"keys": keys})


KEYS = jwks((SIGNING_KEY, "k1"))


def verify(token: str, keys: PublicKeys = KEYS, **options: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "algorithms": ALGORITHMS,
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "now": NOW,
        "leeway": 0.0,
    }
    arguments.update(options)
    return verify_jwt_access_token(token, keys, **arguments)


def test_valid_token_returns_its_claims() -> None:
    """A token signed by the named key, for this issuer and audience, in its lifetime, verifies."""
    token = sign(claims())

    result = verify(token)

    assert result == claims()


def test_expired_token_is_refused() -> None:
    """A token whose exp is at or before now is refused as expired."""
    token = sign(claims(exp=int(NOW)))

    with pytest.raises(InvalidToken, match="expired"):
        verify(token)


def test_expired_token_within_leeway_is_accepted() -> None:
    """A token that expired less than the leeway ago is still accepted."""
    token = sign(claims(exp=int(NOW) - 10))

    assert verify(token, leeway=30.0)["sub"] == "svc"


def test_expired_token_past_leeway_is_refused() -> None:
    """A token that expired longer ago than the leeway is refused as expired."""
    token = sign(claims(exp=int(NOW) - 31))

    with pytest.raises(InvalidToken, match="expired"):
        verify(token, leeway=30.0)


def test_nbf_in_the_future_is_refused() -> None:
    """A token not valid before a time later than now (plus leeway) is refused naming nbf."""
    token = sign(claims(nbf=int(NOW) + 60))

    with pytest.raises(InvalidToken, match="nbf"):
        verify(token, leeway=30.0)


def test_iat_in_the_future_is_refused() -> None:
    """A token issued later than now (plus leeway) is refused naming iat."""
    token = sign(claims(iat=int(NOW) + 60, exp=int(NOW) + 360))

    with pytest.raises(InvalidToken, match="iat"):
        verify(token, leeway=30.0)


def test_wrong_issuer_names_both_issuers() -> None:
    """A token from another issuer is refused, naming the token's issuer and the one expected."""
    token = sign(claims(iss="https://evil.example.com/realms/acme"))

    with pytest.raises(InvalidToken) as caught:
        verify(token)

    assert "'https://evil.example.com/realms/acme'" in str(caught.value)
    assert f"expected {ISSUER!r}" in str(caught.value)


def test_wrong_audience_names_both_audiences() -> None:
    """A token for another audience is refused, naming the audience it has and the one
    expected."""
    token = sign(claims(aud="other-api"))

    with pytest.raises(InvalidToken) as caught:
        verify(token)

    assert "another audience ('other-api')" in str(caught.value)
    assert f"expected {AUDIENCE!r}" in str(caught.value)


def test_kidless_token_is_verified_by_the_fitting_key() -> None:
    """A token without kid is verified by whichever key of its type in the JWKS signed it."""
    keys = jwks((OTHER_EC_KEY, "k0"), (RSA_KEY, "r1"), (SIGNING_KEY, "k1"))
    token = sign(claims(), kid=None)

    assert verify(token, keys)["sub"] == "svc"


def test_unknown_kid_falls_back_to_kidless_keys() -> None:
    """A token naming an unknown kid is verified by a JWKS key that has no kid of its own."""
    keys = jwks((SIGNING_KEY, None))
    token = sign(claims(), kid="rotated-away")

    assert verify(token, keys)["sub"] == "svc"


def test_kidless_token_without_a_key_of_its_type_is_unknown_key() -> None:
    """A token without kid, when the JWKS holds no key of its algorithm's type, is UnknownKey."""
    keys = jwks((RSA_KEY, "r1"))
    token = sign(claims(), kid=None)

    with pytest.raises(UnknownKey):
        verify(token, keys)


def test_kidless_token_signed_by_a_stranger_is_bad_signature() -> None:
    """A token without kid that no fitting key of the JWKS verifies is BadSignature."""
    keys = jwks((OTHER_EC_KEY, "k0"))
    token = sign(claims(), kid=None)

    with pytest.raises(BadSignature):
        verify(token, keys)


def test_alg_none_is_refused() -> None:
    """An unsigned token (alg none) is refused for its algorithm."""
    header = b64(json.dumps({"alg": "none", "typ": "at+jwt", "kid": "k1"}).encode())
    payload = b64(json.dumps(claims()).encode())

    with pytest.raises(InvalidToken, match="algorithm"):
        verify(f"{header}.{payload}.")


def test_hs256_is_refused() -> None:
    """A token MACed with HS256 (keyed with the public key: HS/ES confusion) is refused for its
    algorithm."""
    header = b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": "k1"}).encode())
    signing_input = f"{header}.{b64(json.dumps(claims()).encode())}"
    public_key = json.dumps(SIGNING_KEY.as_dict(private=False)).encode()
    mac = hmac.new(public_key, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{b64(mac)}"

    with pytest.raises(InvalidToken, match="algorithm"):
        verify(token)


def test_crit_header_is_refused() -> None:
    """A correctly signed token whose header names critical extensions (crit) is refused."""
    header = {"alg": "ES256", "typ": "at+jwt", "kid": "k1", "crit": ["urn:x"], "urn:x": 1}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims()).encode())}"
    signature = JWSRegistry.algorithms["ES256"].sign(signing_input.encode(), SIGNING_KEY)
    token = f"{signing_input}.{b64(signature)}"

    with pytest.raises(InvalidToken, match="crit"):
        verify(token)


def signed_raw(header: dict[str, Any], payload: dict[str, Any], key: Any) -> str:
    """A compact JWS signed with joserfc's algorithm directly (no registry, so no warnings)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = JWSRegistry.algorithms[header["alg"]].sign(signing_input.encode(), key)
    return f"{signing_input}.{b64(signature)}"


def test_eddsa_token_verifies_without_a_warning() -> None:
    """An EdDSA token verifies when EdDSA is allowed, without joserfc's deprecation warning
    (warnings are errors here)."""
    key = OKPKey.generate_key("Ed25519")
    token = signed_raw({"alg": "EdDSA", "typ": "at+jwt", "kid": "ed"}, claims(), key)

    result = verify(token, jwks((key, "ed")), algorithms=("EdDSA",))

    assert result["sub"] == "svc"


def test_kid_naming_a_key_of_another_type_is_bad_signature() -> None:
    """An RS256 token whose kid names the JWKS's EC key is BadSignature: a key never verifies
    an algorithm of another key type."""
    token = sign(claims(), key=RSA_KEY, alg="RS256", kid="k1")

    with pytest.raises(BadSignature):
        verify(token)


def test_unregistered_header_parameters_are_accepted() -> None:
    """A header parameter no RFC registers (Azure AD's nonce) does not make a token invalid."""
    header = {"alg": "ES256", "typ": "at+jwt", "kid": "k1", "nonce": "n-1"}

    assert verify(signed_raw(header, claims(), SIGNING_KEY))["sub"] == "svc"


def test_padded_base64_is_refused() -> None:
    """A token whose segments carry base64 padding is not a JWS (RFC 7515 §2) and is refused."""
    header = base64.urlsafe_b64encode(b'{"alg":"ES256","typ":"at+jwt","kid":"k1"}').decode()
    payload = b64(json.dumps(claims()).encode())
    signature = JWSRegistry.algorithms["ES256"].sign(f"{header}.{payload}".encode(), SIGNING_KEY)
    assert header.endswith("=")

    with pytest.raises(InvalidToken, match="not a valid JWS"):
        verify(f"{header}.{payload}.{b64(signature)}")


@pytest.mark.parametrize(("name", "value"), [("sub", 7), ("jti", ["j"]), ("aud", {"a": 1})])
def test_claim_of_the_wrong_type_is_refused(name: str, value: Any) -> None:
    """A sub, jti or aud that is not of the type RFC 7519 §4.1 gives it is refused, whatever
    the caller checks."""
    token = sign(claims(**{name: value}))

    with pytest.raises(InvalidToken, match=name):
        verify(token, audience=None)


def test_fractional_exp_is_compared_exactly() -> None:
    """A NumericDate with a fraction (RFC 7519 §2) is compared as it is: a token expiring half
    a second after now is still valid."""
    token = sign(claims(exp=NOW + 0.5))

    assert verify(token)["sub"] == "svc"
