"""TokenSource against scripted token endpoints over real loopback HTTP."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import threading
import time
from email.utils import formatdate
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest

from tokensmith.client import (
    PASCAL,
    ClientCredentials,
    InvalidClient,
    InvalidScope,
    InvalidTokenResponse,
    RefreshToken,
    Retry,
    TokenEndpointUnavailable,
    TokenSource,
)

from .conftest import SENSITIVE, Answer, Clock, FakeOAuth, Seen, in_threads

FAST = Retry(attempts=3, backoff=0.01, max_backoff=0.05)


def source(fake: FakeOAuth, **kwargs: Any) -> TokenSource:
    kwargs.setdefault("client_id", "svc")
    kwargs.setdefault("client_secret", "s3cret-value")
    kwargs.setdefault("retry", FAST)
    return TokenSource(fake.token_url, **kwargs)


def jwt_with(claims: dict[str, Any]) -> str:
    def enc(d: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")

    return f"{enc({'alg': 'none'})}.{enc(claims)}.sig"


def test_client_credentials_sends_post_credentials_and_caches(fake: FakeOAuth) -> None:
    """The first call fetches with client_secret_post; later calls reuse the token."""
    with source(fake, grant=ClientCredentials(scope="a b", audience="api")) as s:
        first = s.token()
        second = s.token()

    assert first is second
    assert len(fake.token_requests) == 1
    form = fake.token_requests[0].form
    assert form == {
        "grant_type": "client_credentials",
        "scope": "a b",
        "audience": "api",
        "client_id": "svc",
        "client_secret": "s3cret-value",
    }
    assert s.stats.cache_hits == 1


def test_client_secret_basic(fake: FakeOAuth) -> None:
    """client_secret_basic sends percent-encoded credentials in the Authorization header only,
    a space as %20 (which form decoders and Authlib's plain percent-decoding both read)."""
    with source(fake, client_secret="a:b c", auth_method="client_secret_basic") as s:
        s.token()

    seen = fake.token_requests[0]
    assert "client_secret" not in seen.form
    assert "client_id" not in seen.form
    decoded = base64.b64decode(seen.headers["Authorization"].split()[1]).decode()
    assert decoded == "svc:a%3Ab%20c"


def test_margin_scales_with_lifetime(fake: FakeOAuth, clock: Clock) -> None:
    """A 300 s token is not re-fetched until 240 s; a 30 s token renews at 24 s, not every call."""
    fake.ttl = 300
    with source(fake, clock=clock) as s:
        s.token()
        clock.advance(239)
        s.token()
        assert len(fake.token_requests) == 1
        clock.advance(2)
        s.token()
        assert len(fake.token_requests) == 2

    fake.ttl = 30
    with source(fake, clock=clock) as short:
        for _ in range(10):
            short.token()
        clock.advance(23)
        short.token()
        assert len(fake.token_requests) == 3
        clock.advance(2)
        short.token()
        assert len(fake.token_requests) == 4


@pytest.mark.parametrize(
    ("body", "lifetime"),
    [
        ({"access_token": "t1-abcdef", "expires_in": "120"}, 120),
        ({"access_token": "t2-abcdef", "expires_at": None}, 77),
    ],
)
def test_expiry_from_string_or_default(
    make_fake: Any, clock: Clock, body: dict[str, Any], lifetime: int
) -> None:
    """expires_in may be a numeric string; with nothing said, the default lifetime applies."""
    fake = make_fake(lambda f, seen: Answer(body=body))

    with source(fake, clock=clock, default_ttl=77) as s:
        token = s.token()

    assert token.expires_at - clock.now == lifetime


def test_expiry_from_jwt_exp_corrected_by_date_header(make_fake: Any) -> None:
    """Without expires_in the JWT's exp is used, moved onto our clock by the Date header."""
    server_now = time.time() - 3600  # the server's clock is an hour behind ours
    token = jwt_with({"exp": int(server_now) + 600})
    fake = make_fake(
        lambda f, seen: Answer(
            body={"access_token": token}, headers={"Date": formatdate(server_now, usegmt=True)}
        )
    )

    with source(fake) as s:
        got = s.token()

    assert abs(got.expires_at - (time.time() + 600)) < 5


def test_no_expiry_at_all_fails_loudly(make_fake: Any) -> None:
    """An opaque token with no expiry and no default is an InvalidTokenResponse at fetch time."""
    fake = make_fake(lambda f, seen: Answer(body={"access_token": "opaque-token-1"}))

    with source(fake) as s, pytest.raises(InvalidTokenResponse, match="default_ttl"):
        s.token()


def test_missing_token_names_the_fields_seen(make_fake: Any) -> None:
    """A response without the token fails at fetch time naming the fields it had."""
    fake = make_fake(lambda f, seen: Answer(body=f.issue(pascal=True)))

    with source(fake) as s, pytest.raises(InvalidTokenResponse) as info:
        s.token()

    assert "ExpiresIn, Token, TokenType" in str(info.value)
    assert "PASCAL" in str(info.value)


def test_pascal_dialect(make_fake: Any, clock: Clock) -> None:
    """The PASCAL dialect reads Trulioo's Token/TokenType/ExpiresIn."""
    fake = make_fake(lambda f, seen: Answer(body=f.issue(3599, pascal=True)))

    with source(fake, dialect=PASCAL, clock=clock) as s:
        token = s.token()

    assert token.expires_at - clock.now == 3599
    assert token.authorization.startswith("Bearer tok-")


def test_retries_5xx_then_succeeds(make_fake: Any) -> None:
    """5xx answers are retried with backoff until one succeeds."""

    def script(f: FakeOAuth, seen: Seen) -> Answer:
        return (
            Answer(503, {"error": "down"}) if len(f.token_requests) < 3 else Answer(body=f.issue())
        )

    fake = make_fake(script)
    with source(fake) as s:
        s.token()

    assert len(fake.token_requests) == 3


def test_429_honours_retry_after(make_fake: Any) -> None:
    """A 429 waits what Retry-After says before the next try."""

    def script(f: FakeOAuth, seen: Seen) -> Answer:
        if len(f.token_requests) == 1:
            return Answer(429, {"error": "slow_down"}, headers={"Retry-After": "1"})
        return Answer(body=f.issue())

    fake = make_fake(script)
    with source(fake) as s:
        s.token()

    first, second = fake.token_requests
    assert second.at - first.at >= 0.95


def test_endpoint_down_is_token_endpoint_unavailable() -> None:
    """Connection refused after every retry is TokenEndpointUnavailable."""
    with (
        TokenSource(
            "http://127.0.0.1:9/token", client_id="c", client_secret="s3cret-value", retry=FAST
        ) as s,
        pytest.raises(TokenEndpointUnavailable, match="3 tries"),
    ):
        s.token()


def test_persistent_5xx_is_unavailable_with_status(make_fake: Any) -> None:
    """A token endpoint that keeps answering 500 gives TokenEndpointUnavailable(status_code)."""
    fake = make_fake(lambda f, seen: Answer(500, b"oops"))

    with source(fake) as s, pytest.raises(TokenEndpointUnavailable) as info:
        s.token()

    assert info.value.status_code == 500
    assert len(fake.token_requests) == 3


def test_oauth_errors_map_to_classes_without_secrets(make_fake: Any) -> None:
    """invalid_client and invalid_scope become their classes; an echoed secret is masked."""
    answers = iter(
        [
            Answer(
                401, {"error": "invalid_client", "error_description": "bad secret s3cret-value"}
            ),
            Answer(400, {"error": "invalid_scope", "error_description": "no"}),
        ]
    )
    fake = make_fake(lambda f, seen: next(answers))

    with source(fake) as s:
        with pytest.raises(InvalidClient) as info:
            s.token()
        with pytest.raises(InvalidScope):
            s.token()

    assert "s3cret-value" not in str(info.value)
    assert "***" in str(info.value)


@pytest.mark.parametrize("auth_method", ["client_secret_post", "client_secret_basic"])
@pytest.mark.parametrize("secret", ["p@ss;word ü+1", "12345;"])
def test_a_secret_echoed_in_any_wire_encoding_is_masked(
    make_fake: Any, auth_method: str, secret: str
) -> None:
    """A server that echoes the request body or the Basic header back in its error description
    leaks no form of the secret: raw, form-encoded, percent-encoded in either case, or inside
    the Basic credentials."""

    def echo(f: FakeOAuth, seen: Seen) -> Answer:
        raw_body = "&".join(f"{k}={quote_plus(v)}" for k, v in seen.pairs)
        basic = seen.headers.get("Authorization", "")
        lower = re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), raw_body)
        text = f"refused {raw_body} {lower} {basic} {quote(secret, safe='')}"
        return Answer(401, {"error": "invalid_client", "error_description": text})

    fake = make_fake(echo)

    with (
        source(fake, client_secret=secret, auth_method=auth_method) as s,
        pytest.raises(InvalidClient) as info,
    ):
        s.token()

    text = str(info.value)
    assert "***" in text
    for form in (secret, quote_plus(secret), quote(secret, safe=""), quote(secret).lower()):
        assert form not in text
    basic_pair = base64.b64encode(f"svc:{quote(secret, safe='')}".encode()).decode()
    assert basic_pair not in text


def test_valid_token_keeps_being_served_while_renewal_fails(make_fake: Any, clock: Clock) -> None:
    """When renewal fails, the still-valid token is served and the failure counted."""

    def script(f: FakeOAuth, seen: Seen) -> Answer:
        return Answer(body=f.issue(100)) if len(f.token_requests) == 1 else Answer(500, b"")

    fake = make_fake(script)
    with source(fake, clock=clock) as s:
        first = s.token()
        clock.advance(90)
        again = s.token()
        clock.advance(11)
        with pytest.raises(TokenEndpointUnavailable):
            s.token()

    assert again is first
    assert s.stats.failures == 2


def test_refresh_token_is_used_then_falls_back_when_rejected(make_fake: Any, clock: Clock) -> None:
    """RefreshToken uses the refresh token while alive; invalid_grant falls back to the primary."""

    def script(f: FakeOAuth, seen: Seen) -> Answer:
        if seen.form["grant_type"] == "refresh_token" and len(f.token_requests) == 3:
            return Answer(400, {"error": "invalid_grant"})
        return Answer(body=f.issue(60))

    fake = make_fake(script)
    fake.refresh = True
    with source(fake, grant=RefreshToken(ClientCredentials()), clock=clock) as s:
        s.token()
        clock.advance(55)
        s.token()
        clock.advance(55)
        s.token()

    grants = [r.form["grant_type"] for r in fake.token_requests]
    assert grants == ["client_credentials", "refresh_token", "refresh_token", "client_credentials"]


def test_expired_refresh_token_goes_straight_to_primary(fake: FakeOAuth, clock: Clock) -> None:
    """A refresh token past refresh_expires_in is not sent."""
    fake.refresh = True
    with source(fake, grant=RefreshToken(ClientCredentials()), clock=clock) as s:
        s.token()
        clock.advance(1801)
        s.token()

    assert [r.form["grant_type"] for r in fake.token_requests] == ["client_credentials"] * 2


def test_64_threads_make_one_request(make_fake: Any) -> None:
    """64 threads finding no token make exactly one token request and all get its token."""
    fake = make_fake(delay=0.3)
    s = source(fake)
    start = threading.Barrier(64)
    got: list[str] = []

    def worker() -> None:
        start.wait()
        got.append(s.access_token())

    in_threads(worker, 64)
    s.close()

    assert len(fake.token_requests) == 1
    assert len(got) == 64
    assert len(set(got)) == 1


def test_64_threads_share_the_error(make_fake: Any) -> None:
    """When the single request fails, every waiting thread gets its error."""
    fake = make_fake(lambda f, seen: Answer(401, {"error": "invalid_client"}, delay=0.3))
    s = source(fake)
    start = threading.Barrier(64)
    errors: list[BaseException] = []

    def worker() -> None:
        start.wait()
        try:
            s.token()
        except InvalidClient as exc:
            errors.append(exc)

    in_threads(worker, 64)
    s.close()

    assert len(errors) == 64
    assert len(fake.token_requests) <= 2  # threads arriving after the failure may try again


async def test_1000_tasks_make_one_request(make_fake: Any) -> None:
    """1,000 asyncio tasks finding no token make exactly one request, without blocking the loop."""
    fake = make_fake(delay=0.3)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async with source(fake) as s:
        tick = asyncio.create_task(ticker())
        tokens = await asyncio.gather(*(s.aaccess_token() for _ in range(1000)))
        tick.cancel()

    assert len(fake.token_requests) == 1
    assert len(set(tokens)) == 1
    assert ticks >= 10  # the loop kept running while the request was in flight


def test_background_renewal_never_makes_a_request_wait(make_fake: Any) -> None:
    """With background renewal, callers never wait on the (slow) token endpoint."""
    fake = make_fake(lambda f, seen: Answer(body=f.issue(2), delay=0.2))
    s = source(fake, background=True)
    s.token()  # the first token has to be fetched
    slowest = 0.0
    deadline = time.monotonic() + 4.5
    while time.monotonic() < deadline:
        t0 = time.perf_counter()
        s.token()
        slowest = max(slowest, time.perf_counter() - t0)
        time.sleep(0.005)
    s.close()

    assert len(fake.token_requests) >= 3
    assert s.stats.renewals >= 2
    assert slowest < 0.1


def test_httpx_auth_retries_once_after_401(fake: FakeOAuth) -> None:
    """A 401 to the token held drops it, fetches a new one and resends the request once."""
    with source(fake) as s, httpx.Client(auth=s) as http:
        http.get(fake.url + "/api")
        fake.valid.clear()  # the API no longer accepts the token (e.g. revoked)
        response = http.post(fake.url + "/api", content=b"payload")

    assert response.status_code == 200
    assert len(fake.token_requests) == 2
    assert s.stats.unauthorized_retries == 1


def test_burst_of_401s_fetches_once(fake: FakeOAuth) -> None:
    """Twenty threads hitting 401 with the same old token cause one new token request."""
    s = source(fake)
    http = httpx.Client(auth=s)
    http.get(fake.url + "/api")
    fake.valid.clear()
    fake.delay = 0.2
    start = threading.Barrier(20)
    statuses: list[int] = []

    def worker() -> None:
        start.wait()
        statuses.append(http.get(fake.url + "/api").status_code)

    in_threads(worker, 20)
    http.close()
    s.close()

    assert statuses == [200] * 20
    assert len(fake.token_requests) == 2


async def test_async_httpx_auth(fake: FakeOAuth) -> None:
    """The same source works as auth for httpx.AsyncClient, including the 401 retry."""
    async with source(fake) as s, httpx.AsyncClient(auth=s) as http:
        first = await http.get(fake.url + "/api")
        fake.valid.clear()
        second = await http.get(fake.url + "/api")

    assert first.status_code == second.status_code == 200
    assert len(fake.token_requests) == 2


def test_a_401_that_persists_is_returned_not_looped(fake: FakeOAuth) -> None:
    """If the new token is refused too, the 401 reaches the caller after one resend."""
    fake.valid = type("Never", (set,), {"__contains__": lambda self, item: False})()
    with source(fake) as s, httpx.Client(auth=s) as http:
        response = http.get(fake.url + "/api")

    assert response.status_code == 401
    assert len([r for r in fake.seen if r.path == "/api"]) == 2


def test_requests_auth_retries_once_after_401(fake: FakeOAuth) -> None:
    """The requests adapter adds the token and handles a 401 the same way."""
    import requests

    with source(fake) as s, requests.Session() as session:
        session.auth = s.requests_auth()
        assert session.get(fake.url + "/api").status_code == 200
        fake.valid.clear()
        response = session.post(fake.url + "/api", data=b"x")

    assert response.status_code == 200
    assert len(fake.token_requests) == 2


def test_async_supplier_for_each_request(make_fake: Any) -> None:
    """A form value may be an async callable, called before each token request."""
    from tokensmith.client import IdAuth

    calls = 0

    async def fresh_id_token() -> str:
        nonlocal calls
        calls += 1
        return f"external-id-token-{calls}"

    fake = make_fake(lambda f, seen: Answer(body=f.issue(1)))

    async def run() -> None:
        async with source(fake, grant=IdAuth(fresh_id_token, scope="api")) as s:
            await s.atoken()
            s.invalidate(s.current)  # type: ignore[arg-type]
            await s.atoken()

    asyncio.run(run())

    assert [r.form["id_token"] for r in fake.token_requests] == [
        "external-id-token-1",
        "external-id-token-2",
    ]
    assert fake.token_requests[0].form["grant_type"] == "id_auth"


def test_reprs_never_show_secrets_or_tokens(fake: FakeOAuth) -> None:
    """repr of the source, the token and the secret show no secret and no token."""
    with source(fake) as s:
        token = s.token()

    text = repr(s) + repr(token) + repr(s.current) + str(token)
    assert "s3cret-value" not in text
    assert token.access_token not in text
    assert token.fingerprint in repr(token)


def test_token_exchange_and_custom_grant_forms(fake: FakeOAuth) -> None:
    """RFC 8693 token exchange and a custom grant send their parameters (suppliers resolved)."""
    from tokensmith.client import CustomGrant, TokenExchange

    exchange = TokenExchange(
        lambda: "subject-token-1",
        actor_token="actor-token-1",
        audience="api",
        requested_token_type="urn:x",
    )
    custom = CustomGrant("urn:example:grant", {"assertion": "assertion-value-1"})

    with source(fake, grant=exchange) as a, source(fake, grant=custom) as b:
        a.token()
        b.token()

    first, second = (r.form for r in fake.token_requests)
    assert first["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange"
    assert first["subject_token"] == "subject-token-1"
    assert first["subject_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    assert first["actor_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    assert first["audience"] == "api"
    assert first["requested_token_type"] == "urn:x"
    assert second["grant_type"] == "urn:example:grant"
    assert second["assertion"] == "assertion-value-1"


def test_several_resources_are_repeated_parameters(fake: FakeOAuth) -> None:
    """RFC 8707 §2: each resource is its own ``resource`` parameter, not one joined value."""
    s = source(fake, grant=ClientCredentials(resource=["https://a.example/", "https://b.example/"]))

    s.token()

    pairs = fake.token_requests[0].pairs
    assert [v for k, v in pairs if k == "resource"] == ["https://a.example/", "https://b.example/"]


def test_async_supplier_in_sync_api_is_a_clear_error(fake: FakeOAuth) -> None:
    """An async supplier used from the sync API says to use the async API."""
    from tokensmith.client import ConfigurationError, IdAuth

    async def supplier() -> str:
        return "x"

    with (
        source(fake, grant=IdAuth(supplier)) as s,
        pytest.raises(ConfigurationError, match="async"),
    ):
        s.token()


def test_bad_configuration_is_refused() -> None:
    """A non-HTTP token URL or a missing secret is a ConfigurationError at construction."""
    from tokensmith.client import ConfigurationError

    with pytest.raises(ConfigurationError):
        TokenSource("ftp://x/token", client_id="a", client_secret="b")
    with pytest.raises(ConfigurationError):
        TokenSource("https://x/token", client_id="a")


def test_a_failing_early_renewal_hands_back_the_valid_token_at_once(
    make_fake: Any, clock: Clock
) -> None:
    """With a valid token held, a renewal answered ``429 Retry-After: 30`` returns that token
    after one try instead of waiting out the retries, and the next try waits the 30 s."""
    answers = iter(
        [
            Answer(body={"access_token": "tok-first-valid", "expires_in": 12}),
            Answer(429, {"error": "slow_down"}, headers={"Retry-After": "30"}),
            Answer(body={"access_token": "tok-second-value", "expires_in": 12}),
        ]
    )
    fake = make_fake(lambda f, seen: next(answers))
    SENSITIVE.update({"tok-first-valid", "tok-second-value"})

    with source(fake, clock=clock) as s:
        first = s.access_token()
        clock.advance(10)  # past the renewal point (12 s - 2.4 s), 2 s before expiry
        started = time.monotonic()
        during = s.access_token()
        waited = time.monotonic() - started
        again = s.access_token()  # within Retry-After: no request
        clock.advance(1)
        still = s.access_token()
        requests_before_expiry = len(fake.token_requests)

    assert first == during == again == still == "tok-first-valid"
    assert waited < 2.0  # the retry policy would have slept 30 s
    assert requests_before_expiry == 2


def test_an_api_that_refuses_every_token_costs_two_fetches_not_one_per_request(
    make_fake: Any,
) -> None:
    """When the API also refuses the token fetched to replace a refused one, the source stops
    fetching for a cool-down and returns the 401s."""
    count = iter(range(1000))

    def never_valid(f: FakeOAuth, seen: Seen) -> Answer:
        if seen.path == "/api":
            return Answer(401, {"ok": False})
        token = f"tok-refused-{next(count)}"
        SENSITIVE.add(token)
        return Answer(body={"access_token": token, "expires_in": 300})

    fake = make_fake(never_valid)

    with source(fake) as s, httpx.Client(auth=s) as api:
        statuses = [api.get(fake.url + "/api").status_code for _ in range(20)]

    assert statuses == [401] * 20
    assert len(fake.token_requests) == 2


def test_expires_in_counts_from_when_the_request_was_sent(make_fake: Any) -> None:
    """A 3-second token that takes 1 s to arrive expires 3 s after the request left, not 3 s
    after the answer came."""
    fake = make_fake(lambda f, seen: Answer(body=f.issue(3), delay=1.0))

    with source(fake) as s:
        sent = time.time()
        token = s.token()

    assert token.expires_at <= sent + 3.2
