"""The OAuth 2.0 protocol core: values in, values out, no I/O."""

from ._errors import (
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    OAuthError,
    TemporarilyUnavailable,
    TokensmithError,
    UnauthorizedClient,
    UnsupportedGrantType,
    echo,
    error_body,
)
from ._form import parse_form
from ._jose import (
    ALGORITHMS,
    Algorithm,
    JoseFailure,
    PrivateKey,
    Signer,
    b64url,
    b64url_decode,
    generate_key,
    key_from_pem,
    key_id,
    key_to_pem,
    public_jwk,
    verify_jwt,
)
from ._response import ResponseStyle, TokenResponse
from ._scope import format_scope, parse_scope
from ._time import Clock, system_clock

__all__ = [
    "ALGORITHMS",
    "Algorithm",
    "Clock",
    "InvalidClient",
    "InvalidGrant",
    "InvalidRequest",
    "InvalidScope",
    "JoseFailure",
    "OAuthError",
    "PrivateKey",
    "ResponseStyle",
    "Signer",
    "TemporarilyUnavailable",
    "TokenResponse",
    "TokensmithError",
    "UnauthorizedClient",
    "UnsupportedGrantType",
    "b64url",
    "b64url_decode",
    "echo",
    "error_body",
    "format_scope",
    "generate_key",
    "key_from_pem",
    "key_id",
    "key_to_pem",
    "parse_form",
    "parse_scope",
    "public_jwk",
    "system_clock",
    "verify_jwt",
]
