"""A real protected API over loopback, checking tokens from the real token service."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from tokensmith.resource import BearerAuthMiddleware, Introspection, RequireToken, Verifier

from ..conftest import FrozenClock, ServerThread, Service, eventually


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class API:
    """The protected app, its verifiers, the clock they read (not the service's: a test moves
    each on its own), and the token service it trusts."""

    def __init__(self, service: Service, secrets: dict[str, str]) -> None:
        self.service = service
        self.secrets = secrets
        self.clock = FrozenClock()
        issuer = f"{service.url}/realms/acme"
        self.verifier = Verifier(
            issuer=issuer, audience="acme", refetch_interval=0.2, clock=self.clock
        )
        self.other = Verifier(issuer=issuer, audience="other-api", clock=self.clock)
        self.revocable = Verifier(
            issuer=issuer,
            audience="acme",
            clock=self.clock,
            introspection=Introspection(
                f"{issuer}/protocol/openid-connect/token/introspect",
                "api-server",
                secrets["api-server"],
                cache_ttl=0.2,
            ),
        )
        require_write = RequireToken(self.verifier, scopes=["write"], realm="connect-api")

        async def things(request: Request) -> JSONResponse:
            return JSONResponse({"sub": request.state.claims["sub"]})

        async def admin(request: Request) -> JSONResponse:
            claims = await require_write(request)
            return JSONResponse({"scope": claims["scope"]})

        def protected(verifier: Verifier) -> BearerAuthMiddleware:
            inner = Starlette(routes=[Route("/things", things), Route("/admin", admin)])
            return BearerAuthMiddleware(inner, verifier, realm="connect-api")

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            yield
            for verifier in (self.verifier, self.other, self.revocable):
                await verifier.aclose()

        self.app = Starlette(
            lifespan=lifespan,
            routes=[
                Mount("/connect-api", app=protected(self.verifier)),
                Mount("/other-api", app=protected(self.other)),
                Mount("/revocable-api", app=protected(self.revocable)),
            ],
        )
        self.server = ServerThread(self.app)

    def token(
        self,
        client: str = "caller",
        scope: str | None = None,
        prefix: str = "",
        host: str | None = None,
    ) -> str:
        data = {
            "grant_type": "client_credentials",
            "client_id": client,
            "client_secret": self.secrets[client],
        }
        if scope:
            data["scope"] = scope
        response = self.service.http.post(
            self.service.token_url("acme", prefix),
            data=data,
            headers={"host": host} if host else {},
        )
        token: str = response.json()["access_token"]
        return token

    def get(self, path: str, token: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.service.http.get(self.server.url + path, headers=headers)


@pytest.fixture
def api(sqlite_service: Service) -> Iterator[API]:
    """Realm acme (client caller: scopes read write, default read; client api-server) and the
    protected API trusting it."""
    service = sqlite_service
    service.admin(lambda a: a.create_realm("acme"))
    service.admin(lambda a: a.create_realm("beta"))
    secrets = {}
    for realm, client in (("acme", "caller"), ("acme", "api-server"), ("beta", "stranger")):
        new = service.admin(
            lambda a, r=realm, c=client: a.create_client(
                r, c, scopes="read write", default_scopes="read"
            )
        )
        secrets[client] = new.secret
    api = API(service, secrets)
    with api.server:
        yield api


def assert_invalid(response: httpx.Response, words: str) -> None:
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="connect-api"')
    assert 'error="invalid_token"' in challenge
    assert words in response.json()["error_description"]


def test_valid_token_reaches_the_endpoint_with_its_claims(api: API) -> None:
    """A valid token gets 200 and the endpoint sees its claims."""
    response = api.get("/connect-api/things", api.token())

    assert response.status_code == 200
    assert response.json() == {"sub": "caller"}


def test_no_token_is_401_without_error(api: API) -> None:
    """No token at all: 401 with a bare Bearer challenge (RFC 6750 §3.1)."""
    response = api.get("/connect-api/things", None)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="connect-api"'


def test_malformed_header_is_invalid_token(api: API) -> None:
    """An Authorization header that is not 'Bearer <token>' is invalid_token."""
    response = api.service.http.get(
        api.server.url + "/connect-api/things", headers={"Authorization": "Basic abc"}
    )

    assert_invalid(response, "Bearer <token>")


def test_expired_token(api: API) -> None:
    """A token whose exp has passed is refused."""
    api.service.clock.advance(-3600)  # the token service issues a token that expired long ago
    token = api.token()

    assert_invalid(api.get("/connect-api/things", token), "expired")


def test_wrong_audience(api: API) -> None:
    """A token for this API used at another API (another aud) is refused."""
    assert_invalid(api.get("/other-api/things", api.token()), "another audience")


def test_wrong_issuer(api: API) -> None:
    """The same keys under another issuer URL (the service reached as localhost, where the API
    trusts 127.0.0.1) are refused, naming the issuer expected; the /auth path form is the same
    issuer and accepted."""
    port = api.service.url.rsplit(":", 1)[1]

    other = api.get("/connect-api/things", api.token(host=f"localhost:{port}"))
    legacy = api.get("/connect-api/things", api.token(prefix="/auth"))

    assert_invalid(other, f"expected '{api.service.url}/realms/acme'")
    assert legacy.status_code == 200


def test_token_of_another_realm(api: API) -> None:
    """A token signed by another realm's keys is refused."""
    response = api.service.http.post(
        api.service.token_url("beta"),
        data={
            "grant_type": "client_credentials",
            "client_id": "stranger",
            "client_secret": api.secrets["stranger"],
        },
    )

    assert_invalid(api.get("/connect-api/things", response.json()["access_token"]), "key")


def test_tampered_token(api: API) -> None:
    """Changing the payload breaks the signature."""
    header, payload, signature = api.token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["scope"] = "read write"
    forged = f"{header}.{b64(json.dumps(claims).encode())}.{signature}"

    assert_invalid(api.get("/connect-api/things", forged), "signature")


def test_alg_none(api: API) -> None:
    """An unsigned token (alg none) is refused."""
    header, payload, _ = api.token().split(".")
    kid = json.loads(base64.urlsafe_b64decode(header + "=="))["kid"]
    unsigned = b64(json.dumps({"alg": "none", "typ": "at+jwt", "kid": kid}).encode())

    assert_invalid(api.get("/connect-api/things", f"{unsigned}.{payload}."), "algorithm")


def test_hs256_signed_with_the_public_key(api: API) -> None:
    """The HS/RS confusion attack (HMAC keyed with the public key) is refused."""
    real = api.token()
    kid = jwt.get_unverified_header(real)["kid"]
    jwk = next(k for k in api.service.jwks("acme")["keys"] if k["kid"] == kid)
    public_pem = jwt.PyJWK(jwk).key.public_bytes(  # type: ignore[union-attr]
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    header = b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": kid}).encode())
    payload = real.split(".")[1]
    mac = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()

    assert_invalid(api.get("/connect-api/things", f"{header}.{payload}.{b64(mac)}"), "algorithm")


def test_key_in_token_header_is_refused(api: API) -> None:
    """A token that brings its own key (jwk header) is refused."""
    header, payload, signature = api.token().split(".")
    fields = json.loads(base64.urlsafe_b64decode(header + "=="))
    fields["jwk"] = {"kty": "EC"}

    token = f"{b64(json.dumps(fields).encode())}.{payload}.{signature}"
    assert_invalid(api.get("/connect-api/things", token), "its own key")


def test_unknown_kid_after_rotation_is_accepted_after_one_refetch(api: API) -> None:
    """After two key rotations the new signing key was never in the cached JWKS; the verifier
    refetches once and accepts the token."""
    assert api.get("/connect-api/things", api.token()).status_code == 200
    assert api.verifier.jwks_fetches == 1
    api.service.admin(lambda a: a.rotate_keys("acme"))
    keys = api.service.admin(lambda a: a.rotate_keys("acme"))
    current = next(k.kid for k in keys if k.state == "current")
    eventually(lambda: jwt.get_unverified_header(api.token())["kid"] == current)
    token = api.token()
    api.clock.advance(0.25)  # past the verifier's refetch interval

    response = api.get("/connect-api/things", token)

    assert response.status_code == 200
    assert api.verifier.jwks_fetches == 2


def test_flood_of_unknown_kids_fetches_the_jwks_at_most_once(api: API) -> None:
    """Fifty tokens naming unknown keys cause at most one JWKS refetch per refetch interval."""
    assert api.get("/connect-api/things", api.token()).status_code == 200
    _, payload, signature = api.token().split(".")
    api.clock.advance(0.25)  # past the verifier's refetch interval
    before = api.verifier.jwks_fetches
    started = time.monotonic()

    for i in range(50):
        bogus = b64(json.dumps({"alg": "ES256", "typ": "at+jwt", "kid": f"k{i}"}).encode())
        assert api.get("/connect-api/things", f"{bogus}.{payload}.{signature}").status_code == 401

    intervals = (time.monotonic() - started) / api.verifier.refetch_interval
    assert api.verifier.jwks_fetches - before <= int(intervals) + 1
    assert api.verifier.jwks_fetches - before < 50


def test_revoked_token_in_introspection_mode(api: API) -> None:
    """With introspection, a token revoked at the service is refused once the short cache ends."""
    token = api.token()
    assert api.get("/revocable-api/things", token).status_code == 200

    revoke = api.service.http.post(
        f"{api.service.url}/realms/acme/protocol/openid-connect/revoke",
        data={"token": token, "client_id": "caller", "client_secret": api.secrets["caller"]},
    )
    api.clock.advance(0.3)  # past the introspection cache_ttl
    response = api.get("/revocable-api/things", token)

    assert revoke.status_code == 200
    assert_invalid(response, "not active")


def test_missing_scope_is_403_insufficient_scope(api: API) -> None:
    """A valid token without the required scope gets 403 naming the scope needed."""
    read_only = api.get("/connect-api/admin", api.token())
    writer = api.get("/connect-api/admin", api.token(scope="read write"))

    assert read_only.status_code == 403
    challenge = read_only.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="write"' in challenge
    assert writer.status_code == 200


def test_verified_tokens_are_cached_until_they_expire(api: API) -> None:
    """A repeated token is answered from the cache; with the clock past exp it is refused."""
    now = [time.time()]
    verifier = Verifier(
        issuer=f"{api.service.url}/realms/acme", audience="acme", clock=lambda: now[0]
    )
    token = api.token()
    verifier.verify(token)
    verifier.keys = None  # a cached token needs no key
    verifier._tried_at = now[0]

    again = verifier.verify(token)
    now[0] += 400
    with pytest.raises(Exception, match="expired"):
        verifier.verify(token)
    verifier.close()

    assert again["sub"] == "caller"


def test_fastapi_dependency(api: API) -> None:
    """RequireToken works as a FastAPI dependency."""
    from fastapi import Depends, FastAPI

    verifier = Verifier(issuer=f"{api.service.url}/realms/acme", audience="acme")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await verifier.aclose()

    app = FastAPI(lifespan=lifespan)
    reader = Depends(RequireToken(verifier, scopes=["read"]))

    @app.get("/me")
    async def me(claims: dict[str, Any] = reader) -> dict[str, Any]:
        return {"client": claims["client_id"]}

    with ServerThread(app) as server:
        bearer = {"Authorization": f"Bearer {api.token()}"}
        ok = api.service.http.get(server.url + "/me", headers=bearer)
        missing = api.service.http.get(server.url + "/me")

    assert ok.json() == {"client": "caller"}
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="api"'


def test_unreachable_keys_are_503_not_500() -> None:
    """When the issuer's JWKS cannot be fetched the API answers 503 temporarily_unavailable."""
    verifier = Verifier(jwks_url="http://127.0.0.1:9/certs", audience="acme")

    async def unreachable(request: Request) -> JSONResponse:
        raise AssertionError("must not be reached")

    inner = Starlette(routes=[Route("/x", unreachable)])
    with ServerThread(BearerAuthMiddleware(inner, verifier)) as server:
        response = httpx.get(server.url + "/x", headers={"Authorization": "Bearer a.b.c"})

    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
