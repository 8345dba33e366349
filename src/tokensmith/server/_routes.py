"""The service's URL space as one table (the Keycloak layout): what is served under
``/realms/{realm}``, with and without the legacy ``/auth`` prefix, the RFC 8414 metadata path,
the methods each endpoint takes, and which endpoints are public documents that any web page may
read (CORS). Matching, ``405`` with ``Allow``, ``HEAD`` for ``GET``, the CORS preflight and the
endpoint URLs in discovery all follow from it."""

from __future__ import annotations

import re
from dataclasses import dataclass

LEGACY_PREFIX = "/auth"
"""Keycloak before version 17 served everything under /auth; both path forms serve one issuer."""
REALMS = "/realms/"
RFC8414 = "/.well-known/oauth-authorization-server"
GET = ("GET", "HEAD")
POST = ("POST",)
PREFLIGHT = "OPTIONS"
ALIAS = re.compile(r"(/[A-Za-z0-9._~-]+)+")
"""The form of a token-path alias a realm may add (``/connect/token``)."""
MAX_ALIAS_LENGTH = 255  # the width of token_paths.path


def could_be_alias(path: str) -> bool:
    """Whether ``path`` has the form of a token-path alias, so that it is worth looking up."""
    return len(path) <= MAX_ALIAS_LENGTH and ALIAS.fullmatch(path) is not None


@dataclass(frozen=True)
class Endpoint:
    """An endpoint of every realm: its name, its path under ``/realms/{realm}``, its methods,
    and whether it is ``public``: a read-only document without secrets (the JWKS, the metadata)
    that pages of any origin may read, so it answers CORS requests and their preflight."""

    name: str
    path: str
    methods: tuple[str, ...]
    public: bool = False

    @property
    def allow(self) -> bytes:
        """The ``Allow`` header value of a 405 answer (RFC 9110 §15.5.6); a public document
        also takes ``OPTIONS``, the CORS preflight."""
        return ", ".join((*self.methods, PREFLIGHT) if self.public else self.methods).encode()


TOKEN = Endpoint("token", "/protocol/openid-connect/token", POST)
INTROSPECT = Endpoint("introspect", "/protocol/openid-connect/token/introspect", POST)
REVOKE = Endpoint("revoke", "/protocol/openid-connect/revoke", POST)
AUTHORIZE = Endpoint("authorize", "/protocol/openid-connect/auth", (*GET, *POST))
"""OpenID Connect Discovery requires an authorization endpoint; this one refuses every request
(the service has no end-user and no client has a redirection URI). GET and POST: OIDC Core
§3.1.2.1."""
CERTS = Endpoint("certs", "/protocol/openid-connect/certs", GET, public=True)
OPENID_CONFIGURATION = Endpoint(
    "openid-configuration", "/.well-known/openid-configuration", GET, public=True
)
AUTHORIZATION_SERVER = Endpoint("oauth-authorization-server", RFC8414, GET, public=True)
"""RFC 8414 metadata, served twice: at ``RFC8414 + /realms/{realm}`` (RFC 8414 §3, the
well-known part before the issuer's path) and, as Keycloak serves it, at
``/realms/{realm} + RFC8414``."""

ENDPOINTS = (
    TOKEN,
    INTROSPECT,
    REVOKE,
    AUTHORIZE,
    CERTS,
    OPENID_CONFIGURATION,
    AUTHORIZATION_SERVER,
)
"""Every endpoint under ``/realms/{realm}``."""
_BY_PATH = {endpoint.path: endpoint for endpoint in ENDPOINTS}


def match(path: str) -> tuple[Endpoint, str] | None:
    """The realm endpoint at ``path`` and the realm it names; None for any other path (token-path
    aliases and ``/health`` are the application's to answer)."""
    if path.startswith(RFC8414 + "/"):
        rest = _unprefixed(path[len(RFC8414) :])
        if rest.startswith(REALMS) and "/" not in rest[len(REALMS) :]:
            return AUTHORIZATION_SERVER, rest[len(REALMS) :]
        return None
    rest = _unprefixed(path)
    if not rest.startswith(REALMS):
        return None
    realm, slash, tail = rest[len(REALMS) :].partition("/")
    endpoint = _BY_PATH.get(slash + tail)
    return (endpoint, realm) if endpoint is not None else None


ADMIN = "/admin/realms"
"""Where the admin API is served (as Keycloak serves its own), with or without ``/auth``."""


def is_admin_path(path: str) -> bool:
    """Whether ``path`` is the admin API's."""
    rest = path.removeprefix(LEGACY_PREFIX)
    return rest.startswith(ADMIN) and rest[len(ADMIN) : len(ADMIN) + 1] in ("", "/")


CONSOLE = "/console"
"""Where the web console is served (the main port only; ``Settings.console`` turns it off)."""


def is_console_path(path: str) -> bool:
    """Whether ``path`` is the web console's."""
    return path == CONSOLE or path.startswith(CONSOLE + "/")


OPENAPI = "/openapi.json"
"""The OpenAPI 3.1 document of every endpoint."""
DOCS = "/docs"
"""The API reference page (Swagger UI) and, under ``/docs/assets/``, its files."""


def is_docs_path(path: str) -> bool:
    """Whether ``path`` is the OpenAPI document's, the reference page's or one of its files."""
    return path in (OPENAPI, DOCS) or path.startswith(DOCS + "/assets/")


def url(issuer: str, endpoint: Endpoint) -> str:
    """Where ``endpoint`` of the realm with ``issuer`` is served."""
    return issuer + endpoint.path


def _unprefixed(path: str) -> str:
    return path[len(LEGACY_PREFIX) :] if path.startswith(LEGACY_PREFIX + REALMS) else path
