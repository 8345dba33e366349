"""DPoP (RFC 9449) at the token endpoint, over real HTTP against `tokensmith serve`: a proof
binds the access token to its key (cnf.jkt, token_type DPoP); each check of §4.3 refuses a bad
proof with invalid_dpop_proof; a replayed proof is refused; a realm with nonces answers
use_dpop_nonce with a DPoP-Nonce, then accepts the proof that carries it; a realm or a client
that requires DPoP refuses a request without a proof."""

from __future__ import annotations

import contextlib
import json
import time
import warnings
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OKPKey, RSAKey

from tokensmith.oauth import InvalidDPoPProof, ProofKey, check_proof, jwt_claims, thumbprint

from .serve_process import Serving, serving
from .test_admin_api import settings, tokensmith

TOKEN_PATH = "/realms/{}/protocol/openid-connect/token"


@dataclass
class Service:
    serving: Serving
    secrets: dict[str, str]

    def url(self, realm: str = "acme") -> str:
        return self.serving.url + TOKEN_PATH.format(realm)

    def token(
        self, proof: str | list[str] | None, *, realm: str = "acme", client: str = "svc"
    ) -> httpx.Response:
        proofs = [] if proof is None else [proof] if isinstance(proof, str) else proof
        return httpx.post(
            self.url(realm),
            data={"grant_type": "client_credentials"},
            auth=(client, self.secrets[client]),
            headers=[("DPoP", p) for p in proofs],
        )


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    tmp_path = tmp_path_factory.mktemp("dpop")
    made: dict[str, str] = {}
    for args in (
        ("db", "upgrade"),
        ("realm", "create", "acme"),
        ("realm", "create", "strict", "--require-dpop", "--dpop-nonce"),
    ):
        assert tokensmith(tmp_path, *args).returncode == 0
    for realm, client, *flags in (
        ("acme", "svc"),
        ("acme", "bound", "--require-dpop"),
        ("strict", "strict"),
        ("acme", "exchanger", "--grant", "token-exchange"),
    ):
        created = tokensmith(tmp_path, "client", "create", realm, client, *flags, "--json")
        assert created.returncode == 0, created.stderr
        made[client] = json.loads(created.stdout)["client_secret"]
    ops = tokensmith(tmp_path, "admin", "create-client", "ops", "--json")
    assert ops.returncode == 0, ops.stderr
    made["ops"] = json.loads(ops.stdout)["client_secret"]
    # Every log option on: the no-secret test below reads what they would write.
    with serving(tmp_path, settings(tmp_path), "--access-log", "--log-level", "debug") as running:
        yield Service(running, made)


def signed(header: dict[str, Any], claims: dict[str, Any], key: ECKey | RSAKey) -> str:
    return jwt.encode(header, claims, key)


def claims_for(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "jti": f"j{time.monotonic_ns()}",
        "htm": "POST",
        "htu": url,
        "iat": int(time.time()),
        **extra,
    }


def test_a_proof_binds_the_token_to_its_key(service: Service) -> None:
    key = ProofKey()
    answer = service.token(key.proof("POST", service.url(), now=time.time()))
    plain = service.token(None)

    assert answer.status_code == 200, answer.text
    assert answer.json()["token_type"] == "DPoP"
    assert jwt_claims(answer.json()["access_token"])["cnf"] == {"jkt": key.jkt}  # type: ignore[index]
    assert plain.json()["token_type"] == "Bearer"
    assert "cnf" not in jwt_claims(plain.json()["access_token"])  # type: ignore[operator]


def test_an_rsa_proof_key_works_too(service: Service) -> None:
    key = ProofKey(alg="RS256")
    answer = service.token(key.proof("POST", service.url(), now=time.time()))

    assert answer.status_code == 200, answer.text
    assert jwt_claims(answer.json()["access_token"])["cnf"] == {"jkt": key.jkt}  # type: ignore[index]


def _bad_proofs(url: str) -> dict[str, tuple[str | list[str], str]]:
    """Each way a proof breaks a check of RFC 9449 §4.3, and what the refusal says."""
    key = ECKey.generate_key("P-256")
    jwk = key.as_dict(private=False)
    other = ECKey.generate_key("P-256")
    good_header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}
    good = signed(good_header, claims_for(url), key)
    head, body, _ = good.split(".")
    forged_body = signed(good_header, claims_for(url, htm="GET"), key).split(".")[1]
    return {
        "not a JWT": ("not-a-jwt", "malformed"),
        "two headers": ([good, good], "more than one DPoP header"),
        "typ": (signed({**good_header, "typ": "JWT"}, claims_for(url), key), "typ"),
        "alg none": (f"{head.replace(head, _b64({**good_header, 'alg': 'none'}))}.{body}.", "alg"),
        "HS256": (
            signed({"typ": "dpop+jwt", "alg": "HS256", "jwk": jwk}, claims_for(url), _oct()),
            "alg",
        ),
        "no jwk": (signed({"typ": "dpop+jwt", "alg": "ES256"}, claims_for(url), key), "jwk"),
        "private jwk": (
            signed({**good_header, "jwk": key.as_dict(private=True)}, claims_for(url), key),
            "private key",
        ),
        "signed by another key": (signed(good_header, claims_for(url), other), "signature"),
        "forged claims": (f"{head}.{forged_body}.{good.split('.')[2]}", "signature"),
        "htm": (signed(good_header, claims_for(url, htm="GET"), key), "method"),
        "htu": (
            signed(good_header, claims_for(url.replace("/token", "/certs")), key),
            "another URL",
        ),
        "stale": (signed(good_header, claims_for(url, iat=int(time.time()) - 3600), key), "older"),
        "future": (
            signed(good_header, claims_for(url, iat=int(time.time()) + 3600), key),
            "future",
        ),
        "no jti": (
            signed(good_header, {k: v for k, v in claims_for(url).items() if k != "jti"}, key),
            "jti",
        ),
    }


def _b64(header: dict[str, Any]) -> str:
    from tokensmith.oauth import b64url

    return b64url(json.dumps(header).encode()).decode()


def _oct() -> Any:
    from joserfc.jwk import OctKey

    return OctKey.generate_key(256)


@pytest.mark.parametrize("case", list(_bad_proofs("http://x/token")))
def test_each_check_of_rfc_9449_refuses_a_bad_proof(service: Service, case: str) -> None:
    proof, said = _bad_proofs(service.url())[case]

    answer = service.token(proof)

    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_dpop_proof"
    assert said in answer.json()["error_description"]


def test_a_replayed_proof_is_refused(service: Service) -> None:
    key = ProofKey()
    proof = key.proof("POST", service.url(), now=time.time())

    first = service.token(proof)
    again = service.token(proof)

    assert first.status_code == 200
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_dpop_proof"
    assert "already used" in again.json()["error_description"]


def test_the_query_of_htu_and_the_case_of_the_scheme_do_not_matter(service: Service) -> None:
    key = ProofKey()
    url = "HTTP" + service.url().removeprefix("http") + "?ignored=1#too"

    answer = service.token(key.proof("POST", url, now=time.time()))

    assert answer.status_code == 200, answer.text


def test_a_client_that_requires_dpop_refuses_a_bearer_request(service: Service) -> None:
    refused = service.token(None, client="bound")
    key = ProofKey()
    accepted = service.token(key.proof("POST", service.url(), now=time.time()), client="bound")

    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_dpop_proof"
    assert "client bound requires a DPoP proof" in refused.json()["error_description"]
    assert accepted.json()["token_type"] == "DPoP"


def test_a_realm_with_nonces_asks_for_one_then_accepts_it(service: Service) -> None:
    key = ProofKey()
    url = service.url("strict")

    bare = service.token(None, realm="strict", client="strict")
    first = service.token(key.proof("POST", url, now=time.time()), realm="strict", client="strict")
    nonce = first.headers["dpop-nonce"]
    second = service.token(
        key.proof("POST", url, now=time.time(), nonce=nonce), realm="strict", client="strict"
    )
    wrong = service.token(
        key.proof("POST", url, now=time.time(), nonce=nonce[:-2] + "AA"),
        realm="strict",
        client="strict",
    )

    assert bare.status_code == 400
    assert "realm strict requires a DPoP proof" in bare.json()["error_description"]
    assert first.status_code == 400
    assert first.json()["error"] == "use_dpop_nonce"
    assert second.status_code == 200, second.text
    assert second.headers["dpop-nonce"]  # a fresh one with every answer
    assert second.json()["token_type"] == "DPoP"
    assert wrong.json()["error"] == "use_dpop_nonce"


def test_discovery_advertises_the_proof_algorithms(service: Service) -> None:
    meta = httpx.get(service.serving.url + "/realms/acme/.well-known/openid-configuration").json()

    assert meta["dpop_signing_alg_values_supported"] == [
        "ES256",
        "ES384",
        "RS256",
        "PS256",
        "EdDSA",
        "Ed25519",
    ]


@pytest.mark.parametrize("alg", ["EdDSA", "Ed25519"])
def test_an_ed25519_proof_works_under_either_name(service: Service, alg: str) -> None:
    """An Ed25519 key signs as ``EdDSA`` (RFC 8037) or as ``Ed25519`` (RFC 9864, as node
    openid-client does); an Ed448 key is not one for ``Ed25519``."""
    from joserfc.errors import SecurityWarning

    from tokensmith.oauth import b64url

    key = OKPKey.generate_key("Ed25519")
    header = {"typ": "dpop+jwt", "alg": alg, "jwk": key.as_dict(private=False)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)  # joserfc's, on signing as EdDSA
        proof = jwt.encode(header, claims_for(service.url()), key, algorithms=[alg])
    ed448 = OKPKey.generate_key("Ed448")
    wrong = {"typ": "dpop+jwt", "alg": "Ed25519", "jwk": ed448.as_dict(private=False)}
    signing_input = (
        f"{_b64(wrong)}.{b64url(json.dumps(claims_for(service.url())).encode()).decode()}"
    )
    signature = b64url(ed448.private_key.sign(signing_input.encode())).decode()

    answer = service.token(proof)
    refused = service.token(f"{signing_input}.{signature}")

    assert answer.status_code == 200, answer.text
    assert jwt_claims(answer.json()["access_token"])["cnf"] == {"jkt": thumbprint(header["jwk"])}  # type: ignore[index]
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_dpop_proof"
    assert "signature" in refused.json()["error_description"]


def test_the_thumbprint_is_rfc_7638s() -> None:
    """RFC 7638 §3.1's example key and thumbprint."""
    jwk = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tS"
        "oc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR"
        "0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhA"
        "I4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }

    assert thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_nothing_secret_in_the_service_log(service: Service, tmp_path: Path) -> None:
    """With the access log on and debug logging, neither a proof, nor a token, nor a secret."""
    key = ProofKey()
    proof = key.proof("POST", service.url(), now=time.time())
    token = service.token(proof).json()["access_token"]

    log = service.serving.output()

    assert "POST /realms/acme/protocol/openid-connect/token" in log  # the access log is on
    assert proof not in log
    assert token not in log
    assert all(secret not in log for secret in service.secrets.values())


# --- protected APIs (RFC 9449 §7) ----------------------------------------------------------------


@dataclass
class API:
    url: str
    service: Service

    def dpop_token(self, key: ProofKey) -> str:
        answer = self.service.token(key.proof("POST", self.service.url(), now=time.time()))
        assert answer.json()["token_type"] == "DPoP"
        token: str = answer.json()["access_token"]
        return token

    def get(
        self,
        path: str,
        token: str,
        *,
        scheme: str = "DPoP",
        proofs: Sequence[str] = (),
    ) -> httpx.Response:
        headers = [("Authorization", f"{scheme} {token}"), *(("DPoP", p) for p in proofs)]
        return httpx.get(self.url + path, headers=headers)


@pytest.fixture(scope="module")
def api(service: Service) -> Iterator[API]:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Mount, Route

    from tokensmith.resource import BearerAuthMiddleware, RequireToken, Verifier

    from .server_thread import ServerThread

    issuer = f"{service.serving.url}/realms/acme"
    verifier = Verifier(issuer=issuer, audience="acme")
    nonced = Verifier(issuer=issuer, audience="acme", dpop_nonce_secret=b"k" * 32)
    require = RequireToken(verifier)

    async def things(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.state.claims["sub"]})

    async def depends(request: Request) -> JSONResponse:
        claims = await require(request)
        return JSONResponse({"sub": claims["sub"]})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        for each in (verifier, nonced):  # their JWKS clients belong to the server's loop
            await each.aclose()

    app = Starlette(
        lifespan=lifespan,
        routes=[
            Mount(
                "/api",
                app=BearerAuthMiddleware(Starlette(routes=[Route("/things", things)]), verifier),
            ),
            Mount(
                "/nonce",
                app=BearerAuthMiddleware(Starlette(routes=[Route("/things", things)]), nonced),
            ),
            Route("/dependency", depends),
        ],
    )
    with ServerThread(app) as server:
        yield API(server.url, service)


def test_a_bound_token_with_its_proof_is_accepted(api: API) -> None:
    key = ProofKey()
    token = api.dpop_token(key)
    url = api.url + "/api/things"

    answer = api.get(
        "/api/things", token, proofs=[key.proof("GET", url, now=time.time(), access_token=token)]
    )
    by_dependency = api.get(
        "/dependency",
        token,
        proofs=[key.proof("GET", api.url + "/dependency", now=time.time(), access_token=token)],
    )

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"sub": "svc"}
    assert by_dependency.status_code == 200, by_dependency.text


def _refused(api: API) -> dict[str, tuple[httpx.Response, str]]:
    key, other = ProofKey(), ProofKey()
    token = api.dpop_token(key)
    url = api.url + "/api/things"
    now = time.time()
    replayed = key.proof("GET", url, now=now, access_token=token)
    assert api.get("/api/things", token, proofs=[replayed]).status_code == 200
    plain = api.service.token(None).json()["access_token"]
    return {
        "sent as Bearer": (api.get("/api/things", token, scheme="Bearer"), "invalid_token"),
        "no proof": (api.get("/api/things", token), "invalid_dpop_proof"),
        "no ath": (
            api.get("/api/things", token, proofs=[key.proof("GET", url, now=now)]),
            "invalid_dpop_proof",
        ),
        "another token's ath": (
            api.get(
                "/api/things", token, proofs=[key.proof("GET", url, now=now, access_token=plain)]
            ),
            "invalid_dpop_proof",
        ),
        "another key": (
            api.get(
                "/api/things", token, proofs=[other.proof("GET", url, now=now, access_token=token)]
            ),
            "invalid_dpop_proof",
        ),
        "replayed": (api.get("/api/things", token, proofs=[replayed]), "invalid_dpop_proof"),
        "wrong htm": (
            api.get(
                "/api/things", token, proofs=[key.proof("POST", url, now=now, access_token=token)]
            ),
            "invalid_dpop_proof",
        ),
        "wrong htu": (
            api.get(
                "/api/things",
                token,
                proofs=[key.proof("GET", api.url + "/other", now=now, access_token=token)],
            ),
            "invalid_dpop_proof",
        ),
        "stale": (
            api.get(
                "/api/things",
                token,
                proofs=[key.proof("GET", url, now=now - 3600, access_token=token)],
            ),
            "invalid_dpop_proof",
        ),
        "a bearer token as DPoP": (
            api.get(
                "/api/things", plain, proofs=[key.proof("GET", url, now=now, access_token=plain)]
            ),
            "invalid_token",
        ),
    }


def test_each_refusal_at_a_protected_api_answers_a_dpop_challenge(api: API) -> None:
    for case, (answer, error) in _refused(api).items():
        assert answer.status_code == 401, (case, answer.text)
        assert answer.json()["error"] == error, case
        challenge = answer.headers["www-authenticate"]
        if case == "sent as Bearer":
            assert challenge.startswith("Bearer "), case
            assert "DPoP-bound" in answer.json()["error_description"]
        else:
            assert challenge.startswith("DPoP algs="), (case, challenge)
            assert f'error="{error}"' in challenge, case


def test_an_api_with_nonces_asks_for_one_then_accepts_it(api: API) -> None:
    key = ProofKey()
    token = api.dpop_token(key)
    url = api.url + "/nonce/things"

    first = api.get(
        "/nonce/things", token, proofs=[key.proof("GET", url, now=time.time(), access_token=token)]
    )
    nonce = first.headers["dpop-nonce"]
    second = api.get(
        "/nonce/things",
        token,
        proofs=[key.proof("GET", url, now=time.time(), access_token=token, nonce=nonce)],
    )

    assert first.status_code == 401
    assert first.json()["error"] == "use_dpop_nonce"
    assert 'error="use_dpop_nonce"' in first.headers["www-authenticate"]
    assert second.status_code == 200, second.text


# --- the client (TokenSource(dpop=True)) ---------------------------------------------------------


def _source(service: Service, realm: str = "acme", client: str = "svc", **options: Any) -> Any:
    from tokensmith import TokenSource

    return TokenSource(
        service.url(realm),
        client_id=client,
        client_secret=service.secrets[client],
        dpop=True,
        **options,
    )


def test_a_source_gets_bound_tokens_and_proves_them_to_apis(api: API) -> None:
    import requests

    with _source(api.service) as source:
        token = source.token()
        with httpx.Client(auth=source) as http:
            direct = http.get(api.url + "/api/things")
            nonced = http.get(api.url + "/nonce/things")  # 401 use_dpop_nonce, then again
            again = http.get(api.url + "/nonce/things")  # the nonce is known now
        fresh_origin = api.url.replace("127.0.0.1", "localhost")  # no nonce known there yet
        by_requests = requests.get(
            fresh_origin + "/nonce/things", auth=source.requests_auth(), timeout=10
        )

    assert token.token_type == "DPoP"
    assert jwt_claims(token.access_token)["cnf"] == {"jkt": source.dpop_key.jkt}  # type: ignore[index]
    assert direct.status_code == nonced.status_code == again.status_code == 200, nonced.text
    assert [r.status_code for r in nonced.history] == [401]  # use_dpop_nonce, then the retry
    assert again.history == []
    assert by_requests.status_code == 200, by_requests.text
    assert [r.status_code for r in by_requests.history] == [401]
    assert "ProofKey(alg='ES256'" in repr(source.dpop_key)


async def test_an_async_source_proves_its_tokens_too(api: API) -> None:
    async with _source(api.service) as source, httpx.AsyncClient(auth=source) as http:
        answer = await http.get(api.url + "/nonce/things")

    assert answer.status_code == 200, answer.text


def test_a_source_sends_the_token_endpoints_nonce_when_asked(service: Service) -> None:
    with _source(service, realm="strict", client="strict") as source:
        token = source.token()
        fetches = source.stats.fetches

    assert token.token_type == "DPoP"
    assert fetches == 1  # one fetch: its request went twice, the second with the nonce


# --- what the review of the first version found ---------------------------------------------------


def test_the_admin_api_takes_a_bound_token_only_with_its_proof(service: Service) -> None:
    """A DPoP-bound admin token is refused as Bearer, accepted as DPoP with a proof of its key,
    and each proof works once (RFC 9449 §7.1, as at any protected API)."""
    key = ProofKey()
    answer = service.token(
        key.proof("POST", service.url("master"), now=time.time()), realm="master", client="ops"
    )
    token = answer.json()["access_token"]
    url = service.serving.url + "/admin/realms"
    proof = key.proof("GET", url, now=time.time(), access_token=token)

    as_bearer = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
    proven = httpx.get(url, headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    replayed = httpx.get(url, headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    unproven = httpx.get(url, headers={"Authorization": f"DPoP {token}"})

    assert answer.json()["token_type"] == "DPoP"
    assert as_bearer.status_code == 401
    assert "DPoP-bound" in as_bearer.json()["errorMessage"]
    assert proven.status_code == 200, proven.text
    assert replayed.status_code == unproven.status_code == 401
    assert replayed.headers["www-authenticate"].startswith("DPoP ")
    assert 'error="invalid_dpop_proof"' in unproven.headers["www-authenticate"]


def test_introspection_says_a_token_is_bound_and_exchange_refuses_it(service: Service) -> None:
    key = ProofKey()
    token = service.token(key.proof("POST", service.url(), now=time.time())).json()["access_token"]

    seen = httpx.post(
        service.url() + "/introspect", data={"token": token}, auth=("svc", service.secrets["svc"])
    ).json()
    exchanged = httpx.post(
        service.url(),
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": token,
            "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
        },
        auth=("exchanger", service.secrets["exchanger"]),
    )

    assert (seen["active"], seen["token_type"], seen["cnf"]) == (True, "DPoP", {"jkt": key.jkt})
    assert exchanged.status_code == 400
    assert exchanged.json()["error"] == "invalid_grant"
    assert "DPoP-bound" in exchanged.json()["error_description"]


def test_the_nonce_is_asked_for_before_the_client_is_authenticated(service: Service) -> None:
    """A request that will be refused for its nonce spends nothing (a single-use platform
    token would be lost): even a wrong secret gets use_dpop_nonce first."""
    key = ProofKey()
    answer = httpx.post(
        service.url("strict"),
        data={"grant_type": "client_credentials"},
        auth=("strict", "wrong"),
        headers={"DPoP": key.proof("POST", service.url("strict"), now=time.time())},
    )

    assert answer.status_code == 400
    assert answer.json()["error"] == "use_dpop_nonce"


def test_hostile_claims_and_keys_are_refusals_not_errors(service: Service) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    url = service.url()
    key = ECKey.generate_key("P-256")
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
    weak = RSAKey.import_key(rsa.generate_private_key(public_exponent=3, key_size=2048))
    weak_header = {"typ": "dpop+jwt", "alg": "RS256", "jwk": weak.as_dict(private=False)}
    port = url.replace("127.0.0.1:", "127.0.0.1:99999").split("/realms")[0] + TOKEN_PATH.format(
        "acme"
    )
    cases = {
        "non-ASCII nonce": (signed(header, claims_for(url, nonce="é"), key), "strict", "nonce"),
        "exponent 3": (signed(weak_header, claims_for(url), weak), "acme", "usable public key"),
        "invalid port": (signed(header, claims_for(port), key), "acme", "another URL"),
        "long jti": (signed(header, claims_for(url, jti="j" * 201), key), "acme", "jti"),
    }
    for case, (proof, realm, said) in cases.items():
        client = "strict" if realm == "strict" else "svc"
        answer = service.token(proof, realm=realm, client=client)
        assert answer.status_code == 400, (case, answer.text)
        assert said in answer.json()["error_description"], case
    with pytest.raises(InvalidDPoPProof, match="ath"):  # at an API, which checks ath
        check_proof(
            signed(header, claims_for(url, ath="é"), key),
            method="POST",
            url=url,
            now=time.time(),
            access_token="a.b.c",
        )
