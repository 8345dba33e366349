"""Protecting an ASGI application: a plain ASGI middleware, and a Starlette/FastAPI dependency.

A request without a token gets 401 with ``WWW-Authenticate: Bearer realm="…"`` and no error
(RFC 6750 §3.1); a malformed, expired, forged or revoked token gets 401 with
``error="invalid_token"``; a valid token without a required scope gets 403 with
``error="insufficient_scope"`` and the ``scope`` needed. The claims reach the endpoint.

DPoP (RFC 9449 §7): a DPoP-bound token (``cnf.jkt``) is accepted only as ``Authorization: DPoP
<token>`` with a ``DPoP`` proof for this request made by the key it is bound to; sent as Bearer it
is refused. Refusals of a DPoP request answer with a ``DPoP`` challenge (``error`` and the
accepted ``algs``), and ``use_dpop_nonce`` with a ``DPoP-Nonce`` when the verifier asks for nonces.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from ..core import ASGIApp, Claims, Verifier, VerifierUnavailable, bound_key
from ..core import ASGIReceive as Receive
from ..core import ASGIScope as Scope
from ..core import ASGISend as Send
from ..oauth import (
    DPOP_ALGORITHMS,
    InvalidDPoPProof,
    InvalidToken,
    OAuthError,
    TemporarilyUnavailable,
    UseDPoPNonce,
    error_body,
    presented_token,
    require_scopes,
    www_authenticate,
)

CLAIMS_KEY = "tokensmith.claims"


async def check_request(
    verifier: Verifier,
    authorization: str | None,
    scopes: Collection[str],
    *,
    dpop: Sequence[str] = (),
    method: str = "GET",
    url: str = "",
) -> Claims:
    """The claims of the request's access token, with ``scopes`` required. ``dpop`` holds the
    request's DPoP headers, ``method`` and ``url`` what its proof must name.

    Raises:
        InvalidToken: the token is missing (description empty), malformed or invalid, or
            DPoP-bound and sent as Bearer.
        InvalidDPoPProof: the token is DPoP-bound and its proof is missing or refused (401).
        UseDPoPNonce: the verifier asks for nonces and the proof has none of its (401).
        InsufficientScope: a required scope is missing.
        TemporarilyUnavailable: the issuer's keys cannot be had.
    """
    presented = presented_token(authorization)
    if presented is None:
        raise InvalidToken()
    scheme, token = presented
    try:
        claims = await verifier.averify(token)
    except VerifierUnavailable as exc:
        raise TemporarilyUnavailable(str(exc)) from None
    if scheme == "dpop":
        verifier.check_dpop(claims, token, dpop, method=method, url=url)
    elif bound_key(claims) is not None:
        raise InvalidToken(
            "the token is DPoP-bound: send it as 'DPoP <token>' with a DPoP proof (RFC 9449)"
        )
    require_scopes(claims, scopes)
    return claims


def error_response(
    realm: str, err: OAuthError, *, dpop: bool = False
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and JSON body answering ``err`` the RFC 6750 way, or, for a request
    made with DPoP (``dpop``) or a refused proof, RFC 9449 §7.1's ``DPoP`` challenge."""
    missing = isinstance(err, InvalidToken) and not err.description
    headers = {"content-type": "application/json", "cache-control": "no-store"}
    if err.status_code in (401, 403):
        if dpop or isinstance(err, InvalidDPoPProof | UseDPoPNonce):
            headers["www-authenticate"] = (
                f'DPoP algs="{" ".join(DPOP_ALGORITHMS)}", error="{err.error}"'
            )
        else:
            headers["www-authenticate"] = www_authenticate(realm, None if missing else err)
    if isinstance(err, UseDPoPNonce):
        headers["dpop-nonce"] = err.nonce
    body = error_body(InvalidToken("a bearer token is required") if missing else err)
    return err.status_code, headers, body


def request_url(scope: Scope, public_url: str | None) -> str:
    """The URL a request was sent to, as its DPoP proof names it: ``public_url`` (the API's
    base URL as clients see it, behind a proxy) or the request's scheme and Host, then the
    path."""
    path = str(scope["path"])
    if public_url is not None:
        return public_url.rstrip("/") + path
    host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
    return f"{scope.get('scheme', 'http')}://{host}{path}"


class BearerAuthMiddleware:
    """ASGI middleware that lets through only requests with a valid bearer token.

    The claims are put in ``scope["state"]["claims"]`` (Starlette's ``request.state.claims``)
    and ``scope["tokensmith.claims"]``. Paths in ``public`` (exact, or prefixes ending in ``/``)
    are let through without a token. ``public_url`` is the API's base URL as clients call it
    (behind a proxy), which DPoP proofs name; by default, the request's scheme and Host.
    """

    def __init__(
        self,
        app: ASGIApp,
        verifier: Verifier,
        *,
        realm: str = "api",
        scopes: Collection[str] = (),
        public: Collection[str] = (),
        public_url: str | None = None,
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.realm = realm
        self.scopes = tuple(scopes)
        self.public = tuple(public)
        self.public_url = public_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        authorization = None
        proofs: list[str] = []
        for name, value in scope["headers"]:
            if name == b"authorization" and authorization is None:
                authorization = value.decode("latin-1")
            elif name == b"dpop":
                proofs.append(value.decode("latin-1"))
        try:
            claims = await check_request(
                self.verifier,
                authorization,
                self.scopes,
                dpop=proofs,
                method=scope["method"],
                url=request_url(scope, self.public_url),
            )
        except OAuthError as err:
            dpop = (authorization or "").lstrip().lower().startswith("dpop ")
            status, headers, body = error_response(self.realm, err, dpop=dpop)
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
