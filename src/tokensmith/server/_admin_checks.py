"""What an administrative request may ask: the rules for realm names, lifetimes, token paths,
scopes, grants, claims and client keys. Values in, :class:`AdminError` out, no database, so that
every way in (the CLI, demo mode, an admin API) refuses the same requests with the same words.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping

from ..oauth import (
    EXTRA_GRANTS,
    Algorithm,
    ConfigurationError,
    OAuthError,
    ResponseStyle,
    TokensmithError,
    as_algorithm,
    format_scope,
    parse_scope,
)
from ..store import CLIENT_ID, REALM_NAME
from ._ratelimit import check_limits
from ._resources import MAX_RESOURCE_LENGTH, is_resource
from ._routes import ALIAS, MAX_ALIAS_LENGTH

_ORIGIN = re.compile(
    r"([A-Za-z][A-Za-z0-9+.-]*)://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::([0-9]{1,5}))?"
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_RESERVED_PREFIXES = ("/realms", "/auth", "/.well-known", "/health")
MAX_TTL = 366 * 24 * 3600
MAX_REUSE_GRACE = 300
# A day at most: the replay store keeps each assertion's jti that long. A minute at least:
# openid-client makes 60-second assertions, the shortest of the common clients.
ASSERTION_LIFETIME_RANGE = (60, 24 * 3600)
RESERVED_CLAIMS = frozenset(
    {"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope", "azp", "act"}
)


class AdminError(TokensmithError, ValueError):
    """An administrative request that cannot be carried out; the message says why.

    Also a ``ValueError``: it reports a bad argument, and callers that caught ``ValueError``
    before it joined the tree keep working.
    """


class RealmNotEmpty(AdminError):
    """A realm that has clients was to be deleted only if it had none; nothing was deleted.

    ``clients`` is how many it has."""

    def __init__(self, realm: str, clients: int) -> None:
        self.realm = realm
        self.clients = clients
        its, s = ("its", "") if clients == 1 else ("their", "s")
        super().__init__(
            f"realm {realm!r} has {clients} client{s}, which deleting the realm deletes too, "
            f"with {its} secrets and tokens; nothing was deleted"
        )


def missing_realm(name: str, known: Iterable[str]) -> str:
    """What to say when no realm is called ``name``, naming the ``known`` realms it is closest
    to: one differing only in case, else up to three similar names (difflib)."""
    names = sorted(known)
    folded = [n.lower() for n in names]
    close = [n for n in names if n.lower() == name.lower()]
    if not close:
        matches = difflib.get_close_matches(name.lower(), folded, n=3, cutoff=0.6)
        close = list(dict.fromkeys(names[folded.index(m)] for m in matches))
    if not close:
        return f"no realm {name!r}"
    quoted = [repr(n) for n in close]
    choices = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f"no realm {name!r}; did you mean {choices}?"


def check_ttl(name: str, seconds: int) -> int:
    """``seconds`` if it is a sensible lifetime.

    Raises:
        AdminError: it is not between 1 second and a year.
    """
    if not 1 <= seconds <= MAX_TTL:
        raise AdminError(f"{name} must be between 1 and {MAX_TTL} seconds, not {seconds}")
    return seconds


def check_style(style: str) -> ResponseStyle:
    """The response style called ``style``.

    Raises:
        AdminError: there is no such style.
    """
    try:
        return ResponseStyle(style)
    except ValueError:
        names = ", ".join(s.value for s in ResponseStyle)
        raise AdminError(f"unknown response style {style!r}; choose one of {names}") from None


def check_realm_name(name: str) -> str:
    """``name`` if it may name a realm (it is a path segment of every realm endpoint).

    Raises:
        AdminError: it is not 1-64 letters, digits, '.', '_' or '-'.
    """
    if not REALM_NAME.fullmatch(name):
        raise AdminError(f"realm name {name!r} must be 1-64 letters, digits, '.', '_' or '-'")
    return name


def check_algorithm(alg: str) -> Algorithm:
    """The signing algorithm called ``alg``.

    Raises:
        AdminError: tokensmith does not sign with it.
    """
    try:
        return as_algorithm(alg)
    except ValueError as exc:
        raise AdminError(str(exc)) from None


def check_limit(limit: str | None) -> str | None:
    """``limit`` if it is None (the service's) or a rate limit such as ``"20/minute;200/hour"``.

    Raises:
        AdminError: it is not in that notation.
    """
    if limit is not None:
        try:
            check_limits(limit)
        except ConfigurationError as exc:
            raise AdminError(str(exc)) from None
    return limit


def check_reuse_grace(seconds: int | None) -> int | None:
    """``seconds`` if it is None (the service's) or a refresh reuse grace period we allow.

    Raises:
        AdminError: it is not between 0 and :data:`MAX_REUSE_GRACE` seconds.
    """
    if seconds is not None and not 0 <= seconds <= MAX_REUSE_GRACE:
        raise AdminError(
            f"the refresh reuse grace period must be between 0 and {MAX_REUSE_GRACE} "
            f"seconds, not {seconds}"
        )
    return seconds


def check_assertion_lifetime(seconds: int | None) -> int | None:
    """``seconds`` if it is None (the service default) or a longest client assertion lifetime
    we allow.

    Raises:
        AdminError: it is outside :data:`ASSERTION_LIFETIME_RANGE`.
    """
    low, high = ASSERTION_LIFETIME_RANGE
    if seconds is not None and not low <= seconds <= high:
        raise AdminError(
            f"the longest client assertion lifetime must be between {low} and {high} seconds, "
            f"not {seconds}"
        )
    return seconds


def check_token_paths(paths: Iterable[str]) -> list[str]:
    """``paths`` without repeats, if each may alias a realm's token endpoint.

    Raises:
        AdminError: a path is not /segment/segment…, or lies under the realm endpoints.
    """
    checked = []
    for path in dict.fromkeys(paths):
        if not ALIAS.fullmatch(path):
            raise AdminError(
                f"token path {path!r} must look like /segment/segment (letters, digits, ._~-)"
            )
        if len(path) > MAX_ALIAS_LENGTH:
            raise AdminError(f"token path {path!r} is longer than {MAX_ALIAS_LENGTH} characters")
        if any(path == p or path.startswith(p + "/") for p in _RESERVED_PREFIXES):
            raise AdminError(f"token path {path!r} is reserved for the realm endpoints")
        checked.append(path)
    return checked


def check_cors_origins(origins: Iterable[str]) -> list[str]:
    """``origins`` without repeats, if each is an exact origin as a browser sends it in
    ``Origin``: ``scheme://host[:port]`` in lower case, without the scheme's default port.

    Raises:
        AdminError: one has a path, user, query or wildcard, is "null" (sandboxed pages and
            ``file:`` URLs share it, so it names no one), or is not as browsers write it (it
            would never match: the service compares origins exactly).
    """
    checked = []
    for origin in dict.fromkeys(origins):
        found = _ORIGIN.fullmatch(origin)
        if found is None or not 0 < int(found[3] or 1) < 65536:
            raise AdminError(
                f"CORS origin {origin!r} must be scheme://host[:port] without a path, such as "
                "https://app.example.com; '*' and 'null' are never allowed"
            )
        scheme, host, port = found[1].lower(), found[2].lower(), found[3]
        if port is not None and int(port) != _DEFAULT_PORTS.get(scheme):
            host += f":{int(port)}"
        if f"{scheme}://{host}" != origin:
            raise AdminError(
                f"CORS origin {origin!r} is sent by browsers as {scheme}://{host}; give that"
            )
        checked.append(origin)
    return checked


def check_client_id(client_id: str) -> str:
    """``client_id`` if it may name a client.

    Raises:
        AdminError: it is not 1-255 letters, digits or ._~@+-.
    """
    if not CLIENT_ID.fullmatch(client_id):
        raise AdminError(f"client id {client_id!r} must be 1-255 letters, digits or ._~@+-")
    return client_id


def check_scopes(scopes: str, default_scopes: str | None) -> tuple[str, str]:
    """The allowed and the default scopes, normalised (RFC 6749 §3.3); the defaults default to
    all allowed scopes.

    Raises:
        AdminError: a scope holds a character RFC 6749 §3.3 does not allow, or a default scope
            is not allowed.
    """
    allowed = _scopes(scopes, "--scope")
    defaults = allowed if default_scopes is None else _scopes(default_scopes, "--default-scope")
    extra = parse_scope(defaults) - parse_scope(allowed)
    if extra:
        raise AdminError(f"default scopes {format_scope(extra)!r} are not among the allowed scopes")
    return allowed, defaults


def _scopes(value: str, what: str) -> str:
    try:
        return format_scope(parse_scope(value))
    except OAuthError:
        raise AdminError(f"{what} holds a character that RFC 6749 §3.3 does not allow") from None


def check_grants(grant_types: Iterable[str]) -> str:
    """The extra grants a client may use, as stored: sorted, space-separated.

    Raises:
        AdminError: a grant is not one of :data:`~tokensmith.oauth.EXTRA_GRANTS`.
    """
    grants = set(grant_types)
    unknown = grants - set(EXTRA_GRANTS)
    if unknown:
        raise AdminError(
            f"unknown grant {sorted(unknown)[0]!r}; choose from {', '.join(EXTRA_GRANTS)}"
        )
    return " ".join(sorted(grants))


def check_resources(resources: Iterable[str]) -> str:
    """The RFC 8707 resources a client may name, as stored: without repeats, space-separated.

    Raises:
        AdminError: one is not an absolute URI without a fragment, of printable ASCII and at
            most :data:`~tokensmith.server._resources.MAX_RESOURCE_LENGTH` characters.
    """
    checked = list(dict.fromkeys(resources))
    for resource in checked:
        if not is_resource(resource):
            raise AdminError(
                f"resource {resource!r} must be an absolute URI without a fragment, such as "
                f"https://api.example.com/, of at most {MAX_RESOURCE_LENGTH} characters"
            )
    return " ".join(checked)


def check_extra_claims(claims: Mapping[str, object] | None) -> None:
    """Accept static claims for a client's tokens unless tokensmith sets one of them itself.

    Raises:
        AdminError: a claim is one of :data:`RESERVED_CLAIMS`.
    """
    reserved = set(claims or {}) & RESERVED_CLAIMS
    if reserved:
        raise AdminError(f"claim {sorted(reserved)[0]!r} is set by tokensmith itself")


def check_client_keys(
    secret: str | None, jwks: Mapping[str, object] | None, jwks_url: str | None
) -> bool:
    """Whether the client authenticates with private_key_jwt (it has keys, not a secret).

    Raises:
        AdminError: both a secret and keys, both a JWKS and a JWKS URL, a JWKS that is not
            ``{"keys": [...]}``, or a JWKS URL that is not http(s).
    """
    if jwks is None and jwks_url is None:
        return False
    if secret is not None:
        raise AdminError("a private_key_jwt client has keys, not a secret")
    if jwks is not None and jwks_url is not None:
        raise AdminError("give the client's keys as a JWKS or a JWKS URL, not both")
    if jwks is not None and not isinstance(jwks.get("keys"), list):
        raise AdminError('the client\'s keys must be a JWKS document: {"keys": [...]}')
    if jwks_url is not None and not jwks_url.startswith(("https://", "http://")):
        raise AdminError("the client's JWKS URL must be an http(s) URL")
    return True
