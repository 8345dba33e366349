"""A Starlette / FastAPI dependency: the one module that imports Starlette (the ``resource``
extra)."""

from __future__ import annotations

from collections.abc import Collection

try:
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError("RequireToken needs: pip install 'tokensmith[resource]'") from exc

from ..core import Claims, Verifier
from ..oauth import OAuthError
from ._asgi import check_request, error_response


class RequireToken:
    """Use as ``Depends(RequireToken(verifier, scopes=["read"]))`` in FastAPI, or call it with a
    Starlette request: returns the token's claims, or raises ``HTTPException`` 401/403/503 with
    the RFC 6750 ``WWW-Authenticate`` header."""

    def __init__(
        self, verifier: Verifier, *, scopes: Collection[str] = (), realm: str = "api"
    ) -> None:
        self.verifier = verifier
        self.scopes = tuple(scopes)
        self.realm = realm

    def __repr__(self) -> str:
        return f"RequireToken(scopes={self.scopes!r}, realm={self.realm!r})"

    async def __call__(self, request: Request) -> Claims:
        try:
            return await check_request(
                self.verifier, request.headers.get("authorization"), self.scopes
            )
        except OAuthError as err:
            status, headers, _ = error_response(self.realm, err)
            raise HTTPException(
                status, detail=err.description or "a bearer token is required", headers=headers
            ) from None
