"""Fuzzing the running service over real HTTP: malformed requests to every endpoint never get a
5xx, never put a traceback, an ERROR record or a secret in the log, and hostile tokens that are
correctly signed are never accepted.

Every realm path form (``/realms/R/…``, ``/auth/realms/R/…``, token-path aliases), introspection,
revocation, the JWKS, both discovery documents, unknown paths and every method; nested and huge
JSON in every JWT-carrying parameter and in ``Authorization: Bearer`` to an API behind
:class:`tokensmith.resource.BearerAuthMiddleware`; wrong content types, repeated parameters, huge
bodies, multipart/form-data bodies well formed or bent (files, nested parts, missing or wrong
boundaries, oversized part headers, repeated names, bad encodings), odd headers, lying
Content-Length. Some requests carry real credentials (a generated
secret, or an assertion signed by a ``private_key_jwt`` client's key, with and without ``kid``) so
that hostile tokens reach the grants, not only client authentication.

Every bug the fuzz found stays as a fixed example that runs first, every time. Bounded for CI
(about 1,000 requests per database); ``TOKENSMITH_FUZZ_EXAMPLES=50000`` runs up to that many
requests per database, shared among the tests below by weight (the refused-token test runs out of
distinct cases first: 50000 gives about 44,000 requests), and ``pytest -s`` prints the count and
the statuses seen:

    TOKENSMITH_FUZZ_EXAMPLES=50000 .venv/bin/python -m pytest tests/test_fuzz.py -k sqlite -s
"""

from __future__ import annotations

import asyncio
import functools
import os
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tokensmith.oauth import (
    GRANT_TOKEN_EXCHANGE,
    TOKEN_TYPE_ID,
)
from tokensmith.resource import BearerAuthMiddleware, Verifier
from tokensmith.server import Admin, Settings, TokensmithApp, Trust

from .conftest import PG_ADMIN_DSN, ServerThread, _pg, _pg_available, make_settings, run_admin
from .fuzz_requests import (
    ASSERTION_TYPE,
    CERTS,
    FORM,
    INTROSPECT,
    REVOKE,
    RFC8414,
    TOKEN,
    any_requests,
    form_requests,
    framed_requests,
    refused_requests,
    token_values,
)
from .fuzz_tokens import (
    Identity,
    Jwt,
    SigningKey,
    issued_claims,
    strict_json,
)
from .fuzz_wire import (
    Alarms,
    Answer,
    Basic,
    Bearer,
    Context,
    Ref,
    Request,
    Value,
    exchange,
)

TRUSTED = "https://sso.fuzz.invalid"
API_ISSUER = "https://api-issuer.fuzz.invalid"
UNLIMITED = "1000000/second"

# Share of TOKENSMITH_FUZZ_EXAMPLES per test; the defaults keep the file well under a minute.
WEIGHTS = {"forms": 10, "paths": 4, "api": 4, "refused": 3, "framing": 4}
DEFAULT_EXAMPLES = {"forms": 400, "paths": 150, "api": 150, "refused": 100, "framing": 150}
_TOTAL = int(os.environ.get("TOKENSMITH_FUZZ_EXAMPLES", "0"))


def fuzz_settings(name: str) -> settings:
    """Hypothesis settings for one test: its share of the examples, no deadline (the service
    shares two cores), no example database in the working tree."""
    examples = DEFAULT_EXAMPLES[name]
    if _TOTAL:
        examples = max(1, _TOTAL * WEIGHTS[name] // sum(WEIGHTS.values()))
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


# --- the service under test ----------------------------------------------------------------------


@dataclass
class Target:
    """The running service and protected API, how to reach them, and what their log said."""

    port: int
    api_port: int
    context: Context
    alarms: Alarms
    backend: str
    sent: int = 0
    statuses: dict[int | None, int] = field(default_factory=dict)

    def send(self, request: Request, *, api: bool = False) -> Answer:
        """Send ``request`` to the service (or the protected API) on a new connection."""
        port = self.api_port if api else self.port
        data = self.context.render(request, port)
        answer = exchange(port, data, half_close=request.framing == "longer")
        self.sent += 1
        self.statuses[answer.status] = self.statuses.get(answer.status, 0) + 1
        return answer

    def check(self, request: Request, answer: Answer) -> None:
        """No 5xx, an answer unless the request's framing lied, nothing in the log, and every
        JSON body (and every access token issued) strict JSON."""
        logged = self.alarms.take()
        assert not logged, f"the log shows {len(logged)} record(s):\n" + "\n".join(logged)[:6000]
        if answer.status is None:
            assert answer.cut or request.framing in ("longer", "shorter", "twice"), (
                f"the connection closed without an answer: {answer.raw[:300]!r}"
            )
        else:
            assert answer.status < 500, answer.raw[:2000].decode("utf-8", "replace")
        head, _, body = answer.raw.partition(b"\r\n\r\n")
        if body and b"content-type: application/json" in head.lower():
            try:
                issued_claims(strict_json(body))
            except ValueError as exc:
                pytest.fail(f"the service answered JSON that is not RFC 8259 JSON: {exc}")


def _database(backend: str, tmp: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'tokensmith.db'}"
        return
    if not _pg_available():
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    name = "tokensmith_fuzz_" + secrets.token_hex(6)
    asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _provision(admin: Admin, keys: dict[str, SigningKey]) -> dict[str, str]:
    """Realm fuzz (two token-path aliases, failed-authentication limits out of reach so that
    the fuzz keeps reaching the grants) with a secret client allowed every grant and refresh
    tokens, a private_key_jwt client with a ``kid`` and one without, and a trusted issuer;
    realm pascal (Trulioo's dialect, default limits) with a secret client."""
    await admin.create_realm(
        "fuzz",
        token_paths=["/connect/token", "/authenticate/v1/connect/token"],
        client_auth_limit=UNLIMITED,
        address_auth_limit=UNLIMITED,
    )
    await admin.create_realm("pascal", response_style="pascal", token_paths=["/pascal/token"])
    grants = ["id_auth", "token-exchange", "jwt-bearer"]
    worker = await admin.create_client(
        "fuzz", "worker", scopes="read write", refresh_tokens=True, grant_types=grants
    )
    for client_id, key in (("keyed", keys["client"]), ("keyless", keys["keyless"])):
        await admin.create_client(
            "fuzz", client_id, scopes="read", grant_types=grants, jwks={"keys": [key.jwk()]}
        )
    await Trust(admin).add(
        "fuzz",
        TRUSTED,
        jwks={"keys": [keys["issuer"].jwk()]},
        audiences=["fuzz-api"],
        algorithms=["ES256"],
        max_age=600,
        claims=["email"],
    )
    pascal = await admin.create_client("pascal", "trulioo", scopes="read")
    assert worker.secret is not None
    assert pascal.secret is not None
    return {"secret": worker.secret, "pascal-secret": pascal.secret}


def _protected_api(service_url: str, api_key: SigningKey) -> Any:
    """An ASGI app with two APIs behind BearerAuthMiddleware: ``/realm-api/`` trusts realm fuzz
    (keys fetched through discovery), ``/static-api/`` trusts a fixed JWKS of the test's key."""
    by_realm = Verifier(issuer=f"{service_url}/realms/fuzz", audience="fuzz")
    static = Verifier(issuer=API_ISSUER, audience="api", jwks={"keys": [api_key.jwk()]})

    async def ok(scope: Any, receive: Any, send: Any) -> None:
        body = b'{"ok":true}'
        headers = [(b"content-type", b"application/json"), (b"content-length", b"11")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    realm_api = BearerAuthMiddleware(ok, by_realm, realm="realm-api")
    static_api = BearerAuthMiddleware(ok, static, realm="static-api")

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await by_realm.aclose()
                    await static.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        elif scope["path"].startswith("/static-api"):
            await static_api(scope, receive, send)
        else:
            await realm_api(scope, receive, send)

    return app


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    """The token service on each database (with Redis for the rate limits beside PostgreSQL),
    with realms, clients and a trusted issuer, a protected API in front of it, and a handler on
    the log."""
    backend: str = request.param
    for url in _database(backend, tmp_path_factory.mktemp("fuzz")):
        # Loopback is a trusted proxy, so that X-Forwarded-For values are parsed, not ignored;
        # on PostgreSQL the failure counters live in Redis, as in a fleet.
        settings = make_settings(
            url,
            trusted_proxies=("127.0.0.1/32",),
            rate_limit_storage=_redis_url() if backend == "postgres" else "memory://",
        )
        yield from _target(backend, settings)


def _redis_url() -> str:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return "redis://127.0.0.1:6379/0"
    except OSError:
        if os.environ.get("CI") == "true":
            pytest.fail("Redis is not reachable on 127.0.0.1:6379")
        return "memory://"


def _target(backend: str, settings: Settings) -> Iterator[Target]:
    keys = {
        "client": SigningKey("fuzz-client-key"),
        "keyless": SigningKey(None),
        "stranger": SigningKey("fuzz-client-key"),  # the client's kid, another key
        "issuer": SigningKey("fuzz-issuer-key"),
        "api": SigningKey("fuzz-api-key"),
    }
    refs = run_admin(settings, lambda admin: _provision(admin, keys))
    service = ServerThread(TokensmithApp(settings))
    base = service.url
    api = ServerThread(_protected_api(base, keys["api"]))
    realm_url = f"{base}/realms/fuzz"
    identities = {
        "client": Identity(keys["client"], "keyed", "keyed", realm_url, "JWT"),
        "keyless": Identity(keys["keyless"], "keyless", "keyless", realm_url, "JWT"),
        "stranger": Identity(keys["stranger"], "keyed", "keyed", realm_url, "JWT"),
        "issuer": Identity(keys["issuer"], TRUSTED, "alice", "fuzz-api", "JWT"),
        "api": Identity(keys["api"], API_ISSUER, "caller", "api", "at+jwt"),
    }
    # Installed after uvicorn configured its loggers (it replaces their handlers).
    watching = Alarms.installed((refs["secret"], refs["pascal-secret"]), ("uvicorn",))
    with watching as alarms, service, api, httpx.Client(timeout=10) as http:
        fresh = functools.partial(_fresh, http, f"{realm_url}{TOKEN}", refs["secret"], alarms)
        refs = {**refs, "access": fresh("access_token"), "refresh": fresh("refresh_token")}
        dynamic = {
            "fresh-access": functools.partial(fresh, "access_token"),
            "fresh-refresh": functools.partial(fresh, "refresh_token"),
        }
        context = Context(identities, {**refs, **dynamic})
        target = Target(_port(base), _port(api.url), context, alarms, backend)
        yield target
        # The count the exhaustive run reports (visible with pytest -s).
        statuses = dict(sorted(target.statuses.items(), key=str))
        print(f"\nfuzz[{backend}]: {target.sent} requests, statuses {statuses}")


def _fresh(http: httpx.Client, url: str, secret: str, alarms: Alarms, kind: str) -> str:
    """A token of the worker issued just now, so that hostile parameters beside it reach a
    refresh or an exchange that would otherwise succeed."""
    form = {"grant_type": "client_credentials", "client_id": "worker", "client_secret": secret}
    token: str = http.post(url, data=form).json()[kind]
    alarms.secrets = (*alarms.secrets, token)
    return token


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


# --- the tests -----------------------------------------------------------------------------------


def test_clean_requests_reach_the_grants(target: Target) -> None:
    """The fuzz tests reach past client authentication: clean requests built the same way get
    tokens (secret client, private_key_jwt with and without kid, id_auth, the protected API)."""
    token_path = "/realms/fuzz" + TOKEN
    worker = (("client_id", "worker"), ("client_secret", Ref("secret")))
    grant = (("grant_type", "client_credentials"),)
    keyed = (("client_assertion_type", ASSERTION_TYPE), ("client_assertion", Jwt("client")))
    keyless = (("client_assertion_type", ASSERTION_TYPE), ("client_assertion", Jwt("keyless")))
    id_auth = (("grant_type", "id_auth"), ("id_token", Jwt("issuer")))
    form = (("Content-Type", FORM),)
    requests = [
        (Request("POST", token_path, form, (*worker, *grant)), False),
        (Request("POST", "/connect/token", form, (*keyed, *grant)), False),
        (Request("POST", "/auth/realms/fuzz" + TOKEN, form, (*keyless, *grant)), False),
        (Request("POST", token_path, form, (*worker, *id_auth)), False),
        (Request("GET", "/realm-api/x", (("Authorization", Bearer(Ref("access"))),)), True),
        (Request("GET", "/static-api/x", (("Authorization", Bearer(Jwt("api"))),)), True),
    ]

    answers = [target.send(request, api=api) for request, api in requests]

    assert [a.status for a in answers] == [200] * len(requests), [a.raw[:300] for a in answers]
    assert target.alarms.take() == []


def _issue_example(path: str, name: str, payload: str, *, signed: bool = False) -> Request:
    """The reproducers of issue 8 item 1: nested JSON in a JWT-carrying parameter, with no
    credentials (client_assertion) or with the worker's secret (every other parameter)."""
    jwt = Jwt("client", claims=payload, signature="valid" if signed else "junk")
    if name == "client_assertion":
        fields: tuple[tuple[str, Value], ...] = (
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", jwt),
        )
    else:
        grant = {"id_token": "id_auth", "subject_token": GRANT_TOKEN_EXCHANGE}.get(name)
        fields = (("client_id", "worker"), ("client_secret", Ref("secret")), (name, jwt))
        if grant is not None:
            fields += (("grant_type", grant),)
        if name == "subject_token":
            fields += (("subject_token_type", TOKEN_TYPE_ID),)
    return Request("POST", path, (("Content-Type", FORM),), fields)


NESTED = "[" * 2000
KNOWN = [
    _issue_example("/realms/fuzz" + TOKEN, "client_assertion", NESTED),
    _issue_example("/auth/realms/fuzz" + INTROSPECT, "client_assertion", NESTED),
    _issue_example("/realms/fuzz" + REVOKE, "client_assertion", NESTED),
    _issue_example("/connect/token", "client_assertion", '{"a":' * 2000),
    _issue_example("/realms/fuzz" + TOKEN, "id_token", NESTED),
    _issue_example("/realms/fuzz" + TOKEN, "subject_token", NESTED),
    _issue_example("/realms/fuzz" + INTROSPECT, "token", NESTED),
    _issue_example("/realms/fuzz" + REVOKE, "token", NESTED),
    # Found by this test: a non-ASCII byte in HTTP Basic credentials.
    Request(
        "POST",
        "/realms/fuzz" + TOKEN,
        (("Authorization", Basic(raw="\x80")), ("Content-Type", FORM)),
        (("grant_type", "client_credentials"),),
    ),
    # Found by this test: a NUL or a lone surrogate in a value that reaches the database
    # (PostgreSQL refuses NUL in text, SQLite cannot encode a surrogate).
    Request(
        "POST",
        "/realms/fuzz" + TOKEN,
        (("Content-Type", FORM),),
        (("grant_type", "client_credentials"), ("client_id", "a\x00b"), ("client_secret", "x")),
    ),
    Request(
        "POST",
        "/realms/fuzz" + TOKEN,
        (("Content-Type", FORM),),
        (
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", Jwt("client", claims=(("iss", '"\\ud800"'),), signature="junk")),
        ),
    ),
    Request(
        "POST",
        "/realms/fuzz" + TOKEN,
        (("Content-Type", FORM),),
        (
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", Jwt("client", claims=(("jti", '"\\ud800"'),))),
        ),
    ),
    Request(
        "POST",
        "/realms/fuzz" + TOKEN,
        (("Content-Type", FORM),),
        (
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", Jwt("client", claims=(("jti", '"a\\u0000b"'),))),
        ),
    ),
    # Found by this test: an aud that is a JSON object (or a list holding one) in a signed
    # client assertion, id_token or jwt-bearer assertion.
    Request(
        "POST",
        "/realms/fuzz" + TOKEN,
        (("Content-Type", FORM),),
        (
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", Jwt("client", claims=(("aud", "{}"),))),
        ),
    ),
    Request(
        "POST",
        "/realms/fuzz" + TOKEN,
        (("Content-Type", FORM),),
        (
            ("client_id", "worker"),
            ("client_secret", Ref("secret")),
            ("grant_type", "id_auth"),
            ("id_token", Jwt("issuer", claims=(("aud", "[{}]"),))),
        ),
    ),
    # Found by this test: a claim copied from a trusted issuer's id_token that reads as an
    # infinite float (1e400) made an access token holding Infinity, which is not JSON.
    Request(
        "POST",
        "/realms/fuzz" + TOKEN,
        (("Content-Type", FORM),),
        (
            ("client_id", "worker"),
            ("client_secret", Ref("secret")),
            ("grant_type", "id_auth"),
            ("id_token", Jwt("issuer", claims=(("email", "1e400"),))),
        ),
    ),
    # Item 4: an assertion without kid from a client whose key has none.
    Request(
        "POST",
        "/realms/fuzz" + TOKEN,
        (("Content-Type", FORM),),
        (
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", Jwt("keyless")),
        ),
    ),
]


def known(argument: str, cases: list[Any]) -> Any:
    """Run ``cases`` (each bound to ``argument``) before the generated examples, every time."""

    def apply(test: Any) -> Any:
        for case in reversed(cases):
            test = example(**{argument: case})(test)
        return test

    return apply


@fuzz_settings("forms")
@known("request", KNOWN)
@given(request=form_requests())
def test_token_introspection_revocation_survive_hostile_forms(
    target: Target, request: Request
) -> None:
    """Hostile forms to the token, introspection, revocation and alias endpoints get a 4xx."""
    answer = target.send(request)

    target.check(request, answer)


@fuzz_settings("paths")
@known("request", [Request("GET", "/realms/%00" + CERTS), Request("GET", f"{RFC8414}/realms/%00")])
@given(request=any_requests())
def test_every_path_and_method_survive(target: Target, request: Request) -> None:
    """Any method to any path (JWKS, discovery, health, unknown) never gets a 5xx."""
    answer = target.send(request)

    target.check(request, answer)


@fuzz_settings("api")
@given(
    token=token_values(),
    api=st.sampled_from(["/realm-api/x", "/static-api/x"]),
    scheme=st.sampled_from(["Bearer", "Bearer", "Bearer", "bearer", "BEARER", "Basic", "Bearer  "]),
    method=st.sampled_from(["GET", "POST", "DELETE"]),
)
def test_protected_api_survives_hostile_bearer_tokens(
    target: Target, token: Value, api: str, scheme: str, method: str
) -> None:
    """Hostile bearer tokens to an API behind BearerAuthMiddleware get 401, never a 5xx."""
    header: Any = Bearer(token) if scheme == "Bearer" else f"{scheme} {target.context.value(token)}"
    request = Request(method, api, (("Authorization", header),))

    answer = target.send(request, api=True)

    target.check(request, answer)
    if isinstance(token, Jwt) and token.must_be_refused():
        assert answer.status != 200, answer.raw[:500]


def _assertion_with(claims: tuple[tuple[str, str], ...]) -> tuple[Request, bool]:
    fields: tuple[tuple[str, Value], ...] = (
        ("grant_type", "client_credentials"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", Jwt("client", claims=claims)),
    )
    return Request("POST", "/realms/fuzz" + TOKEN, (("Content-Type", FORM),), fields), False


# Issue 8 items 2 and 3: exp NaN, 400 digits and Infinity; crit at the protected API.
KNOWN_REFUSED = [
    _assertion_with((("exp", "NaN"),)),
    _assertion_with((("exp", "1" + "0" * 400),)),
    (
        Request(
            "POST",
            "/realms/fuzz" + TOKEN,
            (("Content-Type", FORM),),
            (
                ("client_id", "worker"),
                ("client_secret", Ref("secret")),
                ("grant_type", "id_auth"),
                ("id_token", Jwt("issuer", claims=(("exp", "Infinity"),))),
            ),
        ),
        False,
    ),
    (
        Request(
            "GET",
            "/static-api/x",
            (("Authorization", Bearer(Jwt("api", header=(("crit", '["urn:fuzz:unknown"]'),)))),),
        ),
        True,
    ),
]


@fuzz_settings("refused")
@known("case", KNOWN_REFUSED)
@given(case=refused_requests())
def test_signed_tokens_with_hostile_times_or_crit_are_refused(
    target: Target, case: tuple[Request, bool]
) -> None:
    """A correctly signed token whose exp, nbf or iat is NaN, infinite or 400 digits long, whose
    exp never comes, or whose header has crit, is refused with a 4xx wherever it is presented."""
    request, api = case

    answer = target.send(request, api=api)

    target.check(request, answer)
    assert answer.status != 200, answer.raw[:500]


@fuzz_settings("framing")
@given(request=framed_requests())
def test_broken_framing_and_odd_headers_survive(target: Target, request: Request) -> None:
    """Lying Content-Length, odd Host and repeated or huge headers never get a 5xx."""
    answer = target.send(request)

    target.check(request, answer)
