"""Rate limits on failed client authentication (issue 8 item 12), over real loopback HTTP from
several source addresses (127.0.0.2, 127.0.0.3, … reach the service on 127.0.0.1)."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tokensmith.cli import main
from tokensmith.server import Settings, TokensmithApp
from tokensmith.server._ratelimit import TrustedProxies, parse_limits

from .conftest import FrozenClock, ServerThread, make_settings, require_redis, run_admin


@contextlib.contextmanager
def running(settings: Settings) -> Iterator[str]:
    """The service with ``settings`` on a free loopback port, with uvicorn's own
    X-Forwarded-For rewrite off as ``tokensmith serve`` runs it; yields its base URL."""
    thread = ServerThread(TokensmithApp(settings, clock=FrozenClock()))
    thread.server.config.proxy_headers = False
    with thread as server:
        yield server.url


def clear_of_window_edge(period: float, margin: float = 20.0) -> None:
    """Wait, if need be, until at least ``margin`` seconds of the current ``period``-second
    window remain: the limiter runs on real time, and a sliding-window estimate falls once the
    window turns, so a test that crossed the edge would measure the boundary, not the limit."""
    left = period - time.time() % period
    if left < margin:
        time.sleep(left + 0.5)


def realm_with_client(settings: Settings, realm: str, **limits: str) -> str:
    """Create ``realm`` (with ``limits``) and its client ``svc``; returns svc's secret."""
    clear_of_window_edge(3600)  # the hourly limits' windows, as for minutes below
    run_admin(settings, lambda a: a.create_realm(realm, **limits))
    new = run_admin(settings, lambda a: a.create_client(realm, "svc"))
    assert new.secret is not None
    return new.secret


def token(
    url: str, realm: str, secret: str, *, source: str = "127.0.0.1", **headers: str
) -> httpx.Response:
    """A client_credentials request for client svc, sent from the loopback address ``source``."""
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=10) as http:
        return http.post(
            f"{url}/realms/{realm}/protocol/openid-connect/token",
            data={"grant_type": "client_credentials", "client_id": "svc", "client_secret": secret},
            headers=headers,
        )


def test_a_wrong_secret_flood_gets_429_slow_down_with_retry_after(sqlite_url: str) -> None:
    """Past the default address limit (20 failures a minute) the address gets 429 slow_down
    with Retry-After after a one-second hold, even with the right secret; before it, wrong
    secrets get 401."""
    settings = make_settings(sqlite_url)
    secret = realm_with_client(settings, "acme")
    clear_of_window_edge(60)

    with running(settings) as url:
        wrong = [token(url, "acme", "guess-" + str(i)).status_code for i in range(20)]
        # The sliding-window estimate may let a guess or two more through when a minute
        # boundary falls inside the flood.
        started = time.monotonic()
        refused = next(
            r for r in (token(url, "acme", "guess") for _ in range(4)) if r.status_code != 401
        )
        held = time.monotonic() - started
        right = token(url, "acme", secret)

    assert wrong == [401] * 20
    assert refused.status_code == 429
    assert refused.json()["error"] == "slow_down"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert held >= 1.0  # a refusal is held a second: a guesser's connections idle
    assert refused.headers["cache-control"] == "no-store"
    assert right.status_code == 429


def test_the_right_client_from_another_address_still_gets_tokens(sqlite_url: str) -> None:
    """A client id past its limit is refused only to addresses that failed for it: the
    legitimate client at a clean address still gets tokens, a fresh guesser gets one try."""
    settings = make_settings(sqlite_url)
    secret = realm_with_client(
        settings, "acme", client_auth_limit="4/hour", address_auth_limit="3/hour"
    )

    with running(settings) as url:
        for source in ("127.0.0.3", "127.0.0.4"):
            for i in range(2):
                assert token(url, "acme", f"guess-{i}", source=source).status_code == 401
        again = token(url, "acme", "guess-3", source="127.0.0.3")
        legitimate = token(url, "acme", secret, source="127.0.0.2")
        fresh = [token(url, "acme", "guess", source="127.0.0.5").status_code for _ in range(2)]

    assert again.status_code == 429
    assert again.json()["error"] == "slow_down"
    assert legitimate.status_code == 200
    assert "access_token" in legitimate.json()
    assert fresh == [401, 429]


def test_success_does_not_count(sqlite_url: str) -> None:
    """Only failures count: a client authenticating far more often than the limit is served."""
    settings = make_settings(sqlite_url, address_auth_limit="2/minute", client_auth_limit="2/hour")
    secret = realm_with_client(settings, "acme")

    with running(settings) as url:
        codes = {token(url, "acme", secret).status_code for _ in range(10)}

    assert codes == {200}


def test_x_forwarded_for_is_ignored_unless_the_peer_is_trusted(sqlite_url: str) -> None:
    """Without trusted proxies a made-up X-Forwarded-For on every guess changes nothing: the
    socket peer is counted and refused."""
    settings = make_settings(sqlite_url)
    realm_with_client(settings, "acme", address_auth_limit="3/hour")

    with running(settings) as url:
        codes = [
            token(url, "acme", "guess", **{"X-Forwarded-For": f"203.0.113.{i}"}).status_code
            for i in range(4)
        ]

    assert codes == [401, 401, 401, 429]


def test_a_trusted_proxy_names_the_client_address(sqlite_url: str) -> None:
    """Behind a trusted proxy the address is the nearest untrusted X-Forwarded-For hop: one
    forwarded guesser is refused (whatever it writes further left), another forwarded client
    is served."""
    settings = make_settings(sqlite_url, trusted_proxies=("127.0.0.1/32",))
    secret = realm_with_client(settings, "acme", address_auth_limit="3/hour")
    guesser = {"X-Forwarded-For": "203.0.113.7"}
    spoofed = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}

    with running(settings) as url:
        codes = [token(url, "acme", "guess", **guesser).status_code for _ in range(3)]
        refused = token(url, "acme", secret, **spoofed)
        other = token(url, "acme", secret, **{"X-Forwarded-For": "203.0.113.8"})

    assert codes == [401, 401, 401]
    assert refused.status_code == 429
    assert other.status_code == 200


@pytest.fixture
def redis_url() -> str:
    """The real Redis server on 127.0.0.1:6379."""
    return require_redis()


def test_limits_are_shared_across_instances_through_redis(sqlite_url: str, redis_url: str) -> None:
    """Two instances counting in one Redis: failures at the first get the address refused at
    the second."""
    settings = make_settings(sqlite_url, rate_limit_storage=redis_url)
    realm = "r" + secrets.token_hex(6)  # counters of earlier runs stay in Redis for a while
    secret = realm_with_client(settings, realm, address_auth_limit="3/hour")

    with running(settings) as first, running(settings) as second:
        failures = [token(first, realm, "guess").status_code for _ in range(3)]
        at_second = token(second, realm, secret)
        other_address = token(second, realm, secret, source="127.0.0.2")

    assert failures == [401, 401, 401]
    assert at_second.status_code == 429
    assert at_second.json()["error"] == "slow_down"
    assert other_address.status_code == 200


def test_tokens_are_issued_while_the_redis_of_the_limits_is_down(sqlite_url: str) -> None:
    """An unreachable rate-limit Redis leaves authentication working (unlimited), never a 500."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # nothing listens there once the probe is closed
    settings = make_settings(sqlite_url, rate_limit_storage=f"redis://127.0.0.1:{closed}/0")
    secret = realm_with_client(settings, "acme")

    with running(settings) as url:
        right = token(url, "acme", secret)
        wrong = token(url, "acme", "guess")

    assert right.status_code == 200
    assert wrong.status_code == 401


def cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tokensmith", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_realm_create_takes_and_checks_auth_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``realm create --client-auth-limit/--address-auth-limit`` refuses a malformed limit with
    the expected form, stores a good one and ``realm show`` prints it."""
    monkeypatch.setenv("TOKENSMITH_DATABASE_URL", f"sqlite:///{tmp_path / 'ts.db'}")
    monkeypatch.chdir(tmp_path)
    assert main(["db", "upgrade"]) == 0

    bad = main(["realm", "create", "acme", "--client-auth-limit", "lots"])
    bad_err = capsys.readouterr().err
    good = main(
        [
            "realm",
            "create",
            "acme",
            "--client-auth-limit",
            "5/minute;50/hour",
            "--address-auth-limit",
            "10/minute",
        ]
    )
    shown = main(["realm", "show", "acme"])
    out = capsys.readouterr().out

    assert bad != 0
    assert "'10/minute'" in bad_err
    assert good == shown == 0
    assert "client limit:      5/minute;50/hour" in out
    assert "address limit:     10/minute" in out


def test_settings_read_rate_limits_from_the_environment() -> None:
    """TOKENSMITH_RATE_LIMIT_STORAGE, _CLIENT_AUTH_LIMIT, _ADDRESS_AUTH_LIMIT and
    _TRUSTED_PROXIES are read, survive the trip to workers, and bad values are refused."""
    env = {
        "TOKENSMITH_RATE_LIMIT_STORAGE": "redis://:pw@10.0.0.5:6379/2",
        "TOKENSMITH_CLIENT_AUTH_LIMIT": "5/minute",
        "TOKENSMITH_ADDRESS_AUTH_LIMIT": "7/minute;70/hour",
        "TOKENSMITH_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1",
    }

    settings = Settings.from_env(env)

    assert settings.rate_limit_storage == "redis://:pw@10.0.0.5:6379/2"
    assert settings.client_auth_limit == "5/minute"
    assert settings.address_auth_limit == "7/minute;70/hour"
    assert settings.trusted_proxies == ("10.0.0.0/8", "192.168.1.1")
    back = Settings.from_env(settings.to_env())
    assert (back.rate_limit_storage, back.client_auth_limit) == (
        "redis://:pw@10.0.0.5:6379/2",
        "5/minute",
    )
    assert (back.address_auth_limit, back.trusted_proxies) == (
        settings.address_auth_limit,
        settings.trusted_proxies,
    )
    assert "pw" not in repr(settings)
    for name, value in [
        ("RATE_LIMIT_STORAGE", "memcached://x"),
        ("CLIENT_AUTH_LIMIT", "0/minute"),
        ("ADDRESS_AUTH_LIMIT", "often"),
        ("TRUSTED_PROXIES", "proxy.example"),
    ]:
        with pytest.raises(ValueError, match=r"\S"):
            Settings.from_env({"TOKENSMITH_" + name: value})


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("198.51.100.9", "203.0.113.1", "198.51.100.9"),  # untrusted peer: header ignored
        ("10.0.0.2", "203.0.113.1", "203.0.113.1"),
        ("10.0.0.2", "6.6.6.6, 203.0.113.1", "203.0.113.1"),  # only our proxies' hops count
        ("10.0.0.2", "203.0.113.1, 10.0.0.3", "203.0.113.1"),  # skip a chain of proxies
        ("10.0.0.2", "not-an-address", "10.0.0.2"),
        ("10.0.0.2", None, "10.0.0.2"),
    ],
)
def test_trusted_proxies_read_x_forwarded_for_right_to_left(
    peer: str, forwarded: str | None, expected: str
) -> None:
    """The client address is the nearest X-Forwarded-For hop that is not a trusted proxy."""
    proxies = TrustedProxies(["10.0.0.0/8"])

    assert proxies.client_address(peer, forwarded) == expected


def test_limit_notation_errors_show_the_expected_form() -> None:
    """A malformed or zero limit is refused with an example of the notation."""
    for text in ("lots", "0/minute", "5/fortnight", ""):
        with pytest.raises(ValueError, match="20/minute;200/hour"):
            parse_limits(text)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_tokensmith_serve_ignores_x_forwarded_for_from_an_untrusted_loopback_peer(
    tmp_path: Path,
) -> None:
    """``tokensmith serve`` counts the connection's address even when the peer is loopback:
    uvicorn's own X-Forwarded-For rewrite (which trusts 127.0.0.1) is off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSMITH_")}
    env["TOKENSMITH_DATABASE_URL"] = f"sqlite:///{tmp_path / 'ts.db'}"
    assert cli("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    created = cli(
        "realm", "create", "acme", "--address-auth-limit", "3/hour", cwd=tmp_path, env=env
    )
    assert created.returncode == 0, created.stderr
    assert cli("client", "create", "acme", "svc", cwd=tmp_path, env=env).returncode == 0
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tokensmith", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.TransportError):
                httpx.get(url + "/health", timeout=1)
                break
            time.sleep(0.05)
        codes = [
            token(url, "acme", "guess", **{"X-Forwarded-For": f"203.0.113.{i}"}).status_code
            for i in range(4)
        ]
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    assert codes == [401, 401, 401, 429]


def test_ipv6_addresses_count_per_56() -> None:
    """IPv6 failures count per /56 (a subscriber's block), so the addresses of one /56 share
    a counter while IPv4 and IPv4-mapped addresses count alone."""
    from tokensmith.server._ratelimit import _source

    assert _source("2001:db8:1:2::1") == _source("2001:db8:1:ff:aaaa::9") == "2001:db8:1::/56"
    assert _source("2001:db8:1:100::1") != _source("2001:db8:1:2::1")
    assert _source("::ffff:192.0.2.7") == "192.0.2.7"
