"""OpenTelemetry traces: a span per token-endpoint request on the service, a span per token fetch
and per token request on the client, linked by ``traceparent``; nothing when tracing is off.

The service runs in-process under uvicorn on loopback; each test gives the service and the client
an SDK tracer provider of its own that keeps finished spans in memory."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from tokensmith.client import TokenSource
from tokensmith.core._tracing import public_url
from tokensmith.oauth import ConfigurationError, InvalidClient
from tokensmith.server import Settings, TokensmithApp
from tokensmith.server._tracing import route

from .conftest import ServerThread, eventually, make_settings, run_admin
from .serve_process import serving

TOKEN_ROUTE = "POST /realms/{realm}/protocol/openid-connect/token"


@dataclass
class Traced:
    """A service with tracing on, its client's credentials, and the spans both made."""

    url: str
    secret: str
    provider: TracerProvider
    exporter: InMemorySpanExporter

    @property
    def token_url(self) -> str:
        return f"{self.url}/realms/acme/protocol/openid-connect/token"

    def spans(self, count: int) -> list[ReadableSpan]:
        """The finished spans, once there are ``count`` (the service ends its span just after
        the answer has left)."""
        assert eventually(lambda: len(self.exporter.get_finished_spans()) >= count)
        return list(self.exporter.get_finished_spans())


def memory_provider() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def start_service(settings: Settings, provider: TracerProvider | None) -> ServerThread:
    run_admin(settings, lambda a: a.create_realm("acme"), migrate=False)
    return ServerThread(TokensmithApp(settings, tracer_provider=provider))


@pytest.fixture
def traced(migrated_sqlite_url: str) -> Iterator[Traced]:
    """The service with tracing on and client ``billing`` of realm ``acme``."""
    settings = make_settings(migrated_sqlite_url, tracing=True)
    provider, exporter = memory_provider()
    with start_service(settings, provider) as server:
        new = run_admin(settings, lambda a: a.create_client("acme", "billing"), migrate=False)
        assert new.secret is not None
        yield Traced(server.url, new.secret, provider, exporter)


def by_name(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    (found,) = [s for s in spans if s.name == name]
    return found


def chain(spans: list[ReadableSpan]) -> tuple[ReadableSpan, ReadableSpan, ReadableSpan]:
    """The client's fetch span, its request span and the service's span, after checking that
    each is the parent of the next, in one trace."""
    fetch, sent, served = (
        by_name(spans, "fetch token"),
        by_name(spans, "POST"),
        by_name(spans, TOKEN_ROUTE),
    )
    assert fetch.context is not None
    assert sent.context is not None
    assert served.context is not None
    assert sent.parent is not None
    assert sent.parent.span_id == fetch.context.span_id
    assert served.parent is not None
    assert served.parent.span_id == sent.context.span_id
    assert len({s.context.trace_id for s in (fetch, sent, served) if s.context}) == 1
    return fetch, sent, served


def recorded_text(spans: list[ReadableSpan]) -> str:
    """Every attribute and event value of every span, and every span and event name."""
    parts: list[str] = []
    for span in spans:
        parts.append(span.name)
        parts.extend(str(v) for v in (span.attributes or {}).values())
        for event in span.events:
            parts.append(event.name)
            parts.extend(str(v) for v in (event.attributes or {}).values())
    return "\n".join(parts)


def test_client_fetch_is_the_parent_of_the_server_span(traced: Traced) -> None:
    """A fetched token leaves a fetch span, its token request's CLIENT span and the service's
    SERVER span in one trace, each the parent of the next."""
    source = TokenSource(
        traced.token_url, client_id="billing", client_secret=traced.secret, tracing=traced.provider
    )

    with source:
        token = source.token()

    spans = traced.spans(3)
    fetch, sent, served = chain(spans)
    assert (fetch.kind, sent.kind, served.kind) == (
        SpanKind.INTERNAL,
        SpanKind.CLIENT,
        SpanKind.SERVER,
    )
    assert served.parent is not None
    assert served.parent.is_remote
    assert token.access_token not in recorded_text(spans)


def test_server_span_records_realm_grant_client_and_status(traced: Traced) -> None:
    """The service's span names the route template and records the realm, the grant type, the
    authenticated client id and the status, as the HTTP semantic conventions name them."""
    with TokenSource(traced.token_url, client_id="billing", client_secret=traced.secret) as source:
        source.token()

    served = by_name(traced.spans(1), TOKEN_ROUTE)

    assert dict(served.attributes or {}) == {
        "http.request.method": "POST",
        "http.route": "/realms/{realm}/protocol/openid-connect/token",
        "url.path": "/realms/acme/protocol/openid-connect/token",
        "url.scheme": "http",
        "tokensmith.realm": "acme",
        "tokensmith.grant_type": "client_credentials",
        "tokensmith.client_id": "billing",
        "http.response.status_code": 200,
    }
    assert served.status.status_code is StatusCode.UNSET
    assert served.parent is None  # no traceparent: the service starts the trace


def test_client_spans_record_grant_url_and_status(traced: Traced) -> None:
    """The client's fetch span records the grant and client id, its token request the URL and
    the status."""
    source = TokenSource(
        traced.token_url,
        client_id="billing",
        client_secret=traced.secret,
        tracing=traced.provider,
    )

    with source:
        source.token()

    spans = traced.spans(3)
    assert dict(by_name(spans, "fetch token").attributes or {}) == {
        "tokensmith.grant": "client_credentials",
        "tokensmith.client_id": "billing",
        "tokensmith.renewal": False,
    }
    sent = dict(by_name(spans, "POST").attributes or {})
    assert sent["url.full"] == traced.token_url
    assert sent["http.response.status_code"] == 200
    assert sent["tokensmith.grant_type"] == "client_credentials"
    assert sent["server.address"] == "127.0.0.1"


def test_a_recorded_url_holds_no_credentials() -> None:
    """``url.full`` drops user information, query and fragment, which may hold credentials."""
    assert public_url("https://user:pw@auth.example:8443/t?secret=1#f") == (
        "https://auth.example:8443/t"
    )
    assert public_url("http://[::1]/token") == "http://[::1]/token"


def test_failed_authentication_records_the_error_and_no_client_id(traced: Traced) -> None:
    """A wrong secret leaves spans with invalid_client and 401; the service's span does not
    name the client that failed to authenticate, and the client's spans are marked failed."""
    source = TokenSource(
        traced.token_url, client_id="billing", client_secret="wrong", tracing=traced.provider
    )

    with source, pytest.raises(InvalidClient):
        source.token()

    spans = traced.spans(3)
    served = dict(by_name(spans, TOKEN_ROUTE).attributes or {})
    assert served["tokensmith.oauth.error"] == "invalid_client"
    assert served["http.response.status_code"] == 401
    assert "tokensmith.client_id" not in served
    assert by_name(spans, TOKEN_ROUTE).status.status_code is StatusCode.UNSET  # a 4xx: not ours
    fetch, sent = by_name(spans, "fetch token"), by_name(spans, "POST")
    assert fetch.status.status_code is StatusCode.ERROR
    assert (fetch.attributes or {})["error.type"] == "invalid_client"
    assert sent.status.status_code is StatusCode.ERROR
    assert (sent.attributes or {})["error.type"] == "401"
    assert (sent.attributes or {})["tokensmith.oauth.error"] == "invalid_client"


def test_no_secret_or_token_reaches_a_span(traced: Traced) -> None:
    """Secrets (in Basic and in the body, and one sent as the client id) and tokens appear in
    no span name, attribute or event, on either side."""
    basic = TokenSource(
        traced.token_url,
        client_id="billing",
        client_secret=traced.secret,
        auth_method="client_secret_basic",
        tracing=traced.provider,
    )
    swapped = TokenSource(
        traced.token_url, client_id=traced.secret, client_secret="billing", tracing=traced.provider
    )

    with basic:
        token = basic.token()
    with swapped, pytest.raises(InvalidClient):
        swapped.token()
    introspected = httpx.post(
        f"{traced.token_url}/introspect",
        data={"token": token.access_token, "client_id": "billing", "client_secret": traced.secret},
    )

    assert introspected.json()["active"] is True
    text = recorded_text(traced.spans(7))
    pair = base64.b64encode(f"billing:{traced.secret}".encode()).decode()
    for value in (traced.secret, token.access_token, pair, token.access_token.split(".")[1]):
        assert value not in text


def test_introspection_and_revocation_have_spans(traced: Traced) -> None:
    """The introspection and revocation endpoints make a span each, named by their route."""
    credentials = {"client_id": "billing", "client_secret": traced.secret}

    httpx.post(f"{traced.token_url}/introspect", data={"token": "x", **credentials})
    httpx.post(
        f"{traced.url}/auth/realms/acme/protocol/openid-connect/revoke",
        data={"token": "x", **credentials},
    )

    spans = traced.spans(2)
    introspect = by_name(spans, TOKEN_ROUTE + "/introspect")
    revoke = by_name(spans, "POST /auth/realms/{realm}/protocol/openid-connect/revoke")
    assert (introspect.attributes or {})["tokensmith.client_id"] == "billing"
    assert (revoke.attributes or {})["http.response.status_code"] == 200


def test_an_incoming_traceparent_is_continued(traced: Traced) -> None:
    """A request carrying a W3C ``traceparent`` gets a span in that trace, child of the span it
    names."""
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"

    httpx.post(
        traced.token_url,
        data={"grant_type": "client_credentials"},
        auth=("billing", traced.secret),
        headers={"traceparent": f"00-{trace_id}-{parent_id}-01"},
    )

    served = by_name(traced.spans(1), TOKEN_ROUTE)
    assert served.context is not None
    assert served.parent is not None
    assert f"{served.context.trace_id:032x}" == trace_id
    assert f"{served.parent.span_id:016x}" == parent_id


def test_an_unknown_grant_type_is_not_recorded_as_sent(traced: Traced) -> None:
    """A ``grant_type`` the service does not offer is the request's text: the span records the
    error code, not the text."""
    httpx.post(traced.token_url, data={"grant_type": "x" * 500}, auth=("billing", traced.secret))

    served = dict(by_name(traced.spans(1), TOKEN_ROUTE).attributes or {})

    assert "tokensmith.grant_type" not in served
    assert served["tokensmith.oauth.error"] == "unsupported_grant_type"
    assert served["http.response.status_code"] == 400


async def test_async_fetch_is_traced_as_the_sync_one(traced: Traced) -> None:
    """``atoken`` leaves the same three spans, linked the same way."""
    source = TokenSource(
        traced.token_url, client_id="billing", client_secret=traced.secret, tracing=traced.provider
    )

    async with source:
        await source.atoken()

    chain(traced.spans(3))


def test_a_renewal_is_a_child_of_the_callers_span(traced: Traced) -> None:
    """A fetch made while the application's span is current is that span's child, and a
    renewal is marked as one."""
    tracer = traced.provider.get_tracer("app")
    source = TokenSource(
        traced.token_url, client_id="billing", client_secret=traced.secret, tracing=traced.provider
    )

    with source, tracer.start_as_current_span("job") as job:
        source.token()
        source.invalidate(source.token())
        source.token()

    fetches = [s for s in traced.spans(7) if s.name == "fetch token"]
    assert [(f.attributes or {})["tokensmith.renewal"] for f in fetches] == [False, True]
    assert all(f.parent is not None and f.parent.span_id == job.context.span_id for f in fetches)


def test_route_templates() -> None:
    """``http.route`` is the template of the path form used, or a realm's alias itself."""
    from tokensmith.server import _routes as routes

    assert route(routes.TOKEN, "/realms/a/protocol/openid-connect/token") == (
        "/realms/{realm}/protocol/openid-connect/token"
    )
    assert route(routes.TOKEN, "/auth/realms/a/protocol/openid-connect/token") == (
        "/auth/realms/{realm}/protocol/openid-connect/token"
    )
    assert route(routes.TOKEN, "/connect/token") == "/connect/token"
    assert route(routes.TOKEN, "/a/protocol/openid-connect/token") == (
        "/a/protocol/openid-connect/token"
    )


def test_nothing_is_recorded_when_tracing_is_off(migrated_sqlite_url: str) -> None:
    """With tracing off (the default) on both sides, a token request records no span, even
    with a tracer provider at hand."""
    settings = make_settings(migrated_sqlite_url)
    provider, exporter = memory_provider()

    with start_service(settings, provider) as server:
        new = run_admin(settings, lambda a: a.create_client("acme", "billing"), migrate=False)
        assert new.secret is not None
        url = f"{server.url}/realms/acme/protocol/openid-connect/token"
        with TokenSource(url, client_id="billing", client_secret=new.secret) as source:
            source.token()

    assert exporter.get_finished_spans() == ()


def test_off_imports_no_opentelemetry(tmp_path: Path) -> None:
    """With tracing off, building the service and a token source and fetching nothing imports
    no ``opentelemetry`` module at all (the extra may be missing)."""
    code = (
        "import sys, tokensmith, tokensmith.client, tokensmith.server\n"
        "from tokensmith.server import Settings, TokensmithApp\n"
        "TokensmithApp(Settings(database_url='sqlite:///unused.db'))\n"
        "tokensmith.client.TokenSource('http://x/token', client_id='a', client_secret='b')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('opentelemetry'))))\n"
    )

    out = subprocess.run(
        [sys.executable, "-c", "import json\n" + code],
        capture_output=True,
        text=True,
        check=True,
        cwd=str(tmp_path),
    )

    assert json.loads(out.stdout) == []


def test_tracing_without_the_extra_says_which_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Tracing asked for without ``opentelemetry-api`` is refused with the extra to install."""
    monkeypatch.setitem(sys.modules, "opentelemetry", None)

    with pytest.raises(ConfigurationError, match=r"tokensmith\[otel\]"):
        TokenSource("http://x/token", client_id="a", client_secret="b", tracing=True)
    with pytest.raises(ConfigurationError, match=r"tokensmith\[otel\]"):
        TokensmithApp(Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}", tracing=True))


def test_tracing_is_a_setting_from_the_environment() -> None:
    """``TOKENSMITH_TRACING`` switches tracing on, as ``serve --tracing`` does."""
    assert Settings.from_env({"TOKENSMITH_TRACING": "on"}).tracing is True
    assert Settings.from_env({}).tracing is False


EXPORTING_SITE = """
import os
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

out = open(os.environ["SPANS_FILE"], "a")
exporter = ConsoleSpanExporter(out=out, formatter=lambda s: s.to_json(indent=None) + "\\n")
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
"""
"""A ``sitecustomize`` that sets the SDK up in every process, as ``opentelemetry-instrument``
does, writing each span as a line of JSON to ``$SPANS_FILE``."""


def test_serve_workers_continue_the_clients_trace(
    tmp_path: Path, migrated_sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``serve --workers 2 --tracing`` under an SDK set up by the environment exports a span per
    token request, the child of the client's request span."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(EXPORTING_SITE)
    spans_file = tmp_path / "spans.jsonl"
    inherited = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), inherited])))
    monkeypatch.setenv("SPANS_FILE", str(spans_file))
    settings = make_settings(migrated_sqlite_url)
    run_admin(settings, lambda a: a.create_realm("acme"), migrate=False)
    new = run_admin(settings, lambda a: a.create_client("acme", "billing"), migrate=False)
    assert new.secret is not None
    provider, exporter = memory_provider()

    with serving(tmp_path, settings, "--workers", "2", "--tracing") as served:
        url = f"{served.url}/realms/acme/protocol/openid-connect/token"
        with TokenSource(url, client_id="billing", client_secret=new.secret, tracing=provider) as s:
            token = s.token()

        def exported() -> list[dict[str, Any]]:
            lines = spans_file.read_text().splitlines() if spans_file.exists() else []
            return [json.loads(line) for line in lines]

        assert eventually(lambda: any(s["name"] == TOKEN_ROUTE for s in exported()))
        output = served.output()

    (server_span,) = [s for s in exported() if s["name"] == TOKEN_ROUTE]
    (sent,) = [s for s in exporter.get_finished_spans() if s.name == "POST"]
    assert sent.context is not None
    assert server_span["parent_id"] == f"0x{sent.context.span_id:016x}"
    assert server_span["context"]["trace_id"] == f"0x{sent.context.trace_id:032x}"
    assert server_span["attributes"]["tokensmith.client_id"] == "billing"
    assert new.secret not in spans_file.read_text()
    assert token.access_token not in spans_file.read_text()
    assert "no OpenTelemetry SDK" not in output


def test_serve_tracing_without_an_sdk_says_spans_are_dropped(
    tmp_path: Path, migrated_sqlite_url: str
) -> None:
    """``serve --tracing`` in a process where no SDK is set up warns that its spans go
    nowhere, and serves as usual."""
    settings = make_settings(migrated_sqlite_url)

    with serving(tmp_path, settings, "--tracing") as served:
        output = served.output()

    assert "--tracing is on but no OpenTelemetry SDK is configured" in output
