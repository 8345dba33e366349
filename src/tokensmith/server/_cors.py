"""CORS for the realm's public documents (``Endpoint.public``: the JWKS and the metadata), so
that a verifier running in a browser can fetch them, as node oidc-provider and Keycloak allow.

Their answers carry ``Access-Control-Allow-Origin: *`` whatever the request's ``Origin``, so a
shared cache may keep one copy for every origin (no ``Vary: Origin``); "*" also rules out
credentials, which these documents never need. The token, introspection, revocation and
authorization endpoints answer no CORS at all and refuse the preflight (405): a browser is not
where a client secret belongs.
"""

from __future__ import annotations

from ..core import ASGISend as Send
from ._routes import Endpoint

ANY_ORIGIN = (b"access-control-allow-origin", b"*")
"""The header every answer of a public document carries."""
PREFLIGHT_MAX_AGE = 3600
"""Seconds a browser may reuse a preflight answer: node oidc-provider's figure (browsers cap it
at 2 hours, Chromium, or 24, Firefox)."""


async def preflight(send: Send, endpoint: Endpoint) -> None:
    """Answer ``OPTIONS`` at a public document: 204 allowing any origin the endpoint's methods
    with any request header (the documents read none that matters), for an hour. The realm is
    not looked up: the request that follows answers for it."""
    await send(
        {
            "type": "http.response.start",
            "status": 204,  # without Content-Length: RFC 9110 §8.6 forbids it on a 204
            "headers": [
                ANY_ORIGIN,
                (b"access-control-allow-methods", ", ".join(endpoint.methods).encode()),
                (b"access-control-allow-headers", b"*"),
                (b"access-control-max-age", str(PREFLIGHT_MAX_AGE).encode()),
                (b"allow", endpoint.allow),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})
