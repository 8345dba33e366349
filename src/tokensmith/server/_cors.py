"""CORS: for the realm's public documents (``Endpoint.public``: the JWKS and the metadata), so
that a verifier running in a browser can fetch them, as node oidc-provider and Keycloak allow;
and for the token endpoint, only for the origins its realm lists.

Public documents carry ``Access-Control-Allow-Origin: *`` whatever the request's ``Origin``, so a
shared cache may keep one copy for every origin (no ``Vary: Origin``); "*" also rules out
credentials, which these documents never need.

The token endpoint (its aliases too) answers CORS only to a page whose ``Origin`` is one its
realm lists (``tokensmith realm create --cors-origin``), as GBG's browser sample needs when the
page is served from another origin: that origin is echoed with ``Vary: Origin``, on every answer
errors included, so the page can read why it was refused; never "*" and never
``Access-Control-Allow-Credentials`` (a client authenticates with what it sends, not with
cookies). Any other origin, and every realm that lists none, gets no CORS header and a 405 to
the preflight, as do introspection, revocation and the authorization endpoint: a browser is no
place for a confidential client's secret, so a realm opts in for the clients it knows run there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core import ASGIMessage as Message
from ..core import ASGIScope as Scope
from ..core import ASGISend as Send
from ._routes import Endpoint

if TYPE_CHECKING:
    from ._state import Registry

ANY_ORIGIN = (b"access-control-allow-origin", b"*")
"""The header every answer of a public document carries."""
PREFLIGHT_MAX_AGE = 3600
"""Seconds a browser may reuse a preflight answer: node oidc-provider's figure (browsers cap it
at 2 hours, Chromium, or 24, Firefox)."""
_EXPOSE = (b"access-control-expose-headers", b"DPoP-Nonce")
"""A page may read the DPoP nonce of an answer (RFC 9449 §8), to send it with its next proof."""
TOKEN_REQUEST_HEADERS = b"authorization, content-type, dpop"
"""The request headers a page may send the token endpoint: ``Authorization`` (HTTP Basic),
``Content-Type`` (the form types need no preflight; a page sending another type then reads
our 400 rather than a CORS failure) and ``DPoP`` (RFC 9449)."""
_VARY_ORIGIN = (b"vary", b"Origin")


class Reply:
    """The ASGI ``send`` of a request that carries an ``Origin``: passes messages on, and once
    :meth:`allow` has been called, adds ``Access-Control-Allow-Origin: <that origin>`` and
    ``Vary: Origin`` to the answer, whichever answer (success or error) it turns out to be."""

    __slots__ = ("_send", "origin", "requested")

    def __init__(self, send: Send, requested: bytes) -> None:
        self._send = send
        self.requested = requested
        """The request's ``Origin``."""
        self.origin: bytes | None = None
        """The origin allowed to read the answer: None until :meth:`allow`."""

    def allow(self) -> None:
        """Let the page at the request's origin read this request's answer."""
        self.origin = self.requested

    async def __call__(self, message: Message) -> None:
        if self.origin is not None and message["type"] == "http.response.start":
            headers = [*message.get("headers", ()), (b"access-control-allow-origin", self.origin)]
            message = {**message, "headers": [*headers, _EXPOSE, _VARY_ORIGIN]}
        await self._send(message)


def reply_for(send: Send, scope: Scope) -> Send:
    """The ``send`` to answer the request with: a :class:`Reply` if the request names an
    ``Origin``; ``send`` itself otherwise, as no page awaits CORS headers then, so that the
    requests of servers and scripts skip the wrapper (1.1 µs a request on the dev VM; looking
    for the header costs 0.5 µs)."""
    for name, value in scope["headers"]:
        if name == b"origin":
            return Reply(send, bytes(value))
    return send


async def admit_token_origin(reply: Reply, registry: Registry, realm: str) -> None:
    """Let the request's page read the token endpoint's answer if realm ``realm`` lists its
    ``Origin`` (exactly: origins are stored as browsers send them)."""
    state = await registry.realm(realm)
    if state is not None and reply.requested.decode("latin-1") in state.realm.cors_origins:
        reply.allow()


async def preflight(send: Send, endpoint: Endpoint) -> bool:
    """Answer an ``OPTIONS`` preflight where CORS allows one; False, having sent nothing, where
    it does not (the caller answers 405)."""
    if endpoint.public:
        await _public_preflight(send, endpoint)
    elif isinstance(send, Reply) and send.origin is not None:  # the token endpoint, allowed
        await _token_preflight(send, endpoint)
    else:
        return False
    return True


async def _public_preflight(send: Send, endpoint: Endpoint) -> None:
    """Answer ``OPTIONS`` at a public document: 204 allowing any origin the endpoint's methods
    with any request header (the documents read none that matters), for an hour. The realm is
    not looked up: the request that follows answers for it."""
    await _no_content(
        send,
        [
            ANY_ORIGIN,
            (b"access-control-allow-methods", ", ".join(endpoint.methods).encode()),
            (b"access-control-allow-headers", b"*"),
            (b"access-control-max-age", str(PREFLIGHT_MAX_AGE).encode()),
            (b"allow", endpoint.allow),
        ],
    )


async def _token_preflight(reply: Reply, endpoint: Endpoint) -> None:
    """Answer ``OPTIONS`` at the token endpoint from an origin its realm lists (``reply`` adds
    that origin and ``Vary: Origin``): 204 allowing POST with ``Authorization`` and
    ``Content-Type``, for an hour."""
    await _no_content(
        reply,
        [
            (b"access-control-allow-methods", ", ".join(endpoint.methods).encode()),
            (b"access-control-allow-headers", TOKEN_REQUEST_HEADERS),
            (b"access-control-max-age", str(PREFLIGHT_MAX_AGE).encode()),
            (b"allow", endpoint.allow + b", OPTIONS"),
        ],
    )


async def _no_content(send: Send, headers: list[tuple[bytes, bytes]]) -> None:
    # Without Content-Length: RFC 9110 §8.6 forbids it on a 204.
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
