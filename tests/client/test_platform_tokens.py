"""Platform tokens in place of a client secret: a file the platform replaces (Kubernetes
projected tokens), GitHub Actions' token URL (a local stand-in) and any callable, end to end
against the service over loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tokensmith import (
    ConfigurationError,
    FileToken,
    GitHubActionsToken,
    InvalidClient,
    TokenSource,
    platform_token,
)
from tokensmith.server import Federation, Trust

from ..conftest import Service
from ..federation_issuer import StandInIssuer

REQUEST_TOKEN = "actions-runtime-token-not-to-be-shown"
MAIN_ONLY = 'claims.repository == "acme/deploy" && claims.ref == "refs/heads/main"'


@pytest.fixture
def issuer() -> Iterator[StandInIssuer]:
    """A stand-in platform issuer (Kubernetes and GitHub shapes)."""
    with StandInIssuer("RS256").serving() as standin:
        yield standin


class ActionsTokenURL:
    """A stand-in of ``ACTIONS_ID_TOKEN_REQUEST_URL``: with the runtime bearer token, a fresh
    OIDC token from ``issuer`` for the ``audience`` asked, as ``{"count":…,"value":…}``."""

    def __init__(self, issuer: StandInIssuer, clock: Any) -> None:
        self.audiences: list[str] = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.headers.get("Authorization") != f"bearer {REQUEST_TOKEN}":
                    self.send_response(401)
                    self.end_headers()
                    return
                query = parse_qs(urlsplit(self.path).query)
                audience = query.get("audience", ["https://github.com/acme"])[0]
                standin.audiences.append(audience)
                token = issuer.mint("github-actions", audience=audience, now=clock())
                data = json.dumps({"count": len(token), "value": token}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        port = self.server.server_address[1]
        # As GitHub sets it: the URL already has a query string.
        self.url = f"http://127.0.0.1:{port}/_apis/distributedtask/token?api-version=2.0"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def trust(service: Service, issuer: str, profile: str, **match: str) -> None:
    """Realm r1 trusting ``issuer`` and a federated-only client ``workload`` matching it."""

    async def setup(admin: Any) -> None:
        await admin.create_realm("r1")
        await Trust(admin).add("r1", issuer, profile=profile)
        await admin.create_client("r1", "workload", federated_only=True)
        await Federation(admin).add("r1", "workload", issuer, **match)

    service.admin(setup)


def test_a_file_token_is_read_again_when_the_platform_replaces_it(tmp_path: Path) -> None:
    """Unchanged, the file is read once; replaced (as the kubelet does), the new token is read."""
    path = tmp_path / "token"
    path.write_text("first.token.value\n")
    source = FileToken(path)

    before = [source(), source()]
    replacement = tmp_path / "token.new"
    replacement.write_text("second.token.value-longer\n")
    replacement.replace(path)  # atomic, as the kubelet swaps its ..data symlink
    after = source()

    assert before == ["first.token.value", "first.token.value"]
    assert after == "second.token.value-longer"
    assert source.reads == 2


def test_a_missing_or_empty_token_file_is_a_configuration_error(tmp_path: Path) -> None:
    """The error names the file, not a token."""
    empty = tmp_path / "empty"
    empty.write_text("  \n")

    with pytest.raises(ConfigurationError, match="cannot read"):
        FileToken(tmp_path / "absent")()
    with pytest.raises(ConfigurationError, match="is empty"):
        FileToken(empty)()


def test_a_pod_source_gets_tokens_with_its_projected_token_and_follows_rotation(
    service: Service, issuer: StandInIssuer, tmp_path: Path
) -> None:
    """TokenSource with a file platform token and no secret gets a token; after the file is
    replaced with a token of a rotated key, a renewal uses the new one."""
    trust(service, issuer.url, "kubernetes", subject="system:serviceaccount:prod:deployer")
    url = service.token_url("r1")
    path = tmp_path / "tokensmith"
    path.write_text(issuer.mint("kubernetes", audience=url, now=service.clock()))
    source = TokenSource(url, platform_token=FileToken(path), clock=service.clock)

    with source:
        first = source.token()
        issuer.rotate()
        service.clock.advance(10)
        path.write_text(issuer.mint("kubernetes", audience=url, now=service.clock()))
        source.invalidate(first)
        second = source.token()

    assert first.access_token != second.access_token
    assert source.stats.fetches == 2


def test_a_github_actions_job_gets_tokens_with_a_fresh_oidc_token_each_time(
    service: Service, issuer: StandInIssuer
) -> None:
    """GitHubActionsToken asks the Actions token URL for the token endpoint's audience before
    each request; each GitHub token is single-use, and each request gets a new one."""
    trust(service, issuer.url, "github-actions", condition=MAIN_ONLY)
    url = service.token_url("r1")
    actions = ActionsTokenURL(issuer, service.clock)
    environ = {
        "ACTIONS_ID_TOKEN_REQUEST_URL": actions.url,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": REQUEST_TOKEN,
    }
    job = GitHubActionsToken(audience=url, environ=environ)
    try:
        with TokenSource(url, client_id="workload", platform_token=job) as source:
            first = source.token()
            source.invalidate(first)
            second = source.token()
    finally:
        actions.close()

    assert first.access_token != second.access_token
    assert actions.audiences == [url, url]
    assert REQUEST_TOKEN not in repr(job)
    assert REQUEST_TOKEN not in repr(source)


def test_outside_a_github_job_the_preset_says_what_is_missing() -> None:
    """Without the Actions variables, the error names them."""
    job = GitHubActionsToken(audience="https://auth.example.com", environ={})

    with pytest.raises(ConfigurationError, match="ACTIONS_ID_TOKEN_REQUEST_URL"):
        job()


def test_any_callable_is_a_platform_token(service: Service, issuer: StandInIssuer) -> None:
    """A plain function supplying the token works as well as a preset."""
    trust(service, issuer.url, "kubernetes", subject="system:serviceaccount:prod:deployer")
    url = service.token_url("r1")

    def supply() -> str:
        return issuer.mint("kubernetes", audience=url, now=service.clock())

    with TokenSource(url, platform_token=supply) as source:
        token = source.token()

    assert token.access_token


def test_the_presets_name_their_sources(tmp_path: Path) -> None:
    """kubernetes reads the conventional projected path; file: and spiffe: read the path given;
    anything else is refused."""
    kubernetes = platform_token("kubernetes")
    spiffe = platform_token(f"spiffe:{tmp_path}/svid")

    assert isinstance(kubernetes, FileToken)
    assert str(kubernetes.path) == "/var/run/secrets/tokens/tokensmith"
    assert isinstance(spiffe, FileToken)
    assert spiffe.assertion_type.endswith(":jwt-spiffe")
    assert isinstance(platform_token("github-actions", audience="a"), GitHubActionsToken)
    with pytest.raises(ConfigurationError):
        platform_token("vault")


def test_a_refused_platform_token_appears_in_no_error_or_log(
    service: Service, issuer: StandInIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    """A platform token for another audience is refused; neither the error nor any log line of
    the client or the service carries it."""
    trust(service, issuer.url, "kubernetes", subject="system:serviceaccount:prod:deployer")
    token = issuer.mint("kubernetes", audience="https://elsewhere.example", now=service.clock())
    caplog.set_level("DEBUG")

    source = TokenSource(service.token_url("r1"), platform_token=lambda: token)
    with source, pytest.raises(InvalidClient) as refused:
        source.token()

    assert token not in str(refused.value)
    assert token not in repr(source)
    assert token.split(".")[1] not in caplog.text
