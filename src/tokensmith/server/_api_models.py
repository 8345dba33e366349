"""The shapes of what the service takes and answers, as msgspec ``Struct``\\ s: the admin API's
Keycloak representations (request bodies are decoded and checked through them) and the wire
contract of the realm endpoints. The OpenAPI document (:mod:`._openapi`) takes its schemas from
here, so the document and the code that reads requests cannot drift apart.

This is the one module of tokensmith that imports msgspec. It is loaded only with the admin API
or the OpenAPI document, never on the token path.

msgspec rather than pydantic: it decodes and checks in one pass, its JSON Schema output is 2020-12
(what OpenAPI 3.1 embeds), its errors name the field (``Expected `int`, got `str` - at
`$.accessTokenLifespan```), and it costs a worker about 1 MB instead of pydantic's 15+.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

import msgspec
from msgspec import UNSET, Struct, UnsetType, field

__all__ = ["UNSET", "UnsetType"]  # re-exported: the admin API tells absent fields apart by them
T = TypeVar("T")
_SECRET_FIELDS = frozenset(
    {
        "secret",
        "value",
        "client_secret",
        "client_assertion",
        "refresh_token",
        "access_token",
        "token",
        "id_token",
        "subject_token",
        "assertion",
    }
)


class _Model(Struct):
    """A model whose ``repr`` never shows a secret or a token."""

    def __repr__(self) -> str:
        shown = (
            f"{name}={'…' if name in _SECRET_FIELDS else repr(getattr(self, name))}"
            for name in self.__struct_fields__
            if getattr(self, name) is not UNSET
        )
        return f"{type(self).__name__}({', '.join(shown)})"


class BodyError(ValueError):
    """A request body that is not JSON, or not of the expected shape; the message says where."""


def decode(body: bytes, kind: type[T]) -> tuple[T, dict[str, Any]]:
    """``body`` checked against ``kind``, and as the plain JSON object it was (with the fields
    ``kind`` does not name, which Keycloak tooling sends and the caller may ignore).

    Raises:
        BodyError: it is not a JSON object of that shape.
    """
    try:
        raw = msgspec.json.decode(body or b"null")
    except msgspec.DecodeError:
        raise BodyError("the body is not JSON") from None
    except RecursionError:
        raise BodyError("the body nests too deeply") from None
    if not isinstance(raw, dict):
        raise BodyError(f"the body must be a JSON object (a {kind.__name__})")
    try:
        return msgspec.convert(raw, kind), raw
    except msgspec.ValidationError as exc:
        raise BodyError(str(exc)) from None
    except RecursionError:
        raise BodyError("the body nests too deeply") from None


def schemas(kinds: list[Any]) -> tuple[tuple[dict[str, Any], ...], dict[str, Any]]:
    """JSON Schema (2020-12) of each of ``kinds``, referring to the shared
    ``#/components/schemas``, and those components."""
    return msgspec.json.schema_components(kinds, ref_template="#/components/schemas/{name}")


# --- admin API (Keycloak's representations) -----------------------------------------------------


class Problem(_Model, rename="camel", omit_defaults=True, kw_only=True):
    """An error of the admin API: a code and Keycloak's ``errorMessage``."""

    error: str
    error_message: str


class RealmRepresentation(_Model, rename="camel", omit_defaults=True, kw_only=True):
    """A realm's token settings, as Keycloak names them. ``realm`` is required to create one;
    an update may change ``accessTokenLifespan`` and ``ssoSessionIdleTimeout`` (the refresh-token
    lifetime)."""

    id: str | UnsetType = UNSET
    realm: str | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET
    access_token_lifespan: int | UnsetType = UNSET
    sso_session_idle_timeout: int | UnsetType = UNSET
    sso_session_max_lifespan: int | UnsetType = UNSET
    client_session_idle_timeout: int | UnsetType = UNSET
    client_session_max_lifespan: int | UnsetType = UNSET
    default_signature_algorithm: str | UnsetType = UNSET
    revoke_refresh_token: bool | UnsetType = UNSET
    refresh_token_max_reuse: int | UnsetType = UNSET


class ProtocolMapperRepresentation(_Model, rename="camel", omit_defaults=True, kw_only=True):
    """A protocol mapper; tokensmith has the audience and hard-coded claim mappers."""

    id: str | UnsetType = UNSET
    name: str | UnsetType = UNSET
    protocol: str | UnsetType = UNSET
    protocol_mapper: str | UnsetType = UNSET
    config: dict[str, str | int | bool] | UnsetType = UNSET


class ClientRepresentation(_Model, rename="camel", omit_defaults=True, kw_only=True):
    """A client as Keycloak describes one. ``clientId`` is required to create one; ``secret``
    is in the answer to a create only, when tokensmith generated it. ``lastUsed`` (tokensmith's,
    epoch milliseconds) is when the client last got a token, to within a minute. ``grantTypes``
    (tokensmith's, read-only) names the grants it may use: ``client_credentials``,
    ``refresh_token`` when it gets refresh tokens (the ``client_credentials.use_refresh_token``
    attribute), and its extension grants (``id_auth``, ``token-exchange``, ``jwt-bearer``), which
    ``tokensmith client create --grant`` sets. ``clientAuthenticatorType`` is ``client-secret``
    (the default), ``client-jwt`` (keys: the ``jwks.url`` or ``jwks.string`` attribute) or
    ``federated-jwt`` (no secret and no keys: the client authenticates with a platform's token,
    by the federated credentials added at ``…/federated-credentials``); it is set when the client
    is created."""

    id: str | UnsetType = UNSET
    client_id: str | UnsetType = UNSET
    name: str | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET
    secret: str | UnsetType = UNSET
    public_client: bool | UnsetType = UNSET
    bearer_only: bool | UnsetType = UNSET
    service_accounts_enabled: bool | UnsetType = UNSET
    standard_flow_enabled: bool | UnsetType = UNSET
    direct_access_grants_enabled: bool | UnsetType = UNSET
    protocol: str | UnsetType = UNSET
    client_authenticator_type: str | UnsetType = UNSET
    attributes: dict[str, str | int | bool] | UnsetType = UNSET
    default_client_scopes: list[str] | UnsetType = UNSET
    optional_client_scopes: list[str] | UnsetType = UNSET
    protocol_mappers: list[ProtocolMapperRepresentation] | UnsetType = UNSET
    last_used: int | UnsetType | None = UNSET
    grant_types: list[str] | UnsetType = UNSET


class CredentialRepresentation(_Model, rename="camel", omit_defaults=True, kw_only=True):
    """A client secret: ``**********`` when read, the new secret (once) when regenerated."""

    type: str
    value: str


class KeyMetadataRepresentation(_Model, rename="camel", omit_defaults=True, kw_only=True):
    """One signing key: ACTIVE signs, PASSIVE is published (next and previous keys); ``state``
    (tokensmith's) says which."""

    kid: str
    algorithm: str
    type: str
    use: str
    status: Literal["ACTIVE", "PASSIVE", "DISABLED"]
    provider_priority: int
    public_key: dict[str, str]
    state: Literal["current", "next", "previous", "retired"]


class KeysMetadataRepresentation(_Model, rename="camel", omit_defaults=True, kw_only=True):
    """A realm's signing keys and the active key of each algorithm."""

    active: dict[str, str]
    keys: list[KeyMetadataRepresentation]


class TrustedIssuerRepresentation(_Model, rename="camel", omit_defaults=True, kw_only=True):
    """An external token issuer the realm trusts (tokensmith's): for id_auth, token exchange,
    jwt-bearer and federated client authentication. Its keys come from ``jwksUrl``, from ``jwks``
    inline, or, with neither, from the issuer's OpenID discovery document (a ``kubernetes``
    issuer's from ``ISSUER/openid/v1/jwks``). ``profile`` is its platform (``oidc``,
    ``kubernetes``, ``github-actions``, ``gitlab-ci``, ``spiffe``), whose defaults fill
    ``algorithms`` and ``maxAge``; ``clientAudience`` the ``aud`` its tokens must name to
    authenticate a client (default: this service's URLs); ``caFile`` a PEM CA bundle on the
    service's host to fetch its keys with. ``id`` and ``createdAt`` are the service's."""

    issuer: str
    id: str | UnsetType = UNSET
    jwks_url: str | UnsetType | None = UNSET
    jwks: dict[str, Any] | UnsetType | None = UNSET
    audiences: list[str] | UnsetType = UNSET
    algorithms: list[str] | UnsetType = UNSET
    max_age: int | UnsetType = UNSET
    claims: list[str] | UnsetType = UNSET
    profile: str | UnsetType = UNSET
    client_audience: str | UnsetType | None = UNSET
    ca_file: str | UnsetType | None = UNSET
    created_at: int | UnsetType = UNSET


class FederatedCredentialRepresentation(_Model, rename="camel", omit_defaults=True, kw_only=True):
    """A federated credential of a client (tokensmith's): tokens of the trusted ``issuer`` whose
    ``sub`` is ``subject``, or whose claims make the CEL ``condition`` true, authenticate the
    client. ``name`` defaults to the issuer's profile and a number; ``createdAt`` is the
    service's."""

    issuer: str
    name: str | UnsetType = UNSET
    subject: str | UnsetType | None = UNSET
    condition: str | UnsetType | None = UNSET
    created_at: int | UnsetType = UNSET


class AuthDetails(_Model, rename="camel", kw_only=True):
    """Who made a change: the admin client (or, from the CLI, the system user) and from where."""

    realm_id: str | None
    client_id: str | None
    ip_address: str | None


class AdminEventRepresentation(_Model, rename="camel", kw_only=True):
    """A change made to a realm (Keycloak's shape, without ``representation``), with
    tokensmith's ``id`` and ``via`` (``cli``, ``admin-api`` or ``service``)."""

    id: str
    time: int
    realm_id: str
    auth_details: AuthDetails
    operation_type: Literal["CREATE", "UPDATE", "DELETE", "ACTION"]
    resource_type: str
    resource_path: str
    details: dict[str, Any]
    via: str


class EventRepresentation(_Model, rename="camel", kw_only=True):
    """A security event (Keycloak's shape): a refused client authentication
    (``CLIENT_LOGIN_ERROR``) or a refresh token used twice (``REFRESH_TOKEN_ERROR``)."""

    id: str
    time: int
    type: str
    realm_id: str
    client_id: str | None
    ip_address: str | None
    error: str
    details: dict[str, Any]


class RealmMetrics(_Model, rename="camel", kw_only=True):
    """tokensmith's: the realm's tokens issued and failed authentications since the service
    started, summed over its workers."""

    time: int
    tokens_issued: int
    authentication_failures: int


ADMIN_MODELS: list[Any] = [
    AdminEventRepresentation,
    EventRepresentation,
    RealmMetrics,
    Problem,
    RealmRepresentation,
    ClientRepresentation,
    CredentialRepresentation,
    KeysMetadataRepresentation,
    TrustedIssuerRepresentation,
    FederatedCredentialRepresentation,
]


# --- the realm endpoints ------------------------------------------------------------------------


class _ClientAuthentication(_Model, kw_only=True, omit_defaults=True):
    """How a client authenticates in the body (or with HTTP Basic instead): its secret, or a
    private_key_jwt assertion (RFC 7523 §2.2)."""

    client_id: str | UnsetType = UNSET
    client_secret: str | UnsetType = UNSET
    client_assertion_type: str | UnsetType = UNSET
    client_assertion: str | UnsetType = UNSET


class ClientCredentialsRequest(_ClientAuthentication, kw_only=True, omit_defaults=True):
    """RFC 6749 §4.4.2. ``resource``: RFC 8707."""

    grant_type: Literal["client_credentials"]
    scope: str | UnsetType = UNSET
    resource: str | UnsetType = UNSET


class RefreshTokenRequest(_ClientAuthentication, kw_only=True, omit_defaults=True):
    """RFC 6749 §6: the refresh token of the last answer (each is good for one use)."""

    grant_type: Literal["refresh_token"]
    refresh_token: str
    scope: str | UnsetType = UNSET
    resource: str | UnsetType = UNSET


class IdAuthRequest(_ClientAuthentication, kw_only=True, omit_defaults=True):
    """GBG's ``id_auth``: an id_token of a trusted issuer for an access token."""

    grant_type: Literal["id_auth"]
    id_token: str
    scope: str | UnsetType = UNSET


class TokenExchangeRequest(_ClientAuthentication, kw_only=True, omit_defaults=True):
    """RFC 8693 token exchange of a trusted issuer's token."""

    grant_type: Literal["urn:ietf:params:oauth:grant-type:token-exchange"]
    subject_token: str
    subject_token_type: str
    requested_token_type: str | UnsetType = UNSET
    scope: str | UnsetType = UNSET


class JwtBearerRequest(_ClientAuthentication, kw_only=True, omit_defaults=True):
    """RFC 7523 §2.1: a trusted issuer's JWT as an authorization grant."""

    grant_type: Literal["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assertion: str
    scope: str | UnsetType = UNSET


TOKEN_REQUESTS: list[Any] = [
    ClientCredentialsRequest,
    RefreshTokenRequest,
    IdAuthRequest,
    TokenExchangeRequest,
    JwtBearerRequest,
]
"""One request shape per grant type the token endpoint accepts."""


class TokenResponse(_Model, kw_only=True, omit_defaults=True):
    """RFC 6749 §5.1 (compact JSON). Refresh tokens only for clients that have them;
    ``issued_token_type`` for token exchange (RFC 8693 §2.2.1)."""

    access_token: str
    token_type: str
    expires_in: int
    scope: str | UnsetType = UNSET
    refresh_token: str | UnsetType = UNSET
    refresh_expires_in: int | UnsetType = UNSET
    issued_token_type: str | UnsetType = UNSET


class PascalTokenResponse(_Model, kw_only=True, omit_defaults=True):
    """The ``pascal`` response style of a realm (Trulioo's documented answer)."""

    token: str = field(name="Token")
    token_type: str = field(name="TokenType")
    expires_in: int = field(name="ExpiresIn")
    refresh_token: str | UnsetType = field(default=UNSET, name="RefreshToken")
    refresh_expires_in: int | UnsetType = field(default=UNSET, name="RefreshExpiresIn")
    scope: str | UnsetType = UNSET


class OAuthError(_Model, kw_only=True, omit_defaults=True):
    """RFC 6749 §5.2."""

    error: str
    error_description: str | UnsetType = UNSET
    error_uri: str | UnsetType = UNSET


class TokenRequest(_Model, kw_only=True, omit_defaults=True):
    """RFC 7662 §2.1 and RFC 7009 §2.1: the token to introspect or revoke."""

    token: str
    token_type_hint: str | UnsetType = UNSET
    client_id: str | UnsetType = UNSET
    client_secret: str | UnsetType = UNSET
    client_assertion_type: str | UnsetType = UNSET
    client_assertion: str | UnsetType = UNSET


class IntrospectionResponse(_Model, kw_only=True, omit_defaults=True):
    """RFC 7662 §2.2: ``active`` and, for an active token, its claims; ``cnf`` (with
    ``token_type`` DPoP) for a DPoP-bound one (RFC 9449 §6.2)."""

    active: bool
    scope: str | UnsetType = UNSET
    client_id: str | UnsetType = UNSET
    token_type: str | UnsetType = UNSET
    exp: int | UnsetType = UNSET
    iat: int | UnsetType = UNSET
    nbf: int | UnsetType = UNSET
    sub: str | UnsetType = UNSET
    aud: str | list[str] | UnsetType = UNSET
    iss: str | UnsetType = UNSET
    jti: str | UnsetType = UNSET
    cnf: dict[str, str] | UnsetType = UNSET


class JsonWebKeySet(_Model, kw_only=True):
    """RFC 7517 §5: the realm's public signing keys (current, next and previous)."""

    keys: list[dict[str, Any]]


class ServerMetadata(_Model, kw_only=True):
    """OpenID Connect Discovery 1.0 / RFC 8414 metadata (more members than listed here)."""

    issuer: str
    token_endpoint: str
    jwks_uri: str
    grant_types_supported: list[str]


class HealthCheck(_Model, kw_only=True, omit_defaults=True):
    """One check of a MicroProfile Health answer."""

    name: str
    status: Literal["UP", "DOWN"]
    data: dict[str, Any] | UnsetType = UNSET


class Health(_Model, kw_only=True):
    """MicroProfile Health: ``UP`` when every check is."""

    status: Literal["UP", "DOWN"]
    checks: list[HealthCheck]


WIRE_MODELS: list[Any] = [
    *TOKEN_REQUESTS,
    TokenResponse,
    PascalTokenResponse,
    OAuthError,
    TokenRequest,
    IntrospectionResponse,
    JsonWebKeySet,
    ServerMetadata,
    Health,
]
