"""The ``httpx.Auth`` side of a token source: the access token on every request (with a DPoP
proof for a DPoP-bound token), one resend with the API's nonce when it asks for one (RFC 9449
§9), and one resend with a new token when the API answers 401 to a token that is still held."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from ._source import TokenSource
    from ._token import Token


def _authorize(source: TokenSource, request: httpx.Request, token: Token) -> None:
    request.headers["Authorization"] = token.authorization
    proof = source.dpop_proof(token, request.method, str(request.url))
    if proof is not None:
        request.headers["DPoP"] = proof


def bearer_flow(
    source: TokenSource, request: httpx.Request
) -> Generator[httpx.Request, httpx.Response, None]:
    """``httpx.Auth.sync_auth_flow`` for ``source``."""
    token = source.token()
    _authorize(source, request, token)
    response = yield request
    if source.dpop_nonce_asked(str(request.url), response.status_code, response.headers):
        response.read()
        _authorize(source, request, token)
        response = yield request
    if response.status_code == 401 and source.retry_unauthorized:
        source.invalidate(token)
        fresh = source.token()
        if fresh.access_token != token.access_token:
            response.read()
            _authorize(source, request, fresh)
            yield request


async def async_bearer_flow(
    source: TokenSource, request: httpx.Request
) -> AsyncGenerator[httpx.Request, httpx.Response]:
    """``httpx.Auth.async_auth_flow`` for ``source``."""
    token = await source.atoken()
    _authorize(source, request, token)
    response = yield request
    if source.dpop_nonce_asked(str(request.url), response.status_code, response.headers):
        await response.aread()
        _authorize(source, request, token)
        response = yield request
    if response.status_code == 401 and source.retry_unauthorized:
        source.invalidate(token)
        fresh = await source.atoken()
        if fresh.access_token != token.access_token:
            await response.aread()
            _authorize(source, request, fresh)
            yield request
