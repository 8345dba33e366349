"""Access tokens that renew themselves: for Truphone/1GLOBAL, GBG, Trulioo and any OAuth 2.0
server, sync and async, with httpx and requests.

Every name is imported on first use (PEP 562): ``import tokensmith.client`` costs nothing, and a
program pays for httpx when it makes its first source.
"""

from .._lazy import lazy_getattr as _lazy_getattr

# typing.TYPE_CHECKING's value without importing typing (~0.4 MB), which the supervisor of
# `serve --workers N` (a process that lives as long as the service) has no other use for.
TYPE_CHECKING = False

if TYPE_CHECKING:
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
    from ._platform import (
        FileToken,
        GitHubActionsToken,
        github_actions_token,
        kubernetes_token,
        platform_token,
        spiffe_token,
    )
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

__getattr__ = _lazy_getattr(
    __name__,
    {
        "ClientCredentials": "._grants",
        "ConfigurationError": "._errors",
        "CustomGrant": "._grants",
        "Dialect": "._dialect",
        "FileCache": "._cache",
        "FileToken": "._platform",
        "GitHubActionsToken": "._platform",
        "github_actions_token": "._platform",
        "kubernetes_token": "._platform",
        "platform_token": "._platform",
        "spiffe_token": "._platform",
        "Grant": "._grants",
        "IdAuth": "._grants",
        "InvalidClient": "..oauth",
        "InvalidGrant": "..oauth",
        "InvalidRequest": "..oauth",
        "InvalidScope": "..oauth",
        "InvalidTarget": "..oauth",
        "InvalidTokenResponse": "._errors",
        "OAuthError": "..oauth",
        "PASCAL": "._dialect",
        "RedisCache": "._cache",
        "RefreshToken": "._grants",
        "Retry": "._options",
        "STANDARD": "._dialect",
        "Secret": "._token",
        "SourceOptions": "._presets",
        "Stats": "._options",
        "TemporarilyUnavailable": "..oauth",
        "Token": "._token",
        "TokenCache": "._options",
        "TokenEndpointUnavailable": "._errors",
        "TokenExchange": "._grants",
        "TokenSource": "._source",
        "TokensmithError": "..oauth",
        "UnauthorizedClient": "..oauth",
        "UnsupportedGrantType": "..oauth",
        "default_margin": "._options",
        "fingerprint": "._token",
        "from_discovery": "._presets",
        "gbg": "._presets",
        "grant_named": "._profiles",
        "jwt_claims": "..oauth",
        "keycloak": "._presets",
        "load_profile": "._profiles",
        "one_global": "._presets",
        "parse_token_response": "._dialect",
        "secret_from_env": "._profiles",
        "source_from_profile": "._profiles",
        "trulioo": "._presets",
        "truphone": "._presets",
    },
)

__all__ = [
    "PASCAL",
    "STANDARD",
    "ClientCredentials",
    "ConfigurationError",
    "CustomGrant",
    "Dialect",
    "FileCache",
    "FileToken",
    "GitHubActionsToken",
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
    "github_actions_token",
    "grant_named",
    "jwt_claims",
    "keycloak",
    "kubernetes_token",
    "load_profile",
    "one_global",
    "parse_token_response",
    "platform_token",
    "secret_from_env",
    "source_from_profile",
    "spiffe_token",
    "trulioo",
    "truphone",
]
