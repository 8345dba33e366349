"""tokensmith: OAuth 2.0 machine-to-machine authentication.

The client-side public names live here; the token service is ``tokensmith.server``.
"""

from .oauth import (
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    OAuthError,
    TokensmithError,
    UnauthorizedClient,
    UnsupportedGrantType,
)

__version__ = "0.1.0"

__all__ = [
    "InvalidClient",
    "InvalidGrant",
    "InvalidRequest",
    "InvalidScope",
    "OAuthError",
    "TokensmithError",
    "UnauthorizedClient",
    "UnsupportedGrantType",
    "__version__",
]
