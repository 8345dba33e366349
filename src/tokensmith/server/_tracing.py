"""The service's OpenTelemetry spans, when ``serve --tracing`` (``Settings.tracing``) is on.

:class:`~tokensmith.server.TokensmithApp` then wraps its token, introspection and revocation
handlers with :func:`traced` and authenticates clients with :class:`TracedClientAuthenticator`;
off, it uses neither, and no request pays for tracing. The spans follow the HTTP semantic
conventions (``POST /realms/{realm}/protocol/openid-connect/token``, kind SERVER), continue the
trace of an incoming ``traceparent``, and record the realm, the grant type, the client id once
the client has authenticated, the RFC 6749 §5.2 error code and the HTTP status. A client id
that did not authenticate is never recorded: it is whatever the request said, and a client that
swapped its id and secret would put its secret in the trace.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection

from ..core import ASGIMessage, ASGIReceive, ASGIScope, ASGISend, Tracing, current_span
from ..oauth import GRANT_TYPES, OAuthError
from ..store import Client, DatabaseUnavailable
from . import _routes as routes
from ._clientauth import ClientAuthenticator
from ._state import RealmState

Handler = Callable[[str, ASGIScope, ASGIReceive, ASGISend], Awaitable[None]]

MAX_REALM_LENGTH = 100
"""The realm name as a span records it, at most: a name from a request's path may not exist."""


def route(endpoint: routes.Endpoint, path: str) -> str:
    """The route template ``path`` matched (``http.route``): the endpoint's path under
    ``/realms/{realm}``, with the legacy ``/auth`` prefix if the path had it, or a realm's
    token-path alias itself (a fixed path an operator configured)."""
    for prefix in ("", routes.LEGACY_PREFIX):
        if path.startswith(prefix + routes.REALMS) and path.endswith(endpoint.path):
            return f"{prefix}{routes.REALMS}{{realm}}{endpoint.path}"
    return path


def traced(tracing: Tracing, endpoint: routes.Endpoint, handler: Handler) -> Handler:
    """``handler`` in a SERVER span per request; the span records the status answered, and an
    OAuth error's code (the error itself propagates to the application, which answers it)."""

    async def traced_handler(
        realm: str, scope: ASGIScope, receive: ASGIReceive, send: ASGISend
    ) -> None:
        path: str = scope["path"]
        template = route(endpoint, path)
        method: str = scope["method"]
        attributes: dict[str, str | int] = {
            "http.request.method": method,
            "http.route": template,
            "url.path": path,
            "url.scheme": scope.get("scheme", "http"),
            "tokensmith.realm": realm[:MAX_REALM_LENGTH],
        }
        with tracing.server_span(f"{method} {template}", scope["headers"], attributes) as span:

            async def recording_send(message: ASGIMessage) -> None:
                if message["type"] == "http.response.start":
                    span.http_status(message["status"])
                await send(message)

            try:
                await handler(realm, scope, receive, recording_send)
            except OAuthError as err:
                span.oauth_error(err.error)
                span.http_status(err.status_code)
                raise
            except DatabaseUnavailable:
                span.oauth_error("temporarily_unavailable")
                span.http_status(503)
                raise
            except Exception as exc:  # answered 500; the class says more than the status
                span.http_status(500)
                span.fail(type(exc).__name__)
                raise

    return traced_handler


class TracedClientAuthenticator(ClientAuthenticator):
    """Client authentication that records, on the request's span (which :func:`traced` made
    current), the grant type asked for and the id of the client once it has authenticated."""

    async def authenticate(
        self,
        state: RealmState,
        form: dict[str, str],
        authorization: str | None,
        *,
        audiences: Collection[str] = (),
    ) -> Client:
        """As :meth:`ClientAuthenticator.authenticate`, recording on the current span.

        Raises:
            the errors of :meth:`ClientAuthenticator.authenticate`.
        """
        span = current_span()
        grant_type = form.get("grant_type")
        if grant_type in GRANT_TYPES:  # any other is the request's text, recorded as its error
            span.set("tokensmith.grant_type", grant_type)
        client = await super().authenticate(state, form, authorization, audiences=audiences)
        span.set("tokensmith.client_id", client.client_id)
        return client
