"""Bearer-token verifications per second: repeated tokens (the verified-token cache), fresh ones
through the Verifier (full ES256 signature check), and fresh ones through the protocol core
``verify_jwt_access_token`` alone (ES256 and RS256: RSA verification is cheap, so framing and
claim checks weigh more there), with PyJWT's decode as the baseline in the same run.

    python bench/verify.py [--tokens 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import jwt

from tokensmith.oauth import (
    Algorithm,
    PublicKeys,
    Signer,
    generate_key,
    key_id,
    public_jwk,
    verify_jwt_access_token,
)
from tokensmith.resource import Verifier

ISSUER = "https://auth.example/realms/bench"


def make_tokens(n: int, alg: Algorithm = "ES256") -> tuple[list[str], dict[str, Any], object]:
    key = generate_key(alg)
    kid = key_id(key)
    signer = Signer(key, kid=kid, alg=alg)
    now = int(time.time())
    tokens = [
        signer.sign(
            {
                "iss": ISSUER,
                "sub": f"c{i}",
                "aud": "api",
                "exp": now + 3600,
                "iat": now,
                "jti": f"j{i}",
                "client_id": f"c{i}",
                "scope": "read",
            }
        )
        for i in range(n)
    ]
    jwks = {"keys": [public_jwk(key, kid=kid, alg=alg)]}
    return tokens, jwks, jwt.PyJWK(jwks["keys"][0]).key


def rate(fn: Callable[[str], object], tokens: list[str], repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        for token in tokens:
            fn(token)
    return repeat * len(tokens) / (time.perf_counter() - start)


def core(jwks: dict[str, Any], alg: str) -> Callable[[str], object]:
    """``verify_jwt_access_token`` with no cache in front: every call parses, checks the header,
    verifies the signature and checks the claims."""
    keys = PublicKeys.from_jwks(jwks)

    def verify(token: str) -> object:
        return verify_jwt_access_token(
            token, keys, algorithms=(alg,), issuer=ISSUER, audience="api", now=time.time()
        )

    return verify


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    tokens, jwks, pyjwt_key = make_tokens(args.tokens)
    rs_tokens, rs_jwks, rs_pyjwt_key = make_tokens(500, "RS256")

    def fresh_verifier() -> Verifier:
        verifier = Verifier(
            jwks_url="https://auth.example/certs",
            issuer=ISSUER,
            audience="api",
            algorithms=("ES256",),
        )
        verifier.keys = PublicKeys.from_jwks(jwks)
        verifier._fetched_at = time.time()  # keys given directly: no fetch in the benchmark
        return verifier

    fresh = fresh_verifier()
    fresh.cache_size = 1  # every token is new to it
    cached = fresh_verifier()
    cached.cache_size = 10_000
    for token in tokens:
        cached.verify(token)
    es_core, rs_core = core(jwks, "ES256"), core(rs_jwks, "RS256")

    def pyjwt(token: str) -> object:
        return jwt.decode(token, pyjwt_key, algorithms=["ES256"], audience="api", issuer=ISSUER)

    def pyjwt_rs(token: str) -> object:
        return jwt.decode(token, rs_pyjwt_key, algorithms=["RS256"], audience="api", issuer=ISSUER)

    results: dict[str, list[float]] = {
        "PyJWT ES256 decode": [],
        "tokensmith fresh": [],
        "tokensmith repeated": [],
        "core ES256 fresh": [],
        "PyJWT RS256 decode": [],
        "core RS256 fresh": [],
    }
    for _ in range(args.rounds):
        results["PyJWT ES256 decode"].append(rate(pyjwt, tokens[:500], 1))
        results["tokensmith fresh"].append(rate(fresh.verify, tokens[:500], 1))
        results["tokensmith repeated"].append(rate(cached.verify, tokens, 20))
        results["core ES256 fresh"].append(rate(es_core, tokens[:500], 1))
        results["PyJWT RS256 decode"].append(rate(pyjwt_rs, rs_tokens, 1))
        results["core RS256 fresh"].append(rate(rs_core, rs_tokens, 1))
    base = statistics.median(results["PyJWT ES256 decode"])
    rs_base = statistics.median(results["PyJWT RS256 decode"])
    print(f"verifications per second on one core, median of {args.rounds} rounds:")
    for name, values in results.items():
        median = statistics.median(values)
        against, label = (rs_base, "PyJWT RS256") if "RS256" in name else (base, "PyJWT ES256")
        per_call = 1e6 / median
        print(f"  {name:<20} {median:8.0f} /s {per_call:7.1f} µs {median / against:5.2f}x {label}")
    print(json.dumps({k: round(statistics.median(v)) for k, v in results.items()}))


if __name__ == "__main__":
    main()
