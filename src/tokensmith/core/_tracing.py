"""OpenTelemetry traces of the token service and the client: the one module of ours that imports
``opentelemetry`` (the ``opentelemetry-api`` package of the ``[otel]`` extra).

Tracing is off unless switched on (``serve --tracing``, ``Settings(tracing=True)``,
``TokenSource(tracing=True)``). :func:`make_tracing` is called once, when the service or the
token source is built: off, it returns None and imports nothing, and the callers then run the
very code they run without this module (the service does not wrap its handlers, the client
makes no span), so that tracing costs nothing when it is off. On, it returns a :class:`Tracing`
whose spans go to the tracer provider given, or else to the application's global one
(``opentelemetry.trace.set_tracer_provider``, or ``opentelemetry-instrument`` with the SDK and
the ``OTEL_*`` variables); without a provider the API's spans are no-ops.

What a span records never holds a secret or a token: the callers pass names, client ids that
authenticated, error codes and status codes, and URLs without their user information or query.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ..oauth import ConfigurationError

if TYPE_CHECKING:
    from opentelemetry.trace import Span
    from opentelemetry.trace import TracerProvider as TracerProvider  # for our signatures

    from ._flow import HTTPRequest  # not at run time: the service traces no flow

INSTRUMENTATION = "tokensmith"
"""The instrumentation scope name of every span tokensmith makes."""

OTEL_EXTRA = "pip install 'tokensmith[otel]'"


def make_tracing(enabled: bool | TracerProvider) -> Tracing | None:
    """A :class:`Tracing` when ``enabled`` is True (the global tracer provider) or a tracer
    provider (that one); None when it is False, without importing ``opentelemetry``.

    Raises:
        ConfigurationError: tracing is asked for but ``opentelemetry-api`` is not installed.
    """
    if enabled is False:
        return None
    try:
        return Tracing(None if enabled is True else enabled)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "opentelemetry":
            raise
        raise ConfigurationError(
            f"tracing needs the OpenTelemetry API, which this install lacks: {OTEL_EXTRA}"
        ) from None


def provider_configured() -> bool:
    """Whether the application has set a global tracer provider (the SDK's, say), so that spans
    go somewhere; False without one, or without ``opentelemetry-api``."""
    try:
        from opentelemetry import trace
    except ModuleNotFoundError:
        return False
    provider = trace.get_tracer_provider()
    return not isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider)


def current_span() -> TraceSpan:
    """The current span, whichever tracer made it (a non-recording one outside any span).

    Raises:
        ModuleNotFoundError: ``opentelemetry-api`` is not installed (call it only while tracing
            is on).
    """
    from opentelemetry import trace

    return TraceSpan(trace.get_current_span(), client=False)


class TraceSpan:
    """A started span, recording what tokensmith tells it: attributes, an HTTP status, an error.

    Thin on purpose: the callers never touch the OpenTelemetry API, and this wrapper exists only
    while tracing is on."""

    __slots__ = ("_span", "_status_error")

    def __init__(self, span: Span, *, client: bool) -> None:
        self._span = span
        # HTTP semantic conventions: a 4xx is the client's error, so it marks a client span
        # failed, but not a server span, whose server did its job.
        self._status_error = 400 if client else 500

    def set(self, key: str, value: str | int | bool) -> None:
        """Record attribute ``key``."""
        self._span.set_attribute(key, value)

    def http_status(self, status: int) -> None:
        """Record the response's HTTP status; a failed one also marks the span failed, with the
        status as ``error.type`` (HTTP semantic conventions)."""
        self._span.set_attribute("http.response.status_code", status)
        if status >= self._status_error:
            self.fail(str(status))

    def fail(self, error_type: str, oauth_error: str | None = None) -> None:
        """Mark the span failed: ``error.type`` and status ERROR, and the RFC 6749 §5.2 code as
        ``tokensmith.oauth.error`` when there is one. No exception message is recorded: a
        server may echo what it was sent in its description."""
        from opentelemetry.trace import StatusCode

        self._span.set_attribute("error.type", error_type)
        if oauth_error is not None:
            self._span.set_attribute("tokensmith.oauth.error", oauth_error)
        self._span.set_status(StatusCode.ERROR)

    def oauth_error(self, code: str) -> None:
        """Record the RFC 6749 §5.2 error code an answer carried, without marking the span
        failed (the HTTP status decides that)."""
        self._span.set_attribute("tokensmith.oauth.error", code)

    def end(self) -> None:
        """End the span."""
        self._span.end()


class Tracing:
    """Makes tokensmith's spans through one tracer; exists only while tracing is on.

    Raises:
        ModuleNotFoundError: ``opentelemetry-api`` is not installed.
    """

    def __init__(self, provider: TracerProvider | None) -> None:
        from opentelemetry import context, propagate, trace

        self._context = context
        self._trace = trace
        self._propagate = propagate
        self._tracer = trace.get_tracer(INSTRUMENTATION, tracer_provider=provider)

    # --- the service ---------------------------------------------------------------------------

    @contextmanager
    def server_span(
        self,
        name: str,
        headers: Iterable[tuple[bytes, bytes]],
        attributes: Mapping[str, str | int],
    ) -> Iterator[TraceSpan]:
        """A SERVER span named ``name``, current while the block runs, continuing the trace of
        the request's ``traceparent`` header (W3C Trace Context, or what the global propagator
        reads). Exceptions pass through unrecorded: the caller records what it answered."""
        carrier = {key.decode("latin-1"): value.decode("latin-1") for key, value in headers}
        parent = self._propagate.extract(carrier)
        # start_span and attach rather than start_as_current_span: the same, without its two
        # nested generator-based context managers on every request.
        span = self._tracer.start_span(
            name,
            context=parent,
            kind=self._trace.SpanKind.SERVER,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        )
        token = self._context.attach(self._trace.set_span_in_context(span, parent))
        try:
            yield TraceSpan(span, client=False)
        finally:
            self._context.detach(token)
            span.end()

    # --- the client ----------------------------------------------------------------------------

    def start(self, name: str, attributes: Mapping[str, str | int | bool]) -> TraceSpan:
        """Start an INTERNAL span, a child of the caller's current span, without making it
        current: a flow keeps it across its steps and ends it with :meth:`TraceSpan.end`."""
        span = self._tracer.start_span(
            name, attributes=dict(attributes), record_exception=False, set_status_on_exception=False
        )
        return TraceSpan(span, client=True)

    def send(
        self, parent: TraceSpan, request: HTTPRequest, attributes: Mapping[str, str | int]
    ) -> tuple[TraceSpan, HTTPRequest]:
        """Start a CLIENT span for sending ``request``, a child of ``parent``; returns it and the
        request with the span's ``traceparent`` header, so that the server's span is its child."""
        url = urlsplit(request.url)
        context = self._trace.set_span_in_context(parent._span)
        span = self._tracer.start_span(
            request.method,  # HTTP client span name: the method when there is no URL template
            context=context,
            kind=self._trace.SpanKind.CLIENT,
            attributes={
                "http.request.method": request.method,
                "url.full": public_url(request.url),
                "server.address": url.hostname or "",
                "server.port": url.port or (443 if url.scheme == "https" else 80),
                **attributes,
            },
            record_exception=False,
            set_status_on_exception=False,
        )
        headers: dict[str, Any] = dict(request.headers)
        self._propagate.inject(headers, context=self._trace.set_span_in_context(span))
        traced = dataclasses.replace(request, headers=headers)
        return TraceSpan(span, client=True), traced


def public_url(url: str) -> str:
    """``url`` without user information, query or fragment, which may hold credentials."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
