"""Requests for the fuzz test (tests/test_fuzz.py) as hypothesis strategies: form posts to
the realm endpoints with real or broken client authentication, any method to any path, tokens
that must be refused where they decide the answer, and broken HTTP framing."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tokensmith.oauth import (
    GRANT_JWT_BEARER,
    GRANT_TOKEN_EXCHANGE,
    TOKEN_TYPE_ACCESS,
    TOKEN_TYPE_ID,
    TOKEN_TYPE_JWT,
)

from .fuzz_tokens import Jwt, hostile_value, jwts, refused_jwts
from .fuzz_wire import (
    BOUNDARY,
    MULTIPART_TWISTS,
    Basic,
    Bearer,
    Ref,
    Request,
    Value,
    path_text,
)

TOKEN = "/protocol/openid-connect/token"
INTROSPECT = "/protocol/openid-connect/token/introspect"
REVOKE = "/protocol/openid-connect/revoke"
CERTS = "/protocol/openid-connect/certs"
OIDC = "/.well-known/openid-configuration"
RFC8414 = "/.well-known/oauth-authorization-server"
AUTHORIZE = "/protocol/openid-connect/auth"
ALIASES = ("/connect/token", "/authenticate/v1/connect/token", "/pascal/token")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FORM = "application/x-www-form-urlencoded"


# --- what requests are made of -------------------------------------------------------------------

JWT_PARAMS = (
    "client_assertion",
    "subject_token",
    "actor_token",
    "id_token",
    "assertion",
    "token",
    "refresh_token",
)
SIGNERS = ("client", "keyless", "stranger", "issuer", "api")
GRANTS = (
    "client_credentials",
    "refresh_token",
    "id_auth",
    GRANT_TOKEN_EXCHANGE,
    GRANT_JWT_BEARER,
    "password",
    "authorization_code",
    "urn:fuzz:unknown",
)
TOKEN_TYPES = (TOKEN_TYPE_ACCESS, TOKEN_TYPE_ID, TOKEN_TYPE_JWT, "access_token", "urn:x")
CONTENT_TYPES = (
    "application/json",
    "multipart/form-data; boundary=x",
    "text/plain",
    FORM + "; charset=latin-1",
    FORM + "; charset=",
    "APPLICATION/X-WWW-FORM-URLENCODED",
    "application/x-www-form-urlencoded\x00",
    "",
    ";",
    "a" * 5000,
)
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
# What a multipart request may say it is: mostly right, else no, another, a quoted, an overlong,
# an RFC 2231 or a second boundary, or a near-miss media type.
MULTIPART_TYPES = (
    *[MULTIPART] * 6,
    f'multipart/form-data; boundary="{BOUNDARY}"; charset=UTF-8',
    "multipart/form-data",
    "multipart/form-data; boundary=",
    "multipart/form-data; boundary=other",
    "multipart/form-data; boundary=" + "b" * 71,
    f"multipart/form-data; boundary*=utf-8''{BOUNDARY}",
    f"multipart/form-data; boundary=other; boundary={BOUNDARY}",
    f"multipart/mixed; boundary={BOUNDARY}",
    f"multipart/form-data; boundary={BOUNDARY}" + ";x" * 600,
)
METHODS = ("GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO", "get")

junk = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "\x00", "\ud800", "%00", "a" * 70_000, "=&=&", "é" * 3000]),
    hostile_value(),
)


def token_values(signers: tuple[str, ...] = SIGNERS) -> st.SearchStrategy[Value]:
    """What a JWT-carrying parameter gets: a built JWT (mostly), a real token, or junk."""
    return st.one_of(
        jwts(signers),
        jwts(signers),
        jwts(signers),
        st.sampled_from([Ref("access"), Ref("refresh"), Ref("fresh-access"), Ref("fresh-refresh")]),
        junk,
    )


@st.composite
def client_auth(
    draw: st.DrawFn,
) -> tuple[list[tuple[str, Value]], list[tuple[str, Any]]]:
    """Form fields and headers of one way to authenticate the client (or to fail at it)."""
    kind = draw(
        st.sampled_from(
            [
                *("post", "post", "basic", "basic", "assertion", "assertion", "signed"),
                *("keyless", "wrong", "junk-basic", "bearer", "none", "pascal"),
            ]
        )
    )
    fields: list[tuple[str, Value]] = []
    headers: list[tuple[str, Any]] = []
    if kind == "post":
        fields += [("client_id", "worker"), ("client_secret", Ref("secret"))]
    elif kind == "basic":
        headers.append(("Authorization", Basic("worker", Ref("secret"))))
    elif kind == "pascal":
        fields += [("client_id", "trulioo"), ("client_secret", Ref("pascal-secret"))]
    elif kind == "wrong":
        fields += [("client_id", draw(st.sampled_from(["worker", "keyed"]) | junk))]
        fields += [("client_secret", draw(junk))]
    elif kind in ("assertion", "signed", "keyless"):
        if kind == "assertion":
            value: Value = draw(token_values(("client", "keyless", "stranger")))
        else:
            value = Jwt(signer="client" if kind == "signed" else "keyless")
        fields += [("client_assertion_type", ASSERTION_TYPE), ("client_assertion", value)]
    elif kind == "junk-basic":
        raw = draw(
            st.sampled_from(["", "!!!", "Og==", "w7/Dvw==", "dXNlcg==", "/w==", "a" * 9000])
            | st.sampled_from(["\x80", "\u00e9", "d29y\u00ff", "\u00ffw=="])
            | st.text(max_size=30).filter(lambda t: "\r" not in t and "\n" not in t)
        )
        headers.append(("Authorization", Basic(raw=raw)))
    elif kind == "bearer":
        headers.append(("Authorization", Bearer(draw(token_values()))))
    return fields, headers


@st.composite
def form_requests(draw: st.DrawFn) -> Request:
    """A POST to a token, introspection or revocation endpoint (any path form, any realm) with
    some client authentication, a grant, and JWT-carrying parameters, urlencoded (mostly), as
    JSON, broken, or as multipart/form-data well formed or bent one of a fixed set of ways."""
    realm = draw(st.sampled_from(["fuzz", "fuzz", "pascal", "nope"]))
    path = draw(
        st.builds(
            lambda prefix, tail: f"{prefix}/realms/{realm}{tail}",
            st.sampled_from(["", "/auth"]),
            st.sampled_from([TOKEN, TOKEN, INTROSPECT, REVOKE]),
        )
        | st.sampled_from(ALIASES)
    )
    fields, headers = draw(client_auth())
    grant = draw(st.sampled_from(GRANTS) | st.none() | junk)
    if grant is not None:
        fields.append(("grant_type", grant))
    for name in draw(st.lists(st.sampled_from(JWT_PARAMS), max_size=3, unique=True)):
        fields.append((name, draw(token_values())))
    for name in ("subject_token_type", "actor_token_type", "requested_token_type"):
        if draw(st.integers(0, 2)) == 0:
            fields.append((name, draw(st.sampled_from(TOKEN_TYPES) | junk)))
    if draw(st.booleans()):
        hint = st.sampled_from(["access_token", "refresh_token", "id_token"])
        fields.append(("token_type_hint", draw(hint | junk)))
    if draw(st.booleans()):
        scope = st.sampled_from(["read", "read write", "openid", "admin", "read read"])
        fields.append(("scope", draw(scope | junk)))
    fields += draw(st.lists(st.tuples(junk, junk), max_size=2))
    if fields and draw(st.integers(0, 5)) == 0:  # RFC 6749 §3.2: never twice
        fields.append(draw(st.sampled_from(fields)))
    style = draw(st.sampled_from(["form"] * 12 + ["json", "raw", "broken"] + ["multipart"] * 3))
    if style == "multipart":  # GBG's PHP sample: curl sends multipart/form-data
        style += ":" + draw(st.sampled_from(["none"] * 6 + list(MULTIPART_TWISTS)))
        headers.append(("Content-Type", draw(st.sampled_from(MULTIPART_TYPES))))
    elif draw(st.integers(0, 7)) == 0:
        headers.append(("Content-Type", draw(st.sampled_from(CONTENT_TYPES))))
    else:
        headers.append(("Content-Type", FORM))
    query = draw(st.sampled_from(["", "", "", "?client_secret=x", "?a", "?%ff"]))
    return Request(
        method=draw(st.sampled_from(["POST"] * 12 + ["GET", "PUT"])),
        target=path_text(path) + query,
        headers=tuple(headers),
        body=tuple(fields),
        style=style,
        framing=draw(st.sampled_from(["length"] * 12 + ["chunked"])),
    )


@st.composite
def any_requests(draw: st.DrawFn) -> Request:
    """Any method to any endpoint (the JWKS, discovery, health, unknown paths included), with a
    body of form fields or bytes and an odd header or two."""
    realm = draw(st.sampled_from(["fuzz", "pascal", "nope", "", "..", "%2e%2e", "a" * 300]) | junk)
    tail = draw(
        st.sampled_from(
            [
                *(TOKEN, INTROSPECT, REVOKE, CERTS, OIDC, AUTHORIZE, RFC8414),
                *("", "/", TOKEN + "/", CERTS + "/x"),
            ]
        )
    )
    path = draw(
        st.sampled_from(
            [
                f"/realms/{realm}{tail}",
                f"/auth/realms/{realm}{tail}",
                f"{RFC8414}/realms/{realm}",
                f"{RFC8414}/auth/realms/{realm}",
                f"{RFC8414}/realms/{realm}/x",
                *ALIASES,
                "/health",
                "/health/live",
                "/health/ready",
                "/metrics",
                "/",
                "//realms/fuzz" + TOKEN,
                "/auth",
                "/realms/",
                RFC8414,
            ]
        )
        | st.text(max_size=30).map(lambda t: "/" + t)
    )
    body: tuple[tuple[str, Value], ...] | bytes
    if draw(st.booleans()):
        fields, _ = draw(client_auth())
        body = (*fields, ("grant_type", draw(st.sampled_from(GRANTS))))
    else:
        body = draw(st.binary(max_size=200) | st.sampled_from([b"", b"\xff" * 10, b"a" * 70_000]))
    headers: list[tuple[str, Any]] = []
    if draw(st.booleans()):
        headers.append(("Content-Type", draw(st.sampled_from((FORM, *CONTENT_TYPES)))))
    if draw(st.integers(0, 3)) == 0:
        headers.append(("Authorization", Bearer(draw(token_values()))))
    for _ in range(draw(st.integers(0, 2))):
        name = draw(st.sampled_from(["Accept", "Origin", "X-Forwarded-For", "Forwarded", "Cookie"]))
        headers.append((name, draw(st.text(max_size=50).filter(_header_safe))))
    return Request(
        method=draw(st.sampled_from(METHODS)),
        target=path_text(path) + draw(st.sampled_from(["", "?a=b", "?" + "q" * 3000])),
        headers=tuple(headers),
        body=body,
        host=draw(st.sampled_from(["default"] * 6 + ["evil.example", "", "[::1]:x"])),
    )


def _header_safe(text: str) -> bool:
    return not any(c in text for c in "\r\n\x00") and all(ord(c) < 256 for c in text)


@st.composite
def refused_requests(draw: st.DrawFn) -> tuple[Request, bool]:
    """A request whose one token is correctly signed but must be refused, placed where it
    decides the answer: the client assertion, the id_token, the jwt-bearer assertion, the
    subject_token, or the bearer token of the protected API."""
    where = draw(st.sampled_from(["client", "keyless", "id_token", "assertion", "subject", "api"]))
    form = (("Content-Type", FORM),)
    worker = (("client_id", "worker"), ("client_secret", Ref("secret")))
    token_path = "/realms/fuzz" + TOKEN
    if where in ("client", "keyless"):
        jwt = draw(refused_jwts((where,)))
        fields: tuple[tuple[str, Value], ...] = (
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", jwt),
        )
        return Request("POST", token_path, form, fields), False
    if where == "api":
        jwt = draw(refused_jwts(("api",)))
        return Request("GET", "/static-api/x", (("Authorization", Bearer(jwt)),)), True
    jwt = draw(refused_jwts(("issuer",)))
    if where == "id_token":
        fields = (*worker, ("grant_type", "id_auth"), ("id_token", jwt))
    elif where == "assertion":
        fields = (*worker, ("grant_type", GRANT_JWT_BEARER), ("assertion", jwt))
    else:
        fields = (
            *worker,
            ("grant_type", GRANT_TOKEN_EXCHANGE),
            ("subject_token", jwt),
            ("subject_token_type", draw(st.sampled_from([TOKEN_TYPE_JWT, TOKEN_TYPE_ID]))),
        )
    return Request("POST", token_path, form, fields), False


@st.composite
def framed_requests(draw: st.DrawFn) -> Request:
    """A token request with broken HTTP framing or odd headers: lying or repeated
    Content-Length, chunked bodies, odd Host values, repeated headers, huge headers, HTTP/1.0."""
    fields, headers = draw(client_auth())
    fields = [*fields, ("grant_type", "client_credentials")]
    headers = [*headers, ("Content-Type", FORM)]
    odd = st.sampled_from(
        [
            ("Content-Type", "text/plain"),
            ("Content-Type", FORM),
            ("Authorization", "Basic"),
            ("Authorization", "Basic " + "A" * 20_000),
            ("Authorization", ""),
            ("Host", "evil.example"),
            ("X-Forwarded-For", "1.2.3.4, ::1, junk"),
            ("X-Forwarded-Host", "evil.example"),
            ("Expect", "100-continue"),
            ("Transfer-Encoding", "gzip"),
            ("X-Long", "x" * 60_000),
        ]
    )
    for _ in range(draw(st.integers(0, 3))):
        headers.append(draw(odd))
    path = draw(
        st.sampled_from(["/realms/fuzz" + TOKEN, "/auth/realms/fuzz" + INTROSPECT, *ALIASES])
    )
    return Request(
        method="POST",
        target=draw(st.sampled_from([path, f"http://evil.example{path}", path + "#f"])),
        headers=tuple(headers),
        body=tuple(fields),
        framing=draw(
            st.sampled_from(["length", "chunked", "longer", "shorter", "twice", "none", "negative"])
            | st.just("huge")
        ),
        host=draw(
            st.sampled_from(
                [
                    *("default", "default", None, "", "evil.example", "127.0.0.1:99999999"),
                    *("a" * 9000, "[::1]", "h\u00e9", "a b", "127.0.0.1:1, evil.example"),
                ]
            )
        ),
        version=draw(st.sampled_from(["HTTP/1.1"] * 5 + ["HTTP/1.0", "HTTP/2.0", "HTTP/1.1 x"])),
    )
