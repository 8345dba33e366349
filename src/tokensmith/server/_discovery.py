"""The realm's metadata documents: OpenID Connect discovery and RFC 8414, their endpoint URLs
taken from the route table.

tokensmith authenticates clients, never end-users: it has no authorization flow and issues no ID
token. Both specifications were written for servers that do, so a few required fields are
answered as follows (the README's "Discovery" section says the same to users):

- ``response_types_supported`` (required by both): ``["none"]``, the registered response type
  that issues nothing at the authorization endpoint (OAuth 2.0 Multiple Response Type Encoding
  Practices §4). Omitting the field, as OAuth WG members have suggested for servers without
  an authorization flow (OpenID4VCI issue 248), fails RFC 8414 validators, Authlib's among
  them; listing ``code`` would invite a login flow that can never succeed.
- ``authorization_endpoint``: only in the OpenID Connect document, which requires it (MSAL for
  Python reads it unconditionally, even for client credentials; Spring Security's
  ``ClientRegistrations`` did until 2021). It names an endpoint that exists and refuses every
  request with ``unauthorized_client``, as Keycloak, node oidc-provider and ORY Hydra, which
  always advertise theirs, refuse a client-credentials-only client there. RFC 8414 §2 lets
  the OAuth document omit it ("unless no grant types are supported that use the
  authorization endpoint"), so it does.
- ``id_token_signing_alg_values_supported`` (OpenID Connect, RS256 required): the realm's
  algorithm first, then RS256, which the service signs with when a realm chooses it.
- ``request_uri_parameter_supported``: ``false``; OpenID Connect Discovery §3 defaults it to
  true.

The extension grant ``id_auth`` keeps GBG's name and no absolute-URI alias (RFC 6749 §4.5 asks
new extension grants for absolute URIs): GBG's clients send ``id_auth``, no client sends a URI
for it, and a second spelling would be one more name to accept and enable per client, read by
nobody; a URN of our own would need a namespace we do not have (RFC 8141).
"""

from __future__ import annotations

from typing import Any

from ..oauth import ASSERTION_ALGORITHMS, DPOP_ALGORITHMS, GRANT_TYPES
from . import _routes as routes
from ._clientauth import METHODS
from ._state import RealmState

RESPONSE_TYPES = ("none",)
"""What the authorization endpoint supports: the response type that issues nothing."""
MANDATORY_ALG = "RS256"
"""OpenID Connect Discovery §3: ``id_token_signing_alg_values_supported`` MUST include RS256."""


def metadata(state: RealmState, issuer: str, *, oidc: bool) -> dict[str, Any]:
    """The metadata of the realm served with ``issuer`` (RFC 8414 §2; with ``oidc``, the
    OpenID Connect Discovery 1.0 §3 fields too)."""
    document: dict[str, Any] = {
        "issuer": issuer,
        "token_endpoint": routes.url(issuer, routes.TOKEN),
        "jwks_uri": routes.url(issuer, routes.CERTS),
        "response_types_supported": list(RESPONSE_TYPES),
        "grant_types_supported": list(GRANT_TYPES),
        "token_endpoint_auth_methods_supported": list(METHODS),
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        # One client authenticator serves all three endpoints, so they take the same methods.
        "introspection_endpoint": routes.url(issuer, routes.INTROSPECT),
        "introspection_endpoint_auth_methods_supported": list(METHODS),
        "introspection_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "revocation_endpoint": routes.url(issuer, routes.REVOKE),
        "revocation_endpoint_auth_methods_supported": list(METHODS),
        "revocation_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "scopes_supported": ["openid"],
        "dpop_signing_alg_values_supported": list(DPOP_ALGORITHMS),  # RFC 9449 §5.1
    }
    if oidc:
        document["authorization_endpoint"] = routes.url(issuer, routes.AUTHORIZE)
        document["subject_types_supported"] = ["public"]
        document["id_token_signing_alg_values_supported"] = _id_token_algs(state.realm.alg)
        document["request_uri_parameter_supported"] = False
    return document


def _id_token_algs(realm_alg: str) -> list[str]:
    """The realm's signing algorithm first (clients that take the first value get the one the
    JWKS holds), then RS256 if the realm signs with something else."""
    return [realm_alg] if realm_alg == MANDATORY_ALG else [realm_alg, MANDATORY_ALG]
