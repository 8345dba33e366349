"""Ready-made token sources for the vendors in tokensmith's seeds, and for any Keycloak realm or
OpenID Connect issuer. Base URLs are overridable (sandbox hosts)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

import httpx

from ._core import AuthMethod
from ._dialect import PASCAL
from ._errors import ConfigurationError
from ._grants import ClientCredentials, FormValue, IdAuth, RefreshToken
from ._source import TokenSource
from ._token import Secret

if TYPE_CHECKING:
    from ..core._tracing import TracerProvider
    from ..oauth import Algorithm, Clock, PrivateKey, ProofKey
    from ._core import AuthMethod
    from ._dialect import Dialect
    from ._options import Retry, TokenCache

TRUPHONE_URL = "https://services.truphone.com"
GBG_URL = "https://api.gbgplc.com"
TRULIOO_URL = "https://auth-api.trulioo.com"


class SourceOptions(TypedDict, total=False):
    """The keyword arguments of :class:`TokenSource` that a preset passes through (all but the
    endpoint, the credentials and the grant, which the preset sets); typed so that mypy catches a
    misspelt option (PEP 692). A test keeps this list in step with :class:`TokenSource`."""

    auth_method: AuthMethod
    dialect: Dialect
    default_ttl: float | None
    margin: float | Callable[[float], float] | None
    background: bool
    retry: Retry | None
    cache: TokenCache | None
    retry_unauthorized: bool
    timeout: float
    http_client: httpx.Client | None
    async_http_client: httpx.AsyncClient | None
    on_event: Callable[[str, Mapping[str, object]], None] | None
    clock: Clock
    private_key: str | bytes | PrivateKey | None
    private_key_alg: Algorithm
    key_id: str | None
    tracing: bool | TracerProvider
    dpop: bool | ProofKey
    platform_token: Callable[[], str] | None


def truphone(
    client_id: str,
    client_secret: str | Secret,
    *,
    base_url: str = TRUPHONE_URL,
    **options: Unpack[SourceOptions],
) -> TokenSource:
    """Truphone / 1GLOBAL Connect: Keycloak realm ``tru-staff``, client credentials, then the
    refresh token while it lives (5-minute tokens, 30-minute refresh tokens)."""
    return keycloak(base_url, "tru-staff", client_id, client_secret, legacy_prefix=True, **options)


one_global = truphone


def gbg(
    id_token: FormValue,
    *,
    client_id: str,
    client_secret: str | Secret,
    scope: str | Sequence[str] | None = "api api2",
    base_url: str = GBG_URL,
    **options: Unpack[SourceOptions],
) -> TokenSource:
    """GBG: the ``id_auth`` grant at ``/authenticate/v1/connect/token``. ``id_token`` is the
    external SSO token, or a function (sync or async) returning a fresh one for each renewal.

    ``client_id`` and ``client_secret`` are required: GBG's documentation shows ``ro.client`` /
    ``secret`` as an example, and a default would send those to production unnoticed.

    Raises:
        TypeError: ``client_id`` or ``client_secret`` is not given.
        ConfigurationError: ``client_id`` or ``client_secret`` is empty.
    """
    _require(client_id=client_id, client_secret=client_secret)
    return TokenSource(
        f"{base_url.rstrip('/')}/authenticate/v1/connect/token",
        client_id=client_id,
        client_secret=client_secret,
        grant=IdAuth(id_token, scope=scope),
        **options,
    )


def _require(**values: str | Secret) -> None:
    """Raise :class:`ConfigurationError` naming the first empty value (the value is not shown)."""
    for name, value in values.items():
        if not (value.reveal() if isinstance(value, Secret) else value):
            raise ConfigurationError(f"{name} is empty")


def trulioo(
    client_id: str,
    client_secret: str | Secret,
    *,
    scope: str | Sequence[str] | None = "workflow.studio.api",
    base_url: str = TRULIOO_URL,
    **options: Unpack[SourceOptions],
) -> TokenSource:
    """Trulioo: client credentials at ``/connect/token``, answered PascalCase (``Token``,
    ``ExpiresIn``) unless ``dialect`` says otherwise."""
    options.setdefault("dialect", PASCAL)
    return TokenSource(
        f"{base_url.rstrip('/')}/connect/token",
        client_id=client_id,
        client_secret=client_secret,
        grant=ClientCredentials(scope=scope),
        **options,
    )


def keycloak(
    base_url: str,
    realm: str,
    client_id: str,
    client_secret: str | Secret,
    *,
    legacy_prefix: bool = False,
    scope: str | Sequence[str] | None = None,
    refresh_tokens: bool = True,
    **options: Unpack[SourceOptions],
) -> TokenSource:
    """Any Keycloak (or tokensmith) realm: client credentials, then the refresh token when the
    server hands one out. ``legacy_prefix`` adds Keycloak's old ``/auth`` path prefix."""
    prefix = "/auth" if legacy_prefix else ""
    url = f"{base_url.rstrip('/')}{prefix}/realms/{realm}/protocol/openid-connect/token"
    primary = ClientCredentials(scope=scope)
    return TokenSource(
        url,
        client_id=client_id,
        client_secret=client_secret,
        grant=RefreshToken(primary) if refresh_tokens else primary,
        **options,
    )


def from_discovery(
    issuer: str,
    client_id: str,
    client_secret: str | Secret,
    *,
    timeout: float = 10.0,
    **options: Any,
) -> TokenSource:
    """A source for the token endpoint an OpenID Connect (or RFC 8414) issuer advertises,
    authenticating with a secret the way the issuer lists (``client_secret_basic`` first, as
    RFC 8414 §2 makes it the default, then ``client_secret_post``) unless ``auth_method`` says.

    Raises:
        ConfigurationError: the issuer's metadata cannot be read, names no token endpoint, or
            lists no way to send a client secret.
    """
    base = issuer.rstrip("/")
    scheme, _, rest = base.partition("://")
    host, _, path = rest.partition("/")
    candidates = [
        f"{base}/.well-known/openid-configuration",
        f"{scheme}://{host}/.well-known/oauth-authorization-server" + (f"/{path}" if path else ""),
    ]
    for url in candidates:
        try:
            response = httpx.get(url, timeout=timeout, follow_redirects=True)
            metadata = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            continue
        if not isinstance(metadata, dict):
            continue
        endpoint = metadata.get("token_endpoint")
        if isinstance(endpoint, str) and endpoint:
            if "auth_method" not in options and "private_key" not in options:
                options["auth_method"] = _secret_method(
                    metadata.get("token_endpoint_auth_methods_supported"), issuer
                )
            return TokenSource(
                endpoint, client_id=client_id, client_secret=client_secret, **options
            )
    raise ConfigurationError(f"cannot find a token_endpoint in the metadata of issuer {issuer}")


def _secret_method(listed: object, issuer: str) -> AuthMethod:
    """The secret-based method to use among those an issuer lists (RFC 8414 §2: omitted means
    ``client_secret_basic``)."""
    methods = listed if isinstance(listed, list) and listed else ["client_secret_basic"]
    for method in ("client_secret_basic", "client_secret_post"):
        if method in methods:
            return method
    names = ", ".join(str(m) for m in methods)
    raise ConfigurationError(
        f"issuer {issuer} takes no client secret at its token endpoint (it lists {names}); "
        "pass auth_method=, or private_key= for private_key_jwt"
    )
