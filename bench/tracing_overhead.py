"""What tracing adds to a token request, in-process: the application called directly (no network,
no HTTP parser) for client-credentials tokens, with tracing off and on.

Variants, alternated round by round, medians printed: tracing off; on with the API's no-op
provider (the ``[otel]`` extra without an SDK); on with the SDK and every span sampled, its batch
processor handing spans to an exporter that drops them; on with the SDK sampling 1 % of traces
(``parentbased_traceidratio``, the usual production setting). Needs ``opentelemetry-sdk``.

    python bench/tracing_overhead.py [--requests 2000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import NoOpTracerProvider

from tokensmith.server import Admin, Settings, TokensmithApp, open_master_key
from tokensmith.store import Database


class Dropping(SpanExporter):
    """Accepts every span and keeps none."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def sdk(ratio: float) -> TracerProvider:
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(ratio)))
    provider.add_span_processor(BatchSpanProcessor(Dropping()))
    return provider


async def setup(url: str) -> str:
    """Realm ``es256`` with client ``loadgen``; its secret."""
    db = Database(url)
    try:
        await db.migrate()
        settings = Settings(database_url=url)
        admin = Admin(db, await open_master_key(db, None, settings.key_file()))
        await admin.create_realm("es256")
        new = await admin.create_client("es256", "loadgen", scopes="api")
        assert new.secret is not None
        return new.secret
    finally:
        await db.close()


async def run(args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    url = f"sqlite:///{tmp / 'bench.db'}"
    secret = await setup(url)
    body = f"grant_type=client_credentials&client_id=loadgen&client_secret={secret}".encode()
    off, on = Settings(database_url=url), Settings(database_url=url, tracing=True)
    apps = {
        "tracing off": TokensmithApp(off),
        "on, no SDK (no-op)": TokensmithApp(on, tracer_provider=NoOpTracerProvider()),
        "on, SDK, 1 % sampled": TokensmithApp(on, tracer_provider=sdk(0.01)),
        "on, SDK, all sampled": TokensmithApp(on, tracer_provider=sdk(1.0)),
    }
    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": "/realms/es256/protocol/openid-connect/token",
        "query_string": b"",
        "scheme": "http",
        "server": ("127.0.0.1", 8080),
        "client": ("127.0.0.1", 50000),
        "headers": [
            (b"host", b"127.0.0.1:8080"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    statuses: set[int] = set()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.add(message["status"])

    async def requests(app: TokensmithApp, n: int) -> None:
        for _ in range(n):
            await app(scope, receive, send)

    for app in apps.values():
        await app.startup()
        await requests(app, 300)
    if statuses != {200}:
        raise SystemExit(f"unexpected statuses {statuses}")
    samples: dict[str, list[float]] = {name: [] for name in apps}
    try:
        for _ in range(args.rounds):
            for name, app in apps.items():
                start = time.perf_counter()
                await requests(app, args.requests)
                samples[name].append((time.perf_counter() - start) / args.requests * 1e6)
    finally:
        for app in apps.values():
            await app.shutdown()
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tokensmith-bench-"))
    try:
        medians = asyncio.run(run(args, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    base = medians["tracing off"]
    print(f"token request, application called directly, median of {args.rounds} rounds:")
    for name, median in medians.items():
        extra = (
            "" if name == "tracing off" else f"   +{median - base:6.1f} µs  {median / base:.2f}x"
        )
        print(f"  {name:<22} {median:7.1f} µs{extra}")


if __name__ == "__main__":
    main()
