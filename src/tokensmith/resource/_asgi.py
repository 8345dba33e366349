"""Protecting an ASGI application: a plain ASGI middleware, and a Starlette/FastAPI dependency.

A request without a token gets 401 with ``WWW-Authenticate: Bearer realm="…"`` and no error
(RFC 6750 §3.1); a malformed, expired, forged or revoked token gets 401 with
``error="invalid_token"``; a valid token without a required scope gets 403 with
``error="insufficient_scope"`` and the ``scope`` needed. The claims reach the endpoint.
"""

from __future__ import annotations

from collections.abc import Collection

from ..core import ASGIApp, Claims, Verifier, VerifierUnavailable
from ..core import ASGIReceive as Receive
from ..core import ASGIScope as Scope
from ..core import ASGISend as Send
from ..oauth import (
    InvalidToken,
    OAuthError,
    TemporarilyUnavailable,
    bearer_token,
    error_body,
    require_scopes,
    www_authenticate,
)

CLAIMS_KEY = "tokensmith.claims"


async def check_request(
    verifier: Verifier, authorization: str | None, scopes: Collection[str]
) -> Claims:
    """The claims of the request's bearer token, with ``scopes`` required.

    Raises:
        InvalidToken: the token is missing (description empty), malformed or invalid.
        InsufficientScope: a required scope is missing.
        TemporarilyUnavailable: the issuer's keys cannot be had.
    """
    token = bearer_token(authorization)
    if token is None:
        raise InvalidToken()
    try:
        claims = await verifier.averify(token)
    except VerifierUnavailable as exc:
        raise TemporarilyUnavailable(str(exc)) from None
    require_scopes(claims, scopes)
    return claims


def error_response(realm: str, err: OAuthError) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and JSON body answering ``err`` the RFC 6750 way."""
    missing = isinstance(err, InvalidToken) and not err.description
    headers = {"content-type": "application/json", "cache-control": "no-store"}
    if err.status_code in (401, 403):
        headers["www-authenticate"] = www_authenticate(realm, None if missing else err)
    body = error_body(InvalidToken("a bearer token is required") if missing else err)
    return err.status_code, headers, body


class BearerAuthMiddleware:
    """ASGI middleware that lets through only requests with a valid bearer token.

    The claims are put in ``scope["state"]["claims"]`` (Starlette's ``request.state.claims``)
    and ``scope["tokensmith.claims"]``. Paths in ``public`` (exact, or prefixes ending in ``/``)
    are let through without a token.
    """

    def __init__(
        self,
        app: ASGIApp,
        verifier: Verifier,
        *,
        realm: str = "api",
        scopes: Collection[str] = (),
        public: Collection[str] = (),
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.realm = realm
        self.scopes = tuple(scopes)
        self.public = tuple(public)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
                break
        try:
            claims = await check_request(self.verifier, authorization, self.scopes)
        except OAuthError as err:
            status, headers, body = error_response(self.realm, err)
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [(k.encode(), v.encode()) for k, v in headers.items()]
                    + [(b"content-length", str(len(body)).encode())],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        scope.setdefault("state", {})["claims"] = claims
        scope[CLAIMS_KEY] = claims
        await self.app(scope, receive, send)

    def _is_public(self, path: str) -> bool:
        return any(path == p or (p.endswith("/") and path.startswith(p)) for p in self.public)
