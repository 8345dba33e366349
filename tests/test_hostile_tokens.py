"""Hostile JWTs get a clear 4xx, never a 500: nested and huge JSON in every JWT-carrying parameter,
numeric dates that are not finite numbers, unknown ``crit`` extensions; client keys without
``kid`` work; and an assertion's refusal does not tell which client ids exist."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import httpx
import pytest
from joserfc.jws import JWSRegistry

from tokensmith.oauth import (
    GRANT_JWT_BEARER,
    GRANT_TOKEN_EXCHANGE,
    TOKEN_TYPE_ACCESS,
    TOKEN_TYPE_ID,
    InvalidToken,
    MalformedJWT,
    b64url,
    generate_key,
    jwt_claims,
    key_id,
    public_jwk,
    read_jwt,
)
from tokensmith.resource import BearerAuthMiddleware, Verifier

from .conftest import ServerThread, Service

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEEP_ARRAY = "[" * 2000
DEEP_OBJECT = '{"a":' * 2000


def raw_jws(key: Any, header: dict[str, Any], payload: str) -> str:
    """A compact JWS over ``payload`` exactly as given (so it may hold NaN or 400 digits)."""
    signing_input = b64url(json.dumps(header).encode()) + b"." + b64url(payload.encode())
    signature = JWSRegistry.algorithms[header["alg"]].sign(signing_input, key)
    return (signing_input + b"." + b64url(signature)).decode()


def unsigned(payload: str, header: str = '{"alg":"ES256"}') -> str:
    """A JWT-shaped string with any header and payload text and a junk signature."""
    return f"{b64url(header.encode()).decode()}.{b64url(payload.encode()).decode()}.c2ln"


HOSTILE = {
    "nested array payload": unsigned(DEEP_ARRAY),
    "nested object payload": unsigned(DEEP_OBJECT),
    "nested header": unsigned('{"iss":"svc"}', header=DEEP_ARRAY),
    "huge payload": unsigned(json.dumps({"iss": "svc", "x": "a" * 40_000})),
    "NaN payload": unsigned('{"iss":"svc","exp":NaN}'),
    "lone surrogate": unsigned('{"iss":"svc","jti":"\\ud800"}'),
}


@pytest.fixture
def realm(sqlite_service: Service) -> tuple[Service, str]:
    """Realm r1 (alias /connect/token) with client svc allowed every grant; its secret."""
    service = sqlite_service
    service.admin(lambda a: a.create_realm("r1", token_paths=["/connect/token"]))
    new = service.admin(
        lambda a: a.create_client(
            "r1",
            "svc",
            scopes="read",
            refresh_tokens=True,
            grant_types=["id_auth", "token-exchange", "jwt-bearer"],
        )
    )
    assert new.secret is not None
    return service, new.secret


def requests_carrying(token: str, secret: str) -> list[tuple[str, dict[str, str]]]:
    """(endpoint, form) pairs that put ``token`` in every JWT-carrying parameter."""
    creds = {"client_id": "svc", "client_secret": secret}
    assertion = {"client_assertion_type": ASSERTION_TYPE, "client_assertion": token}
    realm = "/realms/r1/protocol/openid-connect"
    pairs: list[tuple[str, dict[str, str]]] = []
    for path in (f"{realm}/token", f"/auth{realm}/token", "/connect/token"):
        pairs.append((path, {"grant_type": "client_credentials", **assertion}))
    for path in (f"{realm}/token/introspect", f"{realm}/revoke"):
        pairs.append((path, {"token": "x", **assertion}))
        pairs.append((path, {"token": token, **creds}))
    grants = [
        {"grant_type": "id_auth", "id_token": token},
        {"grant_type": GRANT_JWT_BEARER, "assertion": token},
        {"grant_type": "refresh_token", "refresh_token": token},
        {
            "grant_type": GRANT_TOKEN_EXCHANGE,
            "subject_token": token,
            "subject_token_type": TOKEN_TYPE_ACCESS,
        },
        {
            "grant_type": GRANT_TOKEN_EXCHANGE,
            "subject_token": token,
            "subject_token_type": TOKEN_TYPE_ID,
        },
    ]
    pairs += [(f"{realm}/token", {**grant, **creds}) for grant in grants]
    return pairs


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_jwt_in_every_parameter_is_a_client_error(
    realm: tuple[Service, str], kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Nested, huge or NaN-bearing JWT JSON in any parameter of any endpoint is a 4xx with an
    OAuth error, and nothing is logged as an error."""
    service, secret = realm
    caplog.set_level(logging.WARNING)

    answers = [
        service.http.post(service.url + path, data=form)
        for path, form in requests_carrying(HOSTILE[kind], secret)
    ]

    for (path, form), response in zip(
        requests_carrying(HOSTILE[kind], secret), answers, strict=True
    ):
        if "client_secret" in form and path.endswith(("/introspect", "/revoke")):
            assert response.status_code == 200, response.text  # RFC 7662/7009: not ours, no error
            assert response.content in (b"", b'{"active":false}')
        else:
            assert 400 <= response.status_code < 500, response.text
            assert response.json()["error"] in (
                "invalid_request",
                "invalid_client",
                "invalid_grant",
            )
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_hostile_bearer_token_at_a_protected_api_is_401(sqlite_service: Service) -> None:
    """A protected API answers 401 invalid_token to every hostile token, never 500."""
    service = sqlite_service
    service.admin(lambda a: a.create_realm("r1"))
    verifier = Verifier(jwks=service.jwks("r1"), audience="r1")

    async def hello(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            return await send({"type": "lifespan.shutdown.complete"})
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"hello"})

    with ServerThread(BearerAuthMiddleware(hello, verifier, realm="api")) as api:
        answers = [
            httpx.get(api.url + "/x", headers={"Authorization": f"Bearer {token}"})
            for token in HOSTILE.values()
        ]

    for response in answers:
        assert response.status_code == 401, response.text
        assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_read_jwt_bounds_depth_and_size() -> None:
    """The one decoder of untrusted JWT JSON refuses depth, size and non-finite constants, and
    accepts ordinary nesting."""
    ordinary = unsigned(json.dumps({"iss": "x", "act": {"sub": "a", "act": {"sub": "b"}}}))

    assert read_jwt(ordinary).claims["act"]["act"]["sub"] == "b"
    for token in HOSTILE.values():
        with pytest.raises(MalformedJWT):
            read_jwt(token)
    assert jwt_claims(HOSTILE["nested array payload"]) is None


@pytest.fixture
def keyed(realm: tuple[Service, str]) -> tuple[Service, Any]:
    """Client 'signer' of r1 whose JWKS holds an EC and an RSA key, neither with a kid."""
    service, _ = realm
    ec, rsa = generate_key("ES256"), generate_key("RS256")
    keys = []
    for key, alg in ((ec, "ES256"), (rsa, "RS256")):
        jwk = public_jwk(key, kid="unused", alg=alg)
        del jwk["kid"]
        keys.append(jwk)
    service.admin(lambda a: a.create_client("r1", "signer", scopes="read", jwks={"keys": keys}))
    return service, {"ES256": ec, "RS256": rsa}


def claims_text(audience: str, **overrides: str) -> str:
    """The JSON text of assertion claims, with raw values (NaN, 400 digits) spliced in."""
    now = int(time.time())
    fields = {
        "iss": '"signer"',
        "sub": '"signer"',
        "aud": json.dumps(audience),
        "iat": str(now),
        "exp": str(now + 60),
        "jti": json.dumps(f"j-{time.monotonic_ns()}"),
    }
    fields.update(overrides)
    return "{" + ",".join(f'"{k}":{v}' for k, v in fields.items()) + "}"


def client_assertion(service: Service, assertion: str) -> httpx.Response:
    return service.http.post(
        service.token_url("r1"),
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        },
    )


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_client_keys_without_kid_verify_assertions_without_kid(
    keyed: tuple[Service, Any], alg: str
) -> None:
    """A JWKS whose keys carry no kid works: an assertion without kid is checked against the
    client's keys whose type and alg fit (RFC 7517 makes kid optional)."""
    service, keys = keyed
    assertion = raw_jws(keys[alg], {"alg": alg}, claims_text(service.token_url("r1")))

    response = client_assertion(service, assertion)

    assert response.status_code == 200, response.text
    assert jwt_claims(response.json()["access_token"])["client_id"] == "signer"  # type: ignore[index]


def test_authlib_private_key_jwt_without_kid(keyed: tuple[Service, Any]) -> None:
    """Authlib's PrivateKeyJWT, which sends no kid, authenticates against a kid-less JWKS."""
    from authlib.integrations.requests_client import OAuth2Session
    from authlib.oauth2.rfc7523 import PrivateKeyJWT
    from joserfc.jwk import ECKey

    service, keys = keyed
    key = ECKey.import_key(keys["ES256"].as_pem(private=True))  # as a user loads it: no kid
    url = service.token_url("r1")
    auth = PrivateKeyJWT(url, alg="ES256", claims={"exp": int(time.time()) + 300})
    with OAuth2Session("signer", key, token_endpoint_auth_method=auth) as session:
        token = session.fetch_token(url, grant_type="client_credentials")

    assert jwt_claims(token["access_token"])["client_id"] == "signer"  # type: ignore[index]


@pytest.mark.parametrize(
    "exp", ["NaN", "Infinity", "-Infinity", "1e308", "1" + "0" * 400, "-5", '"soon"', "true"]
)
def test_assertion_exp_must_be_a_finite_date(keyed: tuple[Service, Any], exp: str) -> None:
    """A correctly signed assertion whose exp is NaN, infinite, huge or not a number is
    invalid_client, never a 500 and never "does not expire"."""
    service, keys = keyed
    assertion = raw_jws(
        keys["ES256"], {"alg": "ES256"}, claims_text(service.token_url("r1"), exp=exp)
    )

    response = client_assertion(service, assertion)

    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"


def test_assertion_with_a_lone_surrogate_is_refused(keyed: tuple[Service, Any]) -> None:
    """A correctly signed assertion whose jti holds a lone UTF-16 surrogate (legal JSON escape,
    unstorable text) is invalid_client, never a 500 from the replay store."""
    service, keys = keyed
    payload = claims_text(service.token_url("r1"), jti='"\\ud800"')
    assertion = raw_jws(keys["ES256"], {"alg": "ES256"}, payload)

    response = client_assertion(service, assertion)

    assert response.status_code == 401, response.text
    assert "surrogate" in response.json()["error_description"]


def test_assertion_with_crit_is_refused(keyed: tuple[Service, Any]) -> None:
    """An assertion naming a critical header extension is refused (RFC 7515 §4.1.11)."""
    service, keys = keyed
    header = {"alg": "ES256", "crit": ["exp-ext"], "exp-ext": 1}
    assertion = raw_jws(keys["ES256"], header, claims_text(service.token_url("r1")))

    response = client_assertion(service, assertion)

    assert response.status_code == 401
    assert "crit" in response.json()["error_description"]


@pytest.mark.parametrize(
    ("header", "exp", "words"),
    [
        ({"alg": "ES256", "typ": "at+jwt", "kid": "k"}, "1e308", "NumericDate"),
        ({"alg": "ES256", "typ": "at+jwt", "kid": "k"}, "Infinity", "not JSON"),
        ({"alg": "ES256", "typ": "at+jwt", "kid": "k", "crit": ["b64"], "b64": True}, None, "crit"),
    ],
)
def test_verifier_refuses_endless_and_critical_tokens(
    header: dict[str, Any], exp: str | None, words: str
) -> None:
    """The resource-side Verifier refuses exp 1e308 or Infinity and unknown crit extensions."""
    key = generate_key("ES256")
    verifier = Verifier(jwks={"keys": [public_jwk(key, kid="k", alg="ES256")]})
    now = int(time.time())
    payload = f'{{"iss":"i","aud":"a","iat":{now},"exp":{exp or now + 60}}}'
    token = raw_jws(key, header, payload)

    with pytest.raises(InvalidToken, match=words):
        verifier.verify(token)


def test_assertion_refusal_does_not_tell_which_clients_exist(
    keyed: tuple[Service, Any],
) -> None:
    """An assertion for an unknown client, for a client that has a secret and no keys, and one
    signed by a key the client did not register get the same answer."""
    service, _ = keyed
    stranger = generate_key("ES256")
    audience = service.token_url("r1")

    answers = [
        client_assertion(
            service,
            raw_jws(
                stranger,
                {"alg": "ES256", "kid": key_id(stranger)},
                claims_text(audience, iss=json.dumps(who), sub=json.dumps(who)),
            ),
        ).json()
        for who in ("ghost", "svc", "signer")
    ]

    assert answers[0]["error"] == "invalid_client"
    assert answers[0] == answers[1] == answers[2]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("jti", '"a\\u0000b"'),
        ("jti", json.dumps("j" * 201)),
        ("aud", '{"a":1}'),
        ("aud", '[{"a":1},["x"]]'),
        ("sub", "1e400"),
    ],
)
def test_signed_assertion_with_odd_claim_types_is_invalid_client(
    service: Service, field: str, value: str
) -> None:
    """A correctly signed assertion whose jti holds NUL or is too long to store, whose aud is an
    object or holds non-strings, or with a number beyond float range, is invalid_client on every
    database (they were a 500, and a 503 on PostgreSQL)."""
    key = generate_key("ES256")
    service.admin(lambda a: a.create_realm("r1"))
    jwks = {"keys": [public_jwk(key, kid=key_id(key), alg="ES256")]}
    service.admin(lambda a: a.create_client("r1", "signer", jwks=jwks))
    payload = claims_text(service.token_url("r1"), **{field: value})

    response = client_assertion(service, raw_jws(key, {"alg": "ES256"}, payload))

    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
