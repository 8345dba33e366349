"""Bearer-token verifications per second: repeated tokens (the verified-token cache) and fresh
ones (full ES256 signature check), with PyJWT's ES256 decode as the baseline in the same run.

    python bench/verify.py [--tokens 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import jwt

from tokensmith.oauth import PublicKeys, Signer, generate_key, key_id, public_jwk
from tokensmith.resource import Verifier

ISSUER = "https://auth.example/realms/bench"


def make_tokens(n: int) -> tuple[list[str], dict[str, object], object]:
    key = generate_key("ES256")
    kid = key_id(key)
    signer = Signer(key, kid=kid, alg="ES256")
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
    jwks = {"keys": [public_jwk(key, kid=kid, alg="ES256")]}
    return tokens, jwks, jwt.PyJWK(jwks["keys"][0]).key


def rate(fn: Callable[[str], object], tokens: list[str], repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        for token in tokens:
            fn(token)
    return repeat * len(tokens) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    tokens, jwks, pyjwt_key = make_tokens(args.tokens)

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

    def pyjwt(token: str) -> object:
        return jwt.decode(token, pyjwt_key, algorithms=["ES256"], audience="api", issuer=ISSUER)

    results: dict[str, list[float]] = {
        "PyJWT ES256 decode": [],
        "tokensmith fresh": [],
        "tokensmith repeated": [],
    }
    for _ in range(args.rounds):
        results["PyJWT ES256 decode"].append(rate(pyjwt, tokens[:500], 1))
        results["tokensmith fresh"].append(rate(fresh.verify, tokens[:500], 1))
        results["tokensmith repeated"].append(rate(cached.verify, tokens, 20))
    base = statistics.median(results["PyJWT ES256 decode"])
    print(f"verifications per second on one core, median of {args.rounds} rounds:")
    for name, values in results.items():
        median = statistics.median(values)
        print(f"  {name:<22} {median:10.0f} /s   {median / base:6.1f}x PyJWT")
    print(json.dumps({k: round(statistics.median(v)) for k, v in results.items()}))


if __name__ == "__main__":
    main()
