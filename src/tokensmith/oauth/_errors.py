"""Errors: the one tree of every error tokensmith raises, and the OAuth 2.0 ones that mirror the
protocol.

The tree (each class lives in the package that raises it, the root and the protocol's errors
here; ``tests/oauth/test_errors.py`` keeps this drawing complete)::

    TokensmithError                     root, never raised itself                         oauth
    ├── OAuthError                      an RFC 6749 §5.2 error answer                      oauth
    │   ├── InvalidRequest              400 invalid_request
    │   ├── InvalidClient               401 invalid_client
    │   ├── InvalidGrant                400 invalid_grant
    │   ├── UnauthorizedClient          400 unauthorized_client
    │   ├── UnsupportedGrantType        400 unsupported_grant_type
    │   ├── InvalidScope                400 invalid_scope
    │   ├── InvalidTarget               400 invalid_target           (RFC 8707 §2)
    │   ├── ServerError                 500 server_error             (RFC 6749 §4.1.2.1)
    │   ├── TemporarilyUnavailable      503 temporarily_unavailable
    │   ├── SlowDown                    429 slow_down                (RFC 8628 §3.5)
    │   ├── UnsupportedTokenType        400 unsupported_token_type   (RFC 7009 §2.2.1)
    │   ├── InvalidToken                401 invalid_token            (RFC 6750 §3.1)
    │   │   ├── UnknownKey              no key of the issuer may have signed it
    │   │   └── BadSignature            the signature does not verify
    │   ├── InsufficientScope           403 insufficient_scope       (RFC 6750 §3.1)
    │   ├── InvalidDPoPProof            400/401 invalid_dpop_proof   (RFC 9449 §5, §7.1)
    │   └── UseDPoPNonce                400/401 use_dpop_nonce       (RFC 9449 §8, §9)
    ├── MalformedJWT                    not a compact JWS; also a ValueError               oauth
    ├── ConfigurationError              set up wrongly (client or service); a ValueError   oauth
    ├── TokenEndpointUnavailable        no answer, 5xx or 429 after every retry            client
    ├── InvalidTokenResponse            a 2xx answer that holds no usable token            client
    ├── TransportFailure                a request got no answer (flows retry it)           core
    ├── WouldDeadlock                   a blocking wait for its own loop's task            core
    ├── VerifierUnavailable             the issuer's keys cannot be had                    core
    ├── NotFound                        no such realm, client, key or issuer               store
    ├── Conflict                        a name, client id or token path is taken           store
    ├── DatabaseError                   the database URL is unusable                       store
    │   ├── DatabaseUnavailable         the database cannot be reached                     store
    │   └── SchemaError                 no tokensmith schema, or not the newest            store
    ├── MasterKeyError                  the master key is malformed or does not fit        server
    ├── CannotListen                    serve cannot bind its address (taken, privileged…) server
    └── AdminError                      an administrative request is invalid; a ValueError server
        └── RealmNotEmpty               realm delete without --force; it has clients       server

Catching ``TokensmithError`` catches everything tokensmith raises on purpose. The errors that
check arguments also derive from ``ValueError``, as Python code expects of a bad argument.

No message built here or by callers may carry a secret or a token: descriptions name parameters and
checks, never their values.
"""

from __future__ import annotations

import json
from typing import ClassVar


class TokensmithError(Exception):
    """Root of every error tokensmith raises; never raised itself."""


class OAuthError(TokensmithError):
    """An error answer of RFC 6749 §5.2: an ``error`` code, a description and an HTTP status."""

    error: ClassVar[str] = "invalid_request"
    status_code: ClassVar[int] = 400

    def __init__(self, description: str = "", *, status_code: int | None = None) -> None:
        super().__init__(description or self.error)
        self.description = description
        if status_code is not None:
            self.status_code = status_code  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description!r})"


class InvalidRequest(OAuthError):
    """The request is missing a required parameter, includes an unsupported parameter value (other
    than grant type), repeats a parameter, includes multiple credentials, utilizes more than one
    mechanism for authenticating the client, or is otherwise malformed."""

    error = "invalid_request"


class InvalidClient(OAuthError):
    """Client authentication failed (e.g., unknown client, no client authentication included, or
    unsupported authentication method)."""

    error = "invalid_client"
    status_code = 401


class InvalidGrant(OAuthError):
    """The provided authorization grant (e.g., authorization code, resource owner credentials) or
    refresh token is invalid, expired, revoked, does not match the redirection URI used in the
    authorization request, or was issued to another client."""

    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    """The authenticated client is not authorized to use this authorization grant type."""

    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    """The authorization grant type is not supported by the authorization server."""

    error = "unsupported_grant_type"


class InvalidScope(OAuthError):
    """The requested scope is invalid, unknown, malformed, or exceeds the scope granted by the
    resource owner."""

    error = "invalid_scope"


class InvalidTarget(OAuthError):
    """The requested resource is invalid, missing, unknown, or malformed (RFC 8707 §2)."""

    error = "invalid_target"


class ServerError(OAuthError):
    """The authorization server encountered an unexpected condition that prevented it from
    fulfilling the request (RFC 6749 §4.1.2.1).

    A service answers it for its own faults, never for anything a caller sent.
    """

    error = "server_error"
    status_code = 500


class TemporarilyUnavailable(OAuthError):
    """The authorization server is currently unable to handle the request due to a temporary
    overloading or maintenance of the server (RFC 6749 §4.1.2.1)."""

    error = "temporarily_unavailable"
    status_code = 503


class SlowDown(OAuthError):
    """A variant of "authorization_pending", the authorization request is still pending and
    polling should continue, but the interval MUST be increased by 5 seconds for this and all
    subsequent requests (RFC 8628 §3.5).

    Registered for the token endpoint; tokensmith answers it with HTTP 429 (RFC 6585 §4) and
    ``Retry-After`` when a client or an address has failed authentication too often, or when
    another check of the same client's secret is still running. ``retry_after`` is in seconds.
    """

    error = "slow_down"
    status_code = 429

    def __init__(
        self, description: str = "", *, retry_after: int = 1, status_code: int | None = None
    ) -> None:
        super().__init__(description, status_code=status_code)
        self.retry_after = retry_after


def echo(text: str, limit: int = 60) -> str:
    """Caller input fit to quote in an error description: printable and at most ``limit``
    characters. Quote only names (parameters, realms, scopes), never a credential."""
    clean = "".join(c if c.isprintable() else "?" for c in text)
    return clean if len(clean) <= limit else clean[:limit] + "…"


class UnsupportedTokenType(OAuthError):
    """The authorization server does not support the revocation of the presented token type
    (RFC 7009 §2.2.1)."""

    error = "unsupported_token_type"


class InvalidToken(OAuthError):
    """The access token provided is expired, revoked, malformed, or invalid for other reasons
    (RFC 6750 §3.1)."""

    error = "invalid_token"
    status_code = 401


class InsufficientScope(OAuthError):
    """The request requires higher privileges than provided by the access token (RFC 6750 §3.1).

    ``scope`` names the scopes the resource needs.
    """

    error = "insufficient_scope"
    status_code = 403

    def __init__(self, description: str = "", *, scope: str = "") -> None:
        super().__init__(description)
        self.scope = scope


class ConfigurationError(TokensmithError, ValueError):
    """tokensmith is set up wrongly: a client without a secret or with an unknown profile, or a
    service setting (URL, rate limit, proxy, storage) that is malformed. The message names the
    setting, never a secret it holds."""


_BY_CODE: dict[str, type[OAuthError]] = {}


def error_from_response(status_code: int, body: object) -> OAuthError:
    """The error a token endpoint answered, from its status and parsed JSON body (RFC 6749 §5.2).

    An unknown ``error`` code gives a plain :class:`OAuthError` carrying that code.
    """
    if not _BY_CODE:
        for known in (
            InvalidRequest,
            InvalidClient,
            InvalidGrant,
            UnauthorizedClient,
            UnsupportedGrantType,
            InvalidScope,
            InvalidTarget,
            ServerError,
            TemporarilyUnavailable,
            SlowDown,
            UnsupportedTokenType,
            InvalidToken,
            InsufficientScope,
        ):
            _BY_CODE[known.error] = known
    code = body.get("error") if isinstance(body, dict) else None
    description = body.get("error_description") if isinstance(body, dict) else None
    text = echo(description, 300) if isinstance(description, str) else ""
    if not isinstance(code, str):
        err = OAuthError(
            text or f"the token endpoint answered HTTP {status_code}", status_code=status_code
        )
        return err
    cls = _BY_CODE.get(code)
    if cls is not None:
        return cls(text, status_code=status_code)
    err = OAuthError(text or code, status_code=status_code)
    err.error = echo(code, 60)  # type: ignore[misc]  # an extension code, kept as sent
    return err


def error_body(err: OAuthError) -> bytes:
    """Render ``err`` as the compact JSON body of RFC 6749 §5.2."""
    body: dict[str, str] = {"error": err.error}
    if err.description:
        body["error_description"] = err.description
    return json.dumps(body, separators=(",", ":")).encode()
