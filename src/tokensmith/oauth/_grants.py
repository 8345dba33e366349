"""The grant types the token service offers (RFC 6749 §4.4 and §6, RFC 8693, RFC 7523), and the
short names by which an operator enables the extension grants for a client."""

from collections.abc import Mapping

from ._urns import GRANT_JWT_BEARER, GRANT_TOKEN_EXCHANGE

EXTENSION_GRANTS: Mapping[str, str] = {
    "id_auth": "id_auth",
    GRANT_TOKEN_EXCHANGE: "token-exchange",
    GRANT_JWT_BEARER: "jwt-bearer",
}
"""Extension grant type as sent in ``grant_type`` → the short name a client is enabled for."""

EXTRA_GRANTS = tuple(EXTENSION_GRANTS.values())
"""The short names of the extension grants, as ``client create --grant`` takes them."""

GRANT_TYPES = ("client_credentials", "refresh_token", *EXTENSION_GRANTS)
"""Every ``grant_type`` the token endpoint accepts, as discovery advertises them."""
