"""Errors the client raises, beside the RFC 6749 §5.2 ones it shares with the service.

Where they stand in tokensmith's one error tree is drawn in ``tokensmith.oauth._errors``;
:class:`ConfigurationError` lives there too, because the service raises it as well.

No message carries a secret or a token: tokens are named by their fingerprint.
"""

from __future__ import annotations

from ..oauth import ConfigurationError, TokensmithError

__all__ = ["ConfigurationError", "InvalidTokenResponse", "TokenEndpointUnavailable"]


class TokenEndpointUnavailable(TokensmithError):
    """The token endpoint could not be reached, or kept answering 5xx or 429, after retries
    (after one try while a valid token is still held). ``status_code`` is the last answer's,
    ``retry_after`` the seconds to wait before the next try (``Retry-After``, or the backoff)."""

    def __init__(
        self, message: str, *, status_code: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retry_after = retry_after


class InvalidTokenResponse(TokensmithError):
    """The token endpoint answered 2xx with a body that holds no usable access token."""
