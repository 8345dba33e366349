"""TokenCore.fetch_flow without I/O: the test plays the driver, answering each instruction the
flow yields, on a frozen clock."""

from __future__ import annotations

import json
import random
from typing import Any
from urllib.parse import parse_qsl

import pytest

from tokensmith.client import (
    STANDARD,
    ClientCredentials,
    InvalidClient,
    RefreshToken,
    Retry,
    Secret,
    Token,
    TokenEndpointUnavailable,
)
from tokensmith.client._core import TokenCore
from tokensmith.core import Call, Flow, HTTPResponse, Send, Sleep, TransportFailure

NOW = 1_700_000_000.0
URL = "https://auth.example.com/token"


def core(**changes: Any) -> TokenCore:
    options: dict[str, Any] = {
        "client_id": "svc",
        "client_secret": Secret("s3cret-value"),
        "grant": ClientCredentials(scope="read"),
        "auth_method": "client_secret_post",
        "dialect": STANDARD,
        "default_ttl": None,
        "margin": None,
        "retry": Retry(attempts=3, backoff=1.0, max_backoff=4.0),
        "cache": None,
        "cache_lock_timeout": 5.0,
        "clock": lambda: NOW,
        "rng": random.Random(7),  # noqa: S311 (jitter, not cryptography)
        "on_event": None,
    }
    options.update(changes)
    return TokenCore(URL, **options)


def answer(status: int, body: object, **headers: str) -> HTTPResponse:
    return HTTPResponse(status, headers, json.dumps(body).encode())


def issued(token: str = "tok-1", **extra: object) -> HTTPResponse:
    return answer(200, {"access_token": token, "token_type": "Bearer", "expires_in": 300, **extra})


def form(step: object) -> dict[str, str]:
    assert isinstance(step, Send)
    return dict(parse_qsl(step.request.body.decode()))


def finish(flow: Flow[Token], value: object) -> Token:
    """Send ``value`` into ``flow`` and return what it returns (it must yield nothing more)."""
    with pytest.raises(StopIteration) as stop:
        flow.send(value)
    token: Token = stop.value.value
    return token


def test_client_credentials_is_one_post_and_a_token_on_the_frozen_clock() -> None:
    """The flow yields one POST with the grant, scope and client_secret_post credentials, and
    turns a 200 answer into a token that expires 300 s after the frozen now."""
    flow = core().fetch_flow()

    step = next(flow)
    token = finish(flow, issued())

    assert isinstance(step, Send)
    assert (step.request.method, step.request.url) == ("POST", URL)
    assert form(step) == {
        "grant_type": "client_credentials",
        "scope": "read",
        "client_id": "svc",
        "client_secret": "s3cret-value",
    }
    assert (token.access_token, token.issued_at, token.expires_at) == ("tok-1", NOW, NOW + 300)


def test_a_503_is_retried_after_a_backoff() -> None:
    """A 503 answer makes the flow sleep (1 s doubled per try, with jitter) and send again."""
    flow = core().fetch_flow()

    next(flow)
    pause = flow.send(answer(503, {"error": "temporarily_unavailable"}))
    again = flow.send(None)
    token = finish(flow, issued("tok-2"))

    assert isinstance(pause, Sleep)
    assert 0.5 <= pause.seconds <= 1.0
    assert isinstance(again, Send)
    assert token.access_token == "tok-2"


def test_retry_after_is_honoured_within_its_cap() -> None:
    """A 429 with ``Retry-After: 7`` sleeps 7 s before the next try."""
    flow = core().fetch_flow()

    next(flow)
    pause = flow.send(answer(429, {"error": "slow_down"}, **{"retry-after": "7"}))

    assert pause == Sleep(7.0)


def test_no_answer_after_every_try_is_token_endpoint_unavailable() -> None:
    """A transport failure on each of the 3 tries ends in TokenEndpointUnavailable."""
    flow = core().fetch_flow()
    steps = [next(flow)]
    for _ in range(2):
        steps.append(flow.throw(TransportFailure("ConnectError")))
        steps.append(flow.send(None))

    with pytest.raises(TokenEndpointUnavailable, match="3 tries"):
        flow.throw(TransportFailure("ConnectError"))

    assert [type(step).__name__ for step in steps] == ["Send", "Sleep", "Send", "Sleep", "Send"]


def test_an_oauth_error_is_raised_without_retrying() -> None:
    """A 401 invalid_client answer is raised as InvalidClient at once."""
    flow = core().fetch_flow()
    next(flow)

    with pytest.raises(InvalidClient):
        flow.send(answer(401, {"error": "invalid_client"}))


def test_a_refused_refresh_token_falls_back_to_the_primary_grant() -> None:
    """With a held refresh token, the flow tries it first and, on invalid_grant, asks with
    the primary grant in the same flow."""
    c = core(grant=RefreshToken(ClientCredentials(scope="read")))
    c.accept(
        Token("old", expires_at=NOW - 1, issued_at=NOW - 301, refresh_token="ref-1"),
        renewed=False,
    )
    flow = c.fetch_flow()

    first = next(flow)
    second = flow.send(answer(400, {"error": "invalid_grant"}))
    token = finish(flow, issued("tok-3"))

    assert form(first)["grant_type"] == "refresh_token"
    assert form(first)["refresh_token"] == "ref-1"
    assert form(second)["grant_type"] == "client_credentials"
    assert token.access_token == "tok-3"


class OneEntryCache:
    """A shared cache holding one token, whose lock is always free."""

    def __init__(self, token: Token | None) -> None:
        self.token = token
        self.stored: list[Token] = []

    def load(self, key: str) -> Token | None:
        return self.token

    def store(self, key: str, token: Token) -> None:
        self.stored.append(token)

    def acquire(self, key: str, timeout: float) -> object:
        return "lock"

    def release(self, handle: object) -> None:
        pass


def test_a_fresh_token_in_the_shared_cache_needs_no_request() -> None:
    """When another process left a fresh token in the shared cache, the flow returns it after
    one cache read and sends nothing."""
    shared = Token("tok-shared", expires_at=NOW + 300, issued_at=NOW)
    c = core(cache=OneEntryCache(shared))
    flow = c.fetch_flow()

    step = next(flow)
    token = finish(flow, step.fn(*step.args) if isinstance(step, Call) else None)

    assert isinstance(step, Call)
    assert token is shared
    assert c.stats.shared_cache_hits == 1


def test_a_token_fetched_under_the_cache_lock_is_stored_and_the_lock_released() -> None:
    """With an empty shared cache, the flow reads, locks, reads again, sends, stores the new
    token and releases the lock, in that order."""
    cache = OneEntryCache(None)
    flow = core(cache=cache).fetch_flow()
    calls: list[str] = []

    step = next(flow)
    while isinstance(step, Call):
        calls.append(step.fn.__name__)
        step = flow.send(step.fn(*step.args))
    after_send = flow.send(issued("tok-4"))
    calls.append(after_send.fn.__name__)
    release = flow.send(after_send.fn(*after_send.args))
    calls.append(release.fn.__name__)
    token = finish(flow, None)

    assert calls == ["load", "acquire", "load", "store", "release"]
    assert release.inline  # it must run even while the caller is being cancelled
    assert cache.stored == [token]
