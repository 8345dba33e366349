"""What the client, the protected API's check and the service share that does I/O.

``tokensmith.oauth`` is the protocol without I/O; this package sits on it and under
``client``, ``resource`` and ``server``: flows and the sync and async drivers that carry them
out over httpx (asyncio or trio, through anyio), single flight across threads and tasks, the
verifier of signed tokens with its fetched keys, the ASGI types, and OpenTelemetry tracing
(the only module that imports ``opentelemetry``, and only once tracing is switched on).

The drivers, single flight and the verifier are imported on first use: the client does not need
the verifier (joserfc), and the token service needs httpx and anyio only once it fetches the keys
of a client or a trusted issuer.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_getattr as _lazy_getattr
from ._asgi import ASGIApp, ASGIMessage, ASGIReceive, ASGIScope, ASGISend
from ._flow import (
    Call,
    Flow,
    HTTPRequest,
    HTTPResponse,
    Instruction,
    Join,
    Send,
    Sleep,
    TransportFailure,
    Wait,
    WouldDeadlock,
)

if TYPE_CHECKING:
    from ._clients import AsyncClients, current_loop
    from ._drive import run_async, run_sync, send_async, send_sync
    from ._flight import Flight, SingleFlight, loop_callback_queue
    from ._tracing import TraceSpan, Tracing, current_span, make_tracing
    from ._verifier import Claims, Introspection, Verifier, VerifierUnavailable, bound_key

__getattr__ = _lazy_getattr(
    __name__,
    {
        "AsyncClients": "._clients",
        "Claims": "._verifier",
        "Flight": "._flight",
        "Introspection": "._verifier",
        "SingleFlight": "._flight",
        "TraceSpan": "._tracing",
        "Tracing": "._tracing",
        "Verifier": "._verifier",
        "VerifierUnavailable": "._verifier",
        "bound_key": "._verifier",
        "current_loop": "._clients",
        "current_span": "._tracing",
        "loop_callback_queue": "._flight",
        "make_tracing": "._tracing",
        "run_async": "._drive",
        "run_sync": "._drive",
        "send_async": "._drive",
        "send_sync": "._drive",
    },
)

__all__ = [
    "ASGIApp",
    "ASGIMessage",
    "ASGIReceive",
    "ASGIScope",
    "ASGISend",
    "AsyncClients",
    "Call",
    "Claims",
    "Flight",
    "Flow",
    "HTTPRequest",
    "HTTPResponse",
    "Instruction",
    "Introspection",
    "Join",
    "Send",
    "SingleFlight",
    "Sleep",
    "TraceSpan",
    "Tracing",
    "TransportFailure",
    "Verifier",
    "VerifierUnavailable",
    "Wait",
    "WouldDeadlock",
    "bound_key",
    "current_loop",
    "current_span",
    "loop_callback_queue",
    "make_tracing",
    "run_async",
    "run_sync",
    "send_async",
    "send_sync",
]
