"""``Signer.from_pem``: a signer for a stored private key, loaded by ``cryptography`` alone (what
each worker of the service does), signs exactly as one made from the joserfc key."""

from __future__ import annotations

import pytest

from tokensmith.oauth import (
    Algorithm,
    PublicKeys,
    Signer,
    generate_key,
    key_id,
    key_to_pem,
    public_jwk,
    verify_jwt_access_token,
)

NOW = 1_700_000_000
CLAIMS = {"iss": "https://auth.example.com/realms/acme", "sub": "svc", "client_id": "svc"}


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_a_signer_from_pem_signs_tokens_the_key_verifies(alg: Algorithm) -> None:
    """A token signed by a signer loaded from the key's PEM verifies with the key's public JWK
    and carries the same protected header as one from the joserfc key."""
    key = generate_key(alg)
    kid = key_id(key)
    keys = PublicKeys.from_jwks({"keys": [public_jwk(key, kid=kid, alg=alg)]})
    claims = {**CLAIMS, "iat": NOW, "exp": NOW + 300}

    token = Signer.from_pem(key_to_pem(key), kid=kid, alg=alg).sign(claims)

    verified = verify_jwt_access_token(
        token, keys, algorithms=(alg,), issuer=None, audience=None, now=NOW
    )
    assert verified == claims
    same = Signer(key, kid=kid, alg=alg).sign(claims)
    assert token.split(".")[:2] == same.split(".")[:2]


def test_a_pem_of_another_algorithm_is_refused() -> None:
    """An RSA key's PEM cannot make an ES256 signer, nor a P-256 key's an RS256 one."""
    rsa, ec = key_to_pem(generate_key("RS256")), key_to_pem(generate_key("ES256"))

    with pytest.raises(ValueError, match="ES256 needs a P-256 private key"):
        Signer.from_pem(rsa, kid="k", alg="ES256")
    with pytest.raises(ValueError, match="RS256 needs an RSA private key"):
        Signer.from_pem(ec, kid="k", alg="RS256")
