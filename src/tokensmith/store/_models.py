"""Rows as frozen values. Nothing here holds a secret in clear: secrets and refresh tokens are
digests, private keys are encrypted."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..oauth import ResponseStyle

REALM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""What a realm name may be; anything else names no realm and is never looked up."""

CLIENT_ID = re.compile(r"[A-Za-z0-9._~@+-]{1,255}")
"""What a client id may be: no '%' and no space, so that of the two readings of an HTTP Basic
user (form-decoded and as sent) at most one can name a client."""

DEFAULT_REFRESH_REUSE_GRACE = 30
"""Seconds a just-rotated refresh token may be presented again when a realm does not say."""

DEFAULT_MAX_ASSERTION_LIFETIME = 3600
"""Seconds a private_key_jwt assertion may live at most when a realm does not say: an hour, the
lifetime Authlib's ``PrivateKeyJWT`` gives its assertions by default."""


@dataclass(frozen=True)
class Realm:
    """A tenant: its own issuer, keys, clients and token lifetimes."""

    id: int
    name: str
    access_token_ttl: int
    refresh_token_ttl: int
    alg: str
    response_style: str
    audience: str | None
    version: int
    created_at: int
    token_paths: tuple[str, ...] = ()
    refresh_reuse_grace: int | None = None
    client_auth_limit: str | None = None
    address_auth_limit: str | None = None
    max_assertion_lifetime: int | None = None
    cors_origins: tuple[str, ...] = ()
    """Exact origins (``https://app.example.com``) whose pages may call the token endpoint."""
    dpop_required: bool = False
    """Every access token of the realm must be DPoP-bound (RFC 9449)."""
    dpop_nonce: bool = False
    """DPoP proofs at the token endpoint must carry the service's nonce (RFC 9449 §8)."""

    @property
    def reuse_grace(self) -> int:
        """The refresh-token reuse grace period in effect: the realm's or the default."""
        if self.refresh_reuse_grace is None:
            return DEFAULT_REFRESH_REUSE_GRACE
        return self.refresh_reuse_grace

    @property
    def assertion_lifetime(self) -> int:
        """The longest client assertion lifetime in effect: the realm's or the default."""
        if self.max_assertion_lifetime is None:
            return DEFAULT_MAX_ASSERTION_LIFETIME
        return self.max_assertion_lifetime


@dataclass(frozen=True)
class StoredSecret:
    """A client secret, as a digest; ``expires_at`` is set while it is being rotated out."""

    id: int
    digest: str = field(repr=False)
    created_at: int
    expires_at: int | None

    def active(self, now: float) -> bool:
        """Whether the secret is still accepted at ``now``."""
        return self.expires_at is None or now < self.expires_at


@dataclass(frozen=True)
class Client:
    """A machine client of a realm."""

    id: int
    realm_id: int
    client_id: str
    enabled: bool
    scopes: frozenset[str]
    default_scopes: frozenset[str]
    refresh_tokens: bool
    access_token_ttl: int | None
    response_style: str | None
    created_at: int
    secrets: tuple[StoredSecret, ...] = ()
    grant_types: frozenset[str] = frozenset()
    audience: str | None = None
    extra_claims: str | None = None
    jwks: str | None = None
    jwks_url: str | None = None
    resources: frozenset[str] = frozenset()
    """RFC 8707 resource indicators the client may name (absolute URIs)."""
    dpop_required: bool = False
    """The client's access tokens must be DPoP-bound (RFC 9449 §5.2)."""
    last_used_at: int | None = None
    """When the client last got a token (seconds; written at most a minute late), or None."""

    @cached_property
    def static_claims(self) -> dict[str, Any]:
        """``extra_claims`` parsed, once per loaded client rather than once per token."""
        claims: dict[str, Any] = json.loads(self.extra_claims) if self.extra_claims else {}
        return claims

    @cached_property
    def style(self) -> ResponseStyle | None:
        """The client's own response style, parsed once; None: the realm's."""
        return ResponseStyle(self.response_style) if self.response_style else None


@dataclass(frozen=True)
class TrustedIssuer:
    """An external token issuer a realm accepts tokens from (id_auth, token exchange,
    jwt-bearer)."""

    id: int
    realm_id: int
    issuer: str
    jwks_url: str | None
    jwks: str | None
    audiences: frozenset[str]
    algorithms: tuple[str, ...]
    max_age: int
    claims: tuple[str, ...]
    created_at: int
    private_key: bytes | None = field(default=None, repr=False)
    profile: str = "oidc"
    """The platform whose quirks apply (``server/_profiles.py``)."""
    client_audience: str | None = None
    """The ``aud`` its tokens must name to authenticate a client; None: this service's URLs."""
    ca_file: str | None = None
    """A PEM CA bundle to fetch its keys with (a Kubernetes cluster's CA)."""


@dataclass(frozen=True)
class FederatedCredential:
    """A way for a client to authenticate with a trusted issuer's token (workload identity
    federation): its ``sub`` is ``subject``, or its claims make the CEL ``condition`` true."""

    id: int
    client_pk: int
    client_id: str
    issuer_id: int
    issuer: str
    name: str
    subject: str | None
    condition: str | None
    created_at: int


@dataclass(frozen=True)
class SigningKeyRecord:
    """A realm signing key; ``private_key`` is encrypted with the master key."""

    kid: str
    realm_id: int
    alg: str
    state: str
    private_key: bytes = field(repr=False)
    public_jwk: str
    created_at: int
    stopped_at: int | None = None


@dataclass(frozen=True)
class RefreshTokenRecord:
    """A refresh token, known by the SHA-256 digest of its value."""

    digest: str = field(repr=False)
    family: str
    realm_id: int
    client_pk: int
    scope: str
    issued_at: int
    expires_at: int
    used_at: int | None
    revoked: bool
    parent: str | None = field(default=None, repr=False)
    resources: str = ""
    """The RFC 8707 resources the token was issued for, space-separated; empty for none."""


@dataclass(frozen=True)
class AdminEventRecord:
    """A change made to a realm (Keycloak's admin event): when (milliseconds), what, and who
    made it. ``details`` is a JSON object that never holds a secret."""

    id: int
    time: int
    realm: str
    operation: str
    resource_type: str
    resource_path: str
    via: str
    actor: str | None
    address: str | None
    details: str


@dataclass(frozen=True)
class EventRecord:
    """A security event of a realm (Keycloak's event): a refused client authentication or a
    refresh-token reuse, when (milliseconds), from where; ``client_id`` only names a client of
    the realm."""

    id: int
    time: int
    realm: str
    type: str
    client_id: str | None
    address: str | None
    error: str | None
    details: str
