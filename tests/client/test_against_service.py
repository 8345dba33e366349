"""The client against tokensmith's own token service over loopback: presets, discovery, the CLI."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tokensmith.client import (
    ConfigurationError,
    CustomGrant,
    InvalidClient,
    InvalidGrant,
    TokenSource,
    UnsupportedGrantType,
    from_discovery,
    gbg,
    keycloak,
    trulioo,
    truphone,
)
from tokensmith.server import ensure_demo

from ..cli_run import CliRun, run_cli
from ..conftest import CHEAP_ARGON2, Service, run_admin
from .conftest import SENSITIVE, Answer, Clock, FakeOAuth, Seen

TRUPHONE_SECRET = "xxxxxx-xxxx-43f3-9fba-85686d72c1c0"


@pytest.fixture
def demo(sqlite_service: Service) -> Service:
    """The service with the demo realms of `serve --demo` (their chosen secrets hashed with
    cheap argon2 parameters: these tests are not about hashing)."""
    run_admin(sqlite_service.settings, ensure_demo, hasher=CHEAP_ARGON2)
    SENSITIVE.add(TRUPHONE_SECRET)
    return sqlite_service


def recording_client(grants: list[str]) -> httpx.Client:
    def record(request: httpx.Request) -> None:
        request.read()
        form = dict(x.split("=", 1) for x in request.content.decode().split("&"))
        grants.append(form["grant_type"])

    return httpx.Client(event_hooks={"request": [record]})


def test_truphone_preset_gets_then_refreshes(demo: Service, clock: Clock) -> None:
    """The Truphone preset gets a 5-minute token, then renews with the refresh token."""
    grants: list[str] = []
    http = recording_client(grants)
    source = truphone("truphone", TRUPHONE_SECRET, base_url=demo.url, clock=clock, http_client=http)

    first = source.token()
    clock.advance(250)
    second = source.token()
    http.close()

    assert first.lifetime == 300
    assert second.access_token != first.access_token
    assert grants == ["client_credentials", "refresh_token"]
    SENSITIVE.update({first.access_token, second.access_token})


def test_trulioo_preset_reads_the_pascal_answer(demo: Service) -> None:
    """The Trulioo preset posts to /connect/token and reads Token/ExpiresIn."""
    with trulioo("12345x2e0", "12345;", base_url=demo.url) as source:
        token = source.token()

    assert token.scope == "workflow.studio.api"
    assert token.lifetime == 3600


def test_keycloak_and_discovery(demo: Service) -> None:
    """keycloak() and from_discovery() find the realm's token endpoint."""
    with keycloak(demo.url, "tru-staff", "truphone", TRUPHONE_SECRET) as kc:
        a = kc.token()
    with from_discovery(f"{demo.url}/realms/gbg", "ro.client", "secret") as disc:
        b = disc.token()

    assert a.refresh_token is not None
    assert b.scope == "api api2"


def test_errors_of_the_real_service_map_to_classes(demo: Service) -> None:
    """A wrong secret is InvalidClient; an unsigned id_token is InvalidGrant saying so; an
    unknown grant is UnsupportedGrantType."""
    with (
        truphone("truphone", "wrong-secret", base_url=demo.url) as wrong,
        pytest.raises(InvalidClient),
    ):
        wrong.token()
    with (
        gbg(
            "external-id-token", client_id="ro.client", client_secret="secret", base_url=demo.url
        ) as source,
        pytest.raises(InvalidGrant) as info,
    ):
        source.token()
    with (
        TokenSource(
            demo.token_url("gbg"),
            client_id="ro.client",
            client_secret="secret",
            grant=CustomGrant("urn:example:unknown"),
        ) as custom,
        pytest.raises(UnsupportedGrantType),
    ):
        custom.token()

    assert "not a signed JWT" in str(info.value)


def tokensmith(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSMITH_")}
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "tokensmith", "token", *args],
        capture_output=True,
        text=True,
        env=full,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_cli_token_replaces_curl_and_sed(demo: Service, tmp_path: Path) -> None:
    """`tokensmith token` prints the bare token, a header, the JSON answer or the claims."""
    url = demo.token_url("tru-staff", "/auth")
    args = ["--token-url", url, "--client-id", "truphone", "--client-secret-env", "TS"]
    env = {"TS": TRUPHONE_SECRET}

    bare = tokensmith(*args, env=env)
    header = tokensmith(*args, "--header", env=env)
    answer = tokensmith(*args, "--json", env=env)
    claims = tokensmith(*args, "--decode", "--basic", env=env)

    assert bare.returncode == 0, bare.stderr
    assert bare.stdout.count(".") == 2
    assert header.stdout.startswith("Authorization: Bearer ey")
    assert json.loads(answer.stdout)["expires_in"] == 300
    assert json.loads(claims.stdout)["sub"] == "truphone"
    SENSITIVE.update({bare.stdout.strip(), json.loads(answer.stdout)["refresh_token"]})


def test_cli_token_profile_and_errors(demo: Service, tmp_path: Path) -> None:
    """A profile supplies the settings; missing secrets are one-line errors."""
    profiles = tmp_path / "profiles.toml"
    profiles.write_text(
        "[trulioo]\n"
        f'token_url = "{demo.url}/connect/token"\n'
        'client_id = "12345x2e0"\n'
        'client_secret_env = "TRULIOO_SECRET"\n'
        'scope = "workflow.studio.api"\n'
        'dialect = "pascal"\n'
    )
    env: dict[str, Any] = {"TOKENSMITH_PROFILES": str(profiles), "TRULIOO_SECRET": "12345;"}

    ok = tokensmith("--profile", "trulioo", "--decode", env=env)
    unknown = tokensmith("--profile", "nope", env=env)
    no_env = tokensmith("--profile", "trulioo", env={"TOKENSMITH_PROFILES": str(profiles)})
    no_tty = tokensmith("--token-url", demo.token_url("gbg"), "--client-id", "ro.client")

    assert json.loads(ok.stdout)["scope"] == "workflow.studio.api"
    for result, words in (
        (unknown, "profiles: trulioo"),
        (no_env, "TRULIOO_SECRET"),
        (no_tty, "--client-secret-env"),
    ):
        assert result.returncode == 1
        assert words in result.stderr
        assert "Traceback" not in result.stderr


def token_in_process(*args: str, stdin: str, env: dict[str, str] | None = None) -> CliRun:
    """`tokensmith token ARGS` run in this process with ``stdin`` as standard input (a pipe:
    not a terminal)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSMITH_")}
    full.update(env or {})
    return run_cli("token", *args, cwd=Path.cwd(), env=full, stdin=io.StringIO(stdin))


def test_cli_token_reads_the_secret_from_standard_input(demo: Service, tmp_path: Path) -> None:
    """--client-secret-stdin takes the secret's one line (LF or CRLF ended), also over a
    profile's unset variable; an empty or multi-line input is refused without quoting it, and
    the secret is never printed."""
    args = ["--token-url", demo.token_url("tru-staff"), "--client-id", "truphone"]
    profiles = tmp_path / "profiles.toml"
    profiles.write_text(
        f'[tru]\ntoken_url = "{demo.token_url("tru-staff")}"\nclient_id = "truphone"\n'
        'client_secret_env = "UNSET_TRUPHONE_SECRET"\n'
    )

    piped = token_in_process(*args, "--client-secret-stdin", stdin=TRUPHONE_SECRET + "\n")
    crlf = token_in_process(*args, "--client-secret-stdin", stdin=TRUPHONE_SECRET + "\r\n")
    bare = token_in_process(*args, "--client-secret-stdin", stdin=TRUPHONE_SECRET)
    over_profile = token_in_process(
        "--profile",
        "tru",
        "--client-secret-stdin",
        stdin=TRUPHONE_SECRET + "\n",
        env={"TOKENSMITH_PROFILES": str(profiles)},
    )
    empty = token_in_process(*args, "--client-secret-stdin", stdin="\n")
    two_lines = token_in_process(
        *args, "--client-secret-stdin", stdin=f"{TRUPHONE_SECRET}\n{TRUPHONE_SECRET}\n"
    )
    wrong = token_in_process(*args, "--client-secret-stdin", stdin=TRUPHONE_SECRET[::-1] + "\n")
    both = token_in_process(
        *args, "--client-secret-stdin", "--client-secret-env", "X", stdin=TRUPHONE_SECRET
    )

    for ok in (piped, crlf, bare, over_profile):
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.count(".") == 2
    assert (empty.returncode, empty.stderr) == (
        1,
        "error: --client-secret-stdin: standard input holds no client secret\n",
    )
    assert two_lines.returncode == 1
    assert "holds more than one line" in two_lines.stderr
    assert wrong.returncode == 1
    assert wrong.stderr == "error: unknown client or wrong client secret\n"
    assert both.returncode == 2
    assert "not allowed with argument" in both.stderr
    for run in (piped, crlf, bare, over_profile, empty, two_lines, wrong, both):
        assert TRUPHONE_SECRET not in run.stdout + run.stderr
        assert TRUPHONE_SECRET[::-1] not in run.stdout + run.stderr
        assert "Traceback" not in run.stderr


def test_from_discovery_uses_a_method_the_issuer_lists(make_fake: Any) -> None:
    """Against an issuer that lists only client_secret_basic and reads Basic credentials with
    Authlib's own decoder (plain percent-decoding), from_discovery sends Basic, and a secret
    with a space, ``+`` and ``%`` arrives intact."""
    from authlib.oauth2.rfc6749.util import extract_basic_authorization

    secret = "p a+s%s"
    SENSITIVE.add(secret)

    def authlib_like(f: FakeOAuth, seen: Seen) -> Answer:
        if seen.path.endswith("openid-configuration"):
            return Answer(
                body={
                    "issuer": f.url,
                    "token_endpoint": f.token_url,
                    "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                }
            )
        user, password = extract_basic_authorization(seen.headers)
        if (user, password) != ("svc", secret) or "client_secret" in seen.form:
            return Answer(401, {"error": "invalid_client"})
        return Answer(body=f.issue())

    fake = make_fake(authlib_like)

    with from_discovery(fake.url, "svc", secret) as source:
        token = source.access_token()

    assert token.startswith("tok-")


def test_from_discovery_refuses_an_issuer_that_takes_no_secret(make_fake: Any) -> None:
    """An issuer listing only private_key_jwt gets a clear ConfigurationError, not a 401."""
    fake = make_fake(
        lambda f, seen: Answer(
            body={
                "issuer": f.url,
                "token_endpoint": f.token_url,
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        )
    )

    with pytest.raises(ConfigurationError, match="private_key_jwt"):
        from_discovery(fake.url, "svc", "s3cret-value")
