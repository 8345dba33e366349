"""The realm's metadata documents: OpenID Connect discovery and RFC 8414, their endpoint URLs
taken from the route table."""

from __future__ import annotations

from typing import Any

from ..oauth import ASSERTION_ALGORITHMS, GRANT_TYPES
from . import _routes as routes
from ._clientauth import METHODS
from ._state import RealmState


def metadata(state: RealmState, issuer: str, *, oidc: bool) -> dict[str, Any]:
    """The metadata of the realm served with ``issuer`` (RFC 8414 §2; with ``oidc``, the
    OpenID Connect Discovery fields too)."""
    document: dict[str, Any] = {
        "issuer": issuer,
        "token_endpoint": routes.url(issuer, routes.TOKEN),
        "jwks_uri": routes.url(issuer, routes.CERTS),
        "grant_types_supported": list(GRANT_TYPES),
        "token_endpoint_auth_methods_supported": list(METHODS),
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "introspection_endpoint": routes.url(issuer, routes.INTROSPECT),
        "introspection_endpoint_auth_methods_supported": list(METHODS),
        "revocation_endpoint": routes.url(issuer, routes.REVOKE),
        "revocation_endpoint_auth_methods_supported": list(METHODS),
        "scopes_supported": ["openid"],
    }
    if oidc:
        document["subject_types_supported"] = ["public"]
        document["id_token_signing_alg_values_supported"] = [state.realm.alg]
    return document
