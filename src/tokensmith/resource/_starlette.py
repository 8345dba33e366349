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
from ._asgi import check_request, error_response, request_url


class RequireToken:
    """Use as ``Depends(RequireToken(verifier, scopes=["read"]))`` in FastAPI, or call it with a
    Starlette request: returns the token's claims, or raises ``HTTPException`` 401/403/503 with
    the RFC 6750 ``WWW-Authenticate`` header."""

    def __init__(
        self,
        verifier: Verifier,
        *,
        scopes: Collection[str] = (),
        realm: str = "api",
        public_url: str | None = None,
    ) -> None:
        self.verifier = verifier
        self.scopes = tuple(scopes)
        self.realm = realm
        self.public_url = public_url
        """The API's base URL as clients call it, which DPoP proofs name (default: the
        request's)."""

    def __repr__(self) -> str:
        return f"RequireToken(scopes={self.scopes!r}, realm={self.realm!r})"

    async def __call__(self, request: Request) -> Claims:
        authorization = request.headers.get("authorization")
        try:
            return await check_request(
                self.verifier,
                authorization,
                self.scopes,
                dpop=request.headers.getlist("dpop"),
                method=request.method,
                url=request_url(request.scope, self.public_url),
            )
        except OAuthError as err:
            dpop = (authorization or "").lstrip().lower().startswith("dpop ")
            status, headers, _ = error_response(self.realm, err, dpop=dpop)
            raise HTTPException(
                status, detail=err.description or "a bearer token is required", headers=headers
            ) from None
