"""Access tokens that renew themselves: for Truphone/1GLOBAL, GBG, Trulioo and any OAuth 2.0
server, sync and async, with httpx and requests."""

from ..oauth import (
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    InvalidTarget,
    OAuthError,
    TemporarilyUnavailable,
    TokensmithError,
    UnauthorizedClient,
    UnsupportedGrantType,
    jwt_claims,
)
from ._cache import FileCache, RedisCache
from ._dialect import PASCAL, STANDARD, Dialect, parse_token_response
from ._errors import ConfigurationError, InvalidTokenResponse, TokenEndpointUnavailable
from ._grants import (
    ClientCredentials,
    CustomGrant,
    Grant,
    IdAuth,
    RefreshToken,
    TokenExchange,
)
from ._options import Retry, Stats, TokenCache, default_margin
from ._presets import (
    SourceOptions,
    from_discovery,
    gbg,
    keycloak,
    one_global,
    trulioo,
    truphone,
)
from ._profiles import grant_named, load_profile, secret_from_env, source_from_profile
from ._source import TokenSource
from ._token import Secret, Token, fingerprint

__all__ = [
    "PASCAL",
    "STANDARD",
    "ClientCredentials",
    "ConfigurationError",
    "CustomGrant",
    "Dialect",
    "FileCache",
    "Grant",
    "IdAuth",
    "InvalidClient",
    "InvalidGrant",
    "InvalidRequest",
    "InvalidScope",
    "InvalidTarget",
    "InvalidTokenResponse",
    "OAuthError",
    "RedisCache",
    "RefreshToken",
    "Retry",
    "Secret",
    "SourceOptions",
    "Stats",
    "TemporarilyUnavailable",
    "Token",
    "TokenCache",
    "TokenEndpointUnavailable",
    "TokenExchange",
    "TokenSource",
    "TokensmithError",
    "UnauthorizedClient",
    "UnsupportedGrantType",
    "default_margin",
    "fingerprint",
    "from_discovery",
    "gbg",
    "grant_named",
    "jwt_claims",
    "keycloak",
    "load_profile",
    "one_global",
    "parse_token_response",
    "secret_from_env",
    "source_from_profile",
    "trulioo",
    "truphone",
]
