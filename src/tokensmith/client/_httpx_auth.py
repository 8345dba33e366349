"""The ``httpx.Auth`` side of a token source: the bearer token on every request, and one resend
with a new token when the API answers 401 to a token that is still held."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from ._source import TokenSource


def bearer_flow(
    source: TokenSource, request: httpx.Request
) -> Generator[httpx.Request, httpx.Response, None]:
    """``httpx.Auth.sync_auth_flow`` for ``source``."""
    token = source.token()
    request.headers["Authorization"] = token.authorization
    response = yield request
    if response.status_code == 401 and source.retry_unauthorized:
        source.invalidate(token)
        fresh = source.token()
        if fresh.access_token != token.access_token:
            response.read()
            request.headers["Authorization"] = fresh.authorization
            yield request


async def async_bearer_flow(
    source: TokenSource, request: httpx.Request
) -> AsyncGenerator[httpx.Request, httpx.Response]:
    """``httpx.Auth.async_auth_flow`` for ``source``."""
    token = await source.atoken()
    request.headers["Authorization"] = token.authorization
    response = yield request
    if response.status_code == 401 and source.retry_unauthorized:
        source.invalidate(token)
        fresh = await source.atoken()
        if fresh.access_token != token.access_token:
            await response.aread()
            request.headers["Authorization"] = fresh.authorization
            yield request
