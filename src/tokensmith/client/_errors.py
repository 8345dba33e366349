"""Errors the client raises, beside the RFC 6749 §5.2 ones it shares with the service.

The tree (the OAuth errors come from ``tokensmith.oauth``)::

    TokensmithError
    ├── OAuthError                      the token endpoint answered an RFC 6749 §5.2 error
    │   ├── InvalidRequest, InvalidClient, InvalidGrant, UnauthorizedClient,
    │   │   UnsupportedGrantType, InvalidScope, TemporarilyUnavailable
    ├── TokenEndpointUnavailable        network errors, 5xx or 429 after every retry
    ├── InvalidTokenResponse            a 2xx answer that holds no usable token
    └── ConfigurationError              the client was set up wrongly (missing secret, profile…)

No message carries a secret or a token: tokens are named by their fingerprint.
"""

from __future__ import annotations

from ..oauth import TokensmithError


class TokenEndpointUnavailable(TokensmithError):
    """The token endpoint could not be reached, or kept answering 5xx or 429, after retries."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class InvalidTokenResponse(TokensmithError):
    """The token endpoint answered 2xx with a body that holds no usable access token."""


class ConfigurationError(TokensmithError):
    """The client is configured wrongly: a missing secret, an unknown profile, a bad URL."""
