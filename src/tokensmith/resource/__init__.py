"""Bearer-token checks for protected APIs (RFC 6750, RFC 9068, RFC 7662)."""

from typing import TYPE_CHECKING, Any

from ..core import Claims, Introspection, Verifier, VerifierUnavailable
from ..oauth import InsufficientScope, InvalidToken
from ._asgi import CLAIMS_KEY, BearerAuthMiddleware, check_request, error_response

if TYPE_CHECKING:
    from ._starlette import RequireToken

__all__ = [
    "CLAIMS_KEY",
    "BearerAuthMiddleware",
    "Claims",
    "InsufficientScope",
    "Introspection",
    "InvalidToken",
    "RequireToken",
    "Verifier",
    "VerifierUnavailable",
    "check_request",
    "error_response",
]


def __getattr__(name: str) -> Any:
    if name == "RequireToken":  # needs Starlette: imported on first use only
        from ._starlette import RequireToken

        return RequireToken
    raise AttributeError(name)
