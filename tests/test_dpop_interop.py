"""DPoP (RFC 9449) with other implementations, over real HTTP on loopback: node openid-client
(its DPoP option, ES256 and Ed25519 keys) gets bound tokens from the service, answering its
nonces, and proves them to a protected API; the tokensmith client gets bound tokens from node
oidc-provider with its DPoP feature on, with and without required nonces, and proves them to an
API under tokensmith's middleware; node jose verifies a bound token against the realm's JWKS,
the key thumbprint it is bound to, and a tokensmith proof with its embedded key."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tokensmith.oauth import ProofKey, jwt_claims, thumbprint, token_hash

from .serve_process import free_port
from .test_dpop import API, TOKEN_PATH, Service, api, service
from .test_node_clients import node_clients

__all__ = ["api", "node_clients", "service"]  # the fixtures, imported for their use here

PROVIDER_SECRET = "interop-secret-0123456789abcdef0123456789"
PROVIDER_RESOURCE = "https://api.example.com"  # its JWT access tokens' audience


def _node(node_dir: Path, script: str, *args: str, stdin: str | None = None) -> Any:
    """What ``node script args`` prints, as JSON; fails the test when node fails."""
    run = subprocess.run(
        ["node", script, *args],
        cwd=node_dir,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


# --- openid-client against the service -----------------------------------------------------------


@pytest.mark.parametrize("alg", ["ES256", "Ed25519"])
def test_openid_client_gets_a_bound_token_and_proves_it_to_an_api(
    api: API, node_clients: Path, alg: str
) -> None:
    """openid-client's DPoP handle gets a token bound to its key, then calls an API that wants a
    nonce: fetchProtectedResource answers the 401 use_dpop_nonce and the retry is accepted. Its
    Ed25519 proofs are signed as RFC 9864's ``Ed25519``, not ``EdDSA``."""
    service = api.service
    token_path = TOKEN_PATH.format("acme")

    got = _node(
        node_clients,
        "dpop_openid_client.mjs",
        f"{service.serving.url}/realms/acme",
        "svc",
        service.secrets["svc"],
        api.url + "/nonce/things",
        alg,
    )

    assert got["sent_token_type"] == "DPoP"
    assert got["token_type"] == "dpop"  # openid-client's lowercased reading of it
    assert got["jkt"] == thumbprint(got["jwk"])  # jose and tokensmith agree on RFC 7638
    assert jwt_claims(got["access_token"])["cnf"] == {"jkt": got["jkt"]}  # type: ignore[index]
    assert got["api"] == {"status": 200, "body": {"sub": "svc"}}
    assert got["proof_algs"] == [alg]
    assert got["exchanges"] == [
        [token_path, 200],
        [token_path, 200],
        ["/nonce/things", 401],  # use_dpop_nonce
        ["/nonce/things", 200],
    ]


def test_openid_client_answers_a_realm_that_requires_nonces(api: API, node_clients: Path) -> None:
    """A realm created with --require-dpop --dpop-nonce answers openid-client's first proof with
    use_dpop_nonce; openid-client sends the nonce in a new proof and gets a bound token, and its
    next token request sends the nonce the answer carried at once. (The
    API only trusts realm acme, so it answers 401 invalid_token to the token of realm strict.)"""
    service = api.service
    token_path = TOKEN_PATH.format("strict")

    got = _node(
        node_clients,
        "dpop_openid_client.mjs",
        f"{service.serving.url}/realms/strict",
        "strict",
        service.secrets["strict"],
        api.url + "/api/things",
    )

    assert got["sent_token_type"] == "DPoP"
    assert jwt_claims(got["access_token"])["cnf"] == {"jkt": got["jkt"]}  # type: ignore[index]
    assert got["exchanges"] == [
        [token_path, 400],  # use_dpop_nonce
        [token_path, 200],
        [token_path, 200],  # the nonce of the last answer, sent at once (RFC 9449 §8)
        ["/api/things", 401],
    ]
    assert got["api"] == {"status": 401, "challenge": ["dpop", "invalid_token"]}


# --- the tokensmith client against oidc-provider -------------------------------------------------


@contextmanager
def oidc_provider(node_dir: Path, *mode: str) -> Iterator[str]:
    """node oidc-provider with DPoP on (tests/node/dpop_oidc_provider.mjs), its token URL."""
    port = free_port()
    process = subprocess.Popen(
        ["node", "dpop_oidc_provider.mjs", str(port), PROVIDER_SECRET, *mode],
        cwd=node_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # blocks until it listens, or it exits
        assert line.startswith("listening "), process.communicate(timeout=10)
        yield line.split()[1] + "/token"
    finally:
        process.terminate()
        process.communicate(timeout=10)


@pytest.fixture(scope="module")
def provider(node_clients: Path) -> Iterator[str]:
    with oidc_provider(node_clients) as token_url:
        yield token_url


@pytest.mark.parametrize("client", ["svc", "bound"])
def test_a_source_gets_bound_tokens_from_oidc_provider(provider: str, client: str) -> None:
    """oidc-provider accepts the tokensmith client's proofs and binds its JWT access tokens to
    the source's key, for a client that may and one that must use DPoP."""
    from tokensmith import TokenSource

    with TokenSource(
        provider, client_id=client, client_secret=PROVIDER_SECRET, dpop=True
    ) as source:
        token = source.token()

    claims = jwt_claims(token.access_token)
    assert token.token_type == "DPoP"
    assert claims["cnf"] == {"jkt": source.dpop_key.jkt}  # type: ignore[index]
    assert claims["client_id"] == client  # type: ignore[index]


def test_oidc_providers_bound_tokens_pass_tokensmiths_api_check(provider: str) -> None:
    """A Starlette API under BearerAuthMiddleware, trusting oidc-provider (discovery, JWKS, its
    resource as audience), accepts the DPoP token oidc-provider bound to the tokensmith client's
    key, with the client's proof, and refuses it sent as Bearer."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from tokensmith import TokenSource
    from tokensmith.resource import BearerAuthMiddleware, Verifier

    from .server_thread import ServerThread

    verifier = Verifier(issuer=provider.removesuffix("/token"), audience=PROVIDER_RESOURCE)

    async def things(request: Request) -> JSONResponse:
        return JSONResponse({"client_id": request.state.claims["client_id"]})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await verifier.aclose()  # its JWKS client belongs to the server's loop

    app = Starlette(lifespan=lifespan, routes=[Route("/things", things)])
    with (
        ServerThread(BearerAuthMiddleware(app, verifier)) as server,
        TokenSource(provider, client_id="svc", client_secret=PROVIDER_SECRET, dpop=True) as source,
    ):
        with httpx.Client(auth=source) as http:
            proved = http.get(server.url + "/things")
        as_bearer = httpx.get(
            server.url + "/things",
            headers={"Authorization": f"Bearer {source.token().access_token}"},
        )

    assert proved.status_code == 200, proved.text
    assert proved.json() == {"client_id": "svc"}
    assert as_bearer.status_code == 401
    assert as_bearer.json()["error"] == "invalid_token"


def test_oidc_provider_refuses_a_bound_client_without_a_proof(provider: str) -> None:
    """The client registered with dpop_bound_access_tokens gets nothing without a proof: the
    "bound" case above is a real DPoP token, not one oidc-provider would hand out anyway.
    RFC 9449 §5.2 says such a request MUST be refused but names no error code: oidc-provider
    answers invalid_grant where tokensmith (--require-dpop) answers invalid_dpop_proof."""
    answer = httpx.post(
        provider,
        data={"grant_type": "client_credentials"},
        auth=("bound", PROVIDER_SECRET),
    )

    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"  # described as "grant request is invalid"


def test_a_source_answers_oidc_providers_nonces(node_clients: Path) -> None:
    """An oidc-provider that requires a nonce in every proof answers use_dpop_nonce with a
    DPoP-Nonce header; the source retries with it, within one fetch, and its next fetch sends
    the nonce it kept at once (RFC 9449 §8)."""
    from tokensmith import TokenSource

    statuses: list[int] = []
    http = httpx.Client(event_hooks={"response": [lambda r: statuses.append(r.status_code)]})
    with (
        http,
        oidc_provider(node_clients, "nonce") as token_url,
        TokenSource(
            token_url,
            client_id="svc",
            client_secret=PROVIDER_SECRET,
            auth_method="client_secret_basic",
            dpop=True,
            http_client=http,
        ) as source,
    ):
        bare = httpx.post(
            token_url,
            data={"grant_type": "client_credentials"},
            auth=("svc", PROVIDER_SECRET),
            headers={"DPoP": ProofKey().proof("POST", token_url, now=time.time())},
        )
        token = source.token()
        first = list(statuses)
        source.invalidate(token)
        again = source.token()
        fetches = source.stats.fetches

    assert bare.status_code == 400
    assert bare.json()["error"] == "use_dpop_nonce"
    assert bare.headers["dpop-nonce"]
    assert token.token_type == again.token_type == "DPoP"
    assert jwt_claims(token.access_token)["cnf"] == {"jkt": source.dpop_key.jkt}  # type: ignore[index]
    assert first == [400, 200]  # use_dpop_nonce, then the proof with the nonce
    assert statuses == [400, 200, 200]  # the second fetch: one request
    assert fetches == 2


# --- jose verifying what tokensmith makes --------------------------------------------------------


def _jose(node_dir: Path, service: Service, token: str, key: ProofKey, proof: str) -> Any:
    issuer = f"{service.serving.url}/realms/acme"
    meta = httpx.get(issuer + "/.well-known/openid-configuration").json()
    given = {
        "jwks_uri": meta["jwks_uri"],
        "issuer": issuer,
        "audience": "acme",
        "access_token": token,
        "jwk": key.jwk,
        "proof": proof,
    }
    return _node(node_dir, "dpop_jose_verify.mjs", stdin=json.dumps(given))


def test_jose_verifies_a_bound_token_and_a_proof(
    service: Service,
    node_clients: Path,
) -> None:
    """jose verifies a token the tokensmith client got with dpop=True against the realm's JWKS,
    computes the thumbprint of the client's key as its cnf.jkt, and verifies a proof for an API
    call with the key embedded in it."""
    from tokensmith import TokenSource

    with TokenSource(
        service.url(), client_id="svc", client_secret=service.secrets["svc"], dpop=True
    ) as source:
        token = source.token().access_token
    key = source.dpop_key
    proof = key.proof("GET", "https://api.example/things?x=1", now=time.time(), access_token=token)

    seen = _jose(node_clients, service, token, key, proof)

    assert seen["token_header"]["typ"] == "at+jwt"
    assert seen["cnf"] == {"jkt": key.jkt}
    assert seen["jkt"] == key.jkt
    assert seen["proof_header"] == {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk}
    assert seen["proof_key_jkt"] == key.jkt
    assert seen["proof_claims"]["htm"] == "GET"
    assert seen["proof_claims"]["htu"] == "https://api.example/things"
    assert seen["proof_claims"]["ath"] == token_hash(token)


def test_jose_refuses_a_proof_signed_by_another_key(
    service: Service,
    node_clients: Path,
) -> None:
    """A proof whose signature comes from another key than the one it embeds fails jose's
    check too: the test above is not one jose passes whatever it is given."""
    key, other = ProofKey(), ProofKey()
    token = service.token(key.proof("POST", service.url(), now=time.time())).json()["access_token"]
    proof = key.proof("GET", "https://api.example/things", now=time.time(), access_token=token)
    forged = proof.rsplit(".", 1)[0] + "." + other.proof("GET", "x", now=0).rsplit(".", 1)[1]

    seen = _jose(node_clients, service, token, key, forged)

    assert seen == {
        "error": "JWSSignatureVerificationFailed",
        "code": "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
    }
