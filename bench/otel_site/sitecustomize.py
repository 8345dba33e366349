"""The OpenTelemetry SDK in every process of `serve` that ``token_load.py --tracing`` starts
(this directory goes first on their PYTHONPATH), as ``opentelemetry-instrument`` would set it up:
a tracer provider whose batch processor hands every span to an exporter that drops it. So the
benchmark measures making, recording and exporting the spans, without a collector."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult


class DroppingExporter(SpanExporter):
    """Accepts every span and keeps none."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


provider = TracerProvider()
provider.add_span_processor(BatchSpanProcessor(DroppingExporter()))
trace.set_tracer_provider(provider)
