"""Added cost per API request with a cached token: tokensmith vs httpx-auth vs Authlib.

Two measurements, both with each library's token fetched once beforehand:

1. *auth layer*: exactly the per-request work each library adds, run on a prepared
   ``httpx.Request`` and a canned response: the ``sync_auth_flow`` of tokensmith's and
   httpx-auth's ``httpx.Auth``; for Authlib what ``OAuth2Client.request`` does
   (``ensure_active_token`` plus its ``OAuth2Auth`` flow). The baseline is httpx's no-op auth
   flow. Precise to a fraction of a microsecond.
2. *whole request*: the same GET through ``httpx.Client`` to an in-process transport (no
   network), for each library and for a client without auth. Noisier: httpx itself costs about a
   hundred times more than any auth layer.

With ``opentelemetry-sdk`` installed, each measurement adds tokensmith with ``tracing`` on (an
SDK tracer provider whose batch processor drops the spans), and a third one times a whole token
fetch (the renewal, through the in-process transport) with tracing off and on: the only work that
makes spans.

Rounds alternate between the variants; the script prints medians.

    python bench/client_overhead.py [--requests 20000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import statistics
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from tokensmith.client import TokenSource

TOKEN_URL = "https://auth.example/token"
API_URL = "https://api.example/v1/things"
TOKEN = json.dumps({"access_token": "a" * 400, "token_type": "Bearer", "expires_in": 3600}).encode()


def tracer_provider() -> object | None:
    """An SDK tracer provider that drops the spans it exports, or None without the SDK."""
    if importlib.util.find_spec("opentelemetry.sdk") is None:
        return None
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class Dropping(SpanExporter):
        def export(self, spans: object) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Dropping()))
    return provider


PROVIDER = tracer_provider()


def handler(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/token":
        return httpx.Response(200, content=TOKEN, headers={"content-type": "application/json"})
    return httpx.Response(200, content=b"{}")


def transport() -> httpx.MockTransport:
    return httpx.MockTransport(handler)


def our_source(*, tracing: object = False, margin: float | None = None) -> TokenSource:
    """A tokensmith source on the in-process transport; ``tracing``: False or a provider."""
    from tokensmith.client import TokenSource

    return TokenSource(
        TOKEN_URL,
        client_id="c",
        client_secret="s",
        margin=margin,
        http_client=httpx.Client(transport=transport()),
        tracing=tracing,  # type: ignore[arg-type]
    )


def variants() -> dict[str, Callable[[], httpx.Response]]:
    from authlib.integrations.httpx_client import OAuth2Client
    from httpx_auth import OAuth2ClientCredentials

    plain = httpx.Client(transport=transport())

    ours = httpx.Client(transport=transport(), auth=our_source())
    ours_traced = httpx.Client(transport=transport(), auth=our_source(tracing=PROVIDER or False))

    theirs = OAuth2ClientCredentials(
        TOKEN_URL, client_id="c", client_secret="s", client=httpx.Client(transport=transport())
    )
    httpx_auth_client = httpx.Client(transport=transport(), auth=theirs)

    authlib = OAuth2Client("c", "s", token_endpoint=TOKEN_URL, transport=transport())
    authlib.fetch_token(TOKEN_URL, grant_type="client_credentials")

    return {
        "no auth (baseline)": lambda: plain.get(API_URL),
        "tokensmith": lambda: ours.get(API_URL),
        **({"tokensmith, tracing": lambda: ours_traced.get(API_URL)} if PROVIDER else {}),
        "httpx-auth": lambda: httpx_auth_client.get(API_URL),
        "Authlib": lambda: authlib.get(API_URL),
    }


def auth_layers() -> dict[str, Callable[[], None]]:
    """One call each = the per-request work of one auth layer with a cached token."""
    from authlib.integrations.httpx_client import OAuth2Client
    from httpx_auth import OAuth2ClientCredentials

    request = httpx.Request("GET", API_URL)
    response = httpx.Response(200, content=b"{}", request=request)

    def flow_of(auth: httpx.Auth) -> Callable[[], None]:
        def run() -> None:
            flow = auth.sync_auth_flow(request)
            next(flow)
            with contextlib.suppress(StopIteration):
                flow.send(response)

        return run

    source = our_source()
    source.token()
    traced = our_source(tracing=PROVIDER or False)
    traced.token()
    theirs = OAuth2ClientCredentials(
        TOKEN_URL, client_id="c", client_secret="s", client=httpx.Client(transport=transport())
    )
    flow_of(theirs)()
    authlib = OAuth2Client("c", "s", token_endpoint=TOKEN_URL, transport=transport())
    authlib.fetch_token(TOKEN_URL, grant_type="client_credentials")
    authlib_flow = flow_of(authlib.token_auth)

    def authlib_request() -> None:
        authlib.ensure_active_token(authlib.token)
        authlib_flow()

    return {
        "no auth (baseline)": flow_of(httpx.Auth()),
        "tokensmith": flow_of(source),
        **({"tokensmith, tracing": flow_of(traced)} if PROVIDER else {}),
        "httpx-auth": flow_of(theirs),
        "Authlib": authlib_request,
    }


def fetches() -> dict[str, Callable[[], object]]:
    """One call each = one whole token fetch (every token is due at once: the margin is its
    lifetime), with tracing off and on."""
    off, on = our_source(margin=1e9), our_source(tracing=PROVIDER, margin=1e9)
    return {"no auth (baseline)": lambda: None, "tracing off": off.token, "tracing on": on.token}


def measure(calls: dict[str, Callable[[], object]], n: int, rounds: int) -> dict[str, float]:
    for call in calls.values():
        for _ in range(200):
            call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            for _ in range(n):
                call()
            samples[name].append((time.perf_counter() - start) / n * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


def report(title: str, medians: dict[str, float]) -> None:
    base = medians["no auth (baseline)"]
    print(title)
    for name, median in medians.items():
        added = "" if name.startswith("no auth") else f"   added {median - base:6.2f} µs"
        print(f"  {name:<20} {median:8.2f} µs{added}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    layers = measure(auth_layers(), args.requests * 5, args.rounds)  # type: ignore[arg-type]
    report(f"auth layer per request, median of {args.rounds} rounds:", layers)
    whole = measure(variants(), args.requests, args.rounds)
    report(f"whole request through httpx.Client, median of {args.rounds} rounds:", whole)
    if PROVIDER is not None:
        fetched = measure(fetches(), args.requests // 10, args.rounds)
        report(f"token fetch (renewal), median of {args.rounds} rounds:", fetched)
        print(f"  tracing on / off     {fetched['tracing on'] / fetched['tracing off']:8.2f}")


if __name__ == "__main__":
    main()
