"""Administration: what the CLI (and demo mode) do to realms, clients and keys.

Every change bumps the realm's version in the same transaction, so that running services drop
what they cached within one poll interval.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ..oauth import (
    EXTRA_GRANTS,
    Clock,
    ConfigurationError,
    OAuthError,
    ResponseStyle,
    TokensmithError,
    as_algorithm,
    format_scope,
    parse_scope,
    system_clock,
)
from ..store import (
    REALM_NAME,
    Client,
    Database,
    Realm,
    SigningKeyRecord,
    clients,
    realms,
)
from ._keys import MasterKey, new_key, published_until
from ._ratelimit import check_limits
from ._secrets import SecretChecker, digest_generated, generate_secret

_CLIENT_ID = re.compile(r"[A-Za-z0-9._~@+-]{1,255}")
_PATH = re.compile(r"(/[A-Za-z0-9._~-]+)+")
_RESERVED_PREFIXES = ("/realms", "/auth", "/.well-known", "/health")
MAX_TTL = 366 * 24 * 3600
MAX_REUSE_GRACE = 300
RESERVED_CLAIMS = frozenset(
    {"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope", "azp", "act"}
)


class AdminError(TokensmithError, ValueError):
    """An administrative request that cannot be carried out; the message says why.

    Also a ``ValueError``: it reports a bad argument, and callers that caught ``ValueError``
    before it joined the tree keep working.
    """


@dataclass(frozen=True)
class NewClient:
    """A created client and, when tokensmith generated it, its secret (shown once)."""

    client: Client
    secret: str | None = field(repr=False)


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


def _check_path(path: str) -> str:
    if not _PATH.fullmatch(path):
        raise AdminError(
            f"token path {path!r} must look like /segment/segment (letters, digits, ._~-)"
        )
    if any(path == p or path.startswith(p + "/") for p in _RESERVED_PREFIXES):
        raise AdminError(f"token path {path!r} is reserved for the realm endpoints")
    return path


def _scopes(value: str, what: str) -> str:
    try:
        return format_scope(parse_scope(value))
    except OAuthError:
        raise AdminError(f"{what} holds a character that RFC 6749 §3.3 does not allow") from None


class Admin:
    """Realm, client and key management on a database."""

    def __init__(
        self,
        db: Database,
        master: MasterKey | Callable[[], MasterKey],
        *,
        checker: SecretChecker | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.db = db
        self._master = master
        self.checker = checker or SecretChecker()
        self.clock = clock

    @property
    def master(self) -> MasterKey:
        """The master key, loaded on first need (listing clients must not create a key file)."""
        if not isinstance(self._master, MasterKey):
            self._master = self._master()
        return self._master

    def _now(self) -> int:
        return int(self.clock())

    async def create_realm(
        self,
        name: str,
        *,
        access_token_ttl: int = 300,
        refresh_token_ttl: int = 1800,
        alg: str = "ES256",
        token_paths: Sequence[str] = (),
        response_style: str = "standard",
        audience: str | None = None,
        client_auth_limit: str | None = None,
        address_auth_limit: str | None = None,
        refresh_reuse_grace: int | None = None,
    ) -> Realm:
        """Create a realm with a current and a next signing key. ``client_auth_limit`` and
        ``address_auth_limit`` bound failed client authentications per client id and per source
        address (``limits`` notation, e.g. ``"20/minute;200/hour"``; None: the service's).
        ``refresh_reuse_grace`` is how many seconds a client may present a just-rotated refresh
        token again and get a new pair (0 turns it off; None: the service's default).

        Raises:
            AdminError: an argument is invalid.
            Conflict: the name or a token path is taken.
        """
        for limit in (client_auth_limit, address_auth_limit):
            if limit is not None:
                try:
                    check_limits(limit)
                except ConfigurationError as exc:
                    raise AdminError(str(exc)) from None
        if refresh_reuse_grace is not None and not 0 <= refresh_reuse_grace <= MAX_REUSE_GRACE:
            raise AdminError(
                f"the refresh reuse grace period must be between 0 and {MAX_REUSE_GRACE} "
                f"seconds, not {refresh_reuse_grace}"
            )
        if not REALM_NAME.fullmatch(name):
            raise AdminError(f"realm name {name!r} must be 1-64 letters, digits, '.', '_' or '-'")
        try:
            algorithm = as_algorithm(alg)
        except ValueError as exc:
            raise AdminError(str(exc)) from None
        paths = [_check_path(p) for p in dict.fromkeys(token_paths)]
        now = self._now()
        async with self.db.write() as conn:
            realm = await realms.create_realm(
                conn,
                name=name,
                access_token_ttl=check_ttl("access token lifetime", access_token_ttl),
                refresh_token_ttl=check_ttl("refresh token lifetime", refresh_token_ttl),
                alg=alg,
                response_style=check_style(response_style).value,
                audience=audience or None,
                paths=paths,
                now=now,
                client_auth_limit=client_auth_limit,
                address_auth_limit=address_auth_limit,
                refresh_reuse_grace=refresh_reuse_grace,
            )
            for state in ("current", "next"):
                await realms.add_key(
                    conn,
                    new_key(self.master, realm_id=realm.id, alg=algorithm, state=state, now=now),
                )
        return realm

    async def realm(self, name: str) -> Realm:
        """The realm called ``name``.

        Raises:
            NotFound: there is no such realm.
        """
        async with self.db.read() as conn:
            return await realms.require_realm(conn, name)

    async def list_realms(self) -> list[Realm]:
        """Every realm."""
        async with self.db.read() as conn:
            return await realms.list_realms(conn)

    async def delete_realm(self, name: str) -> None:
        """Delete a realm with its clients, keys and tokens.

        Raises:
            NotFound: there is no such realm.
        """
        async with self.db.write() as conn:
            await realms.delete_realm(conn, name)

    async def create_client(
        self,
        realm_name: str,
        client_id: str,
        *,
        secret: str | None = None,
        scopes: str = "",
        default_scopes: str | None = None,
        refresh_tokens: bool = False,
        access_token_ttl: int | None = None,
        response_style: str | None = None,
        grant_types: Sequence[str] = (),
        audience: str | None = None,
        extra_claims: Mapping[str, object] | None = None,
        jwks: Mapping[str, object] | None = None,
        jwks_url: str | None = None,
    ) -> NewClient:
        """Create a client. Without ``secret`` a 256-bit secret is generated and returned once;
        a given secret is stored with argon2id. Default scopes default to all allowed scopes.
        ``grant_types`` enables id_auth, token-exchange or jwt-bearer; ``audience`` and
        ``extra_claims`` go into every access token of the client. With ``jwks`` or ``jwks_url``
        the client authenticates with private_key_jwt and gets no secret.

        Raises:
            AdminError: an argument is invalid.
            NotFound: the realm does not exist.
            Conflict: the client id is taken in this realm.
        """
        if not _CLIENT_ID.fullmatch(client_id):
            raise AdminError(f"client id {client_id!r} must be 1-255 letters, digits or ._~@+-")
        allowed = _scopes(scopes, "--scope")
        defaults = allowed if default_scopes is None else _scopes(default_scopes, "--default-scope")
        extra = parse_scope(defaults) - parse_scope(allowed)
        if extra:
            raise AdminError(
                f"default scopes {format_scope(extra)!r} are not among the allowed scopes"
            )
        if access_token_ttl is not None:
            check_ttl("access token lifetime", access_token_ttl)
        unknown = set(grant_types) - set(EXTRA_GRANTS)
        if unknown:
            raise AdminError(
                f"unknown grant {sorted(unknown)[0]!r}; choose from {', '.join(EXTRA_GRANTS)}"
            )
        reserved = set(extra_claims or {}) & RESERVED_CLAIMS
        if reserved:
            raise AdminError(f"claim {sorted(reserved)[0]!r} is set by tokensmith itself")
        style = check_style(response_style).value if response_style else None
        keyed = jwks is not None or jwks_url is not None
        if keyed:
            if secret is not None:
                raise AdminError("a private_key_jwt client has keys, not a secret")
            if jwks is not None and jwks_url is not None:
                raise AdminError("give the client's keys as a JWKS or a JWKS URL, not both")
            if jwks is not None and not isinstance(jwks.get("keys"), list):
                raise AdminError('the client\'s keys must be a JWKS document: {"keys": [...]}')
            if jwks_url is not None and not jwks_url.startswith(("https://", "http://")):
                raise AdminError("the client's JWKS URL must be an http(s) URL")
            generated, digest = None, ""
        else:
            generated, digest = self._new_secret(secret)
        async with self.db.write() as conn:
            realm = await realms.require_realm(conn, realm_name)
            client = await clients.create_client(
                conn,
                realm_id=realm.id,
                client_id=client_id,
                scopes=allowed,
                default_scopes=defaults,
                refresh_tokens=refresh_tokens,
                access_token_ttl=access_token_ttl,
                response_style=style,
                secret_digest=digest,
                now=self._now(),
                grant_types=" ".join(sorted(set(grant_types))),
                audience=audience or None,
                extra_claims=json.dumps(dict(extra_claims)) if extra_claims else None,
                jwks=json.dumps(dict(jwks)) if jwks is not None else None,
                jwks_url=jwks_url,
            )
            await realms.bump_version(conn, realm.id)
        return NewClient(client, generated)

    async def client(self, realm_name: str, client_id: str) -> Client:
        """The client ``client_id`` of the realm.

        Raises:
            NotFound: the realm or the client does not exist.
        """
        async with self.db.read() as conn:
            realm = await realms.require_realm(conn, realm_name)
            return await clients.require_client(conn, realm.id, client_id)

    async def list_clients(self, realm_name: str) -> list[Client]:
        """The realm's clients.

        Raises:
            NotFound: the realm does not exist.
        """
        async with self.db.read() as conn:
            realm = await realms.require_realm(conn, realm_name)
            return await clients.list_clients(conn, realm.id)

    async def set_client_enabled(self, realm_name: str, client_id: str, enabled: bool) -> None:
        """Enable or disable a client; a disabled client gets ``invalid_client``.

        Raises:
            NotFound: the realm or the client does not exist.
        """
        async with self.db.write() as conn:
            realm = await realms.require_realm(conn, realm_name)
            client = await clients.require_client(conn, realm.id, client_id)
            await clients.set_enabled(conn, client.id, enabled)
            await realms.bump_version(conn, realm.id)

    async def delete_client(self, realm_name: str, client_id: str) -> None:
        """Delete a client with its secrets and refresh tokens.

        Raises:
            NotFound: the realm or the client does not exist.
        """
        async with self.db.write() as conn:
            realm = await realms.require_realm(conn, realm_name)
            client = await clients.require_client(conn, realm.id, client_id)
            await clients.delete_client(conn, client.id)
            await realms.bump_version(conn, realm.id)

    async def rotate_secret(
        self, realm_name: str, client_id: str, *, grace: int = 0, secret: str | None = None
    ) -> NewClient:
        """Give the client a new secret; its other secrets keep working for ``grace`` seconds.

        Raises:
            AdminError: ``grace`` is negative.
            NotFound: the realm or the client does not exist.
        """
        if grace < 0:
            raise AdminError("the grace period must not be negative")
        generated, digest = self._new_secret(secret)
        now = self._now()
        async with self.db.write() as conn:
            realm = await realms.require_realm(conn, realm_name)
            client = await clients.require_client(conn, realm.id, client_id)
            await clients.expire_secrets(conn, client.id, at=now + grace, now=now)
            await clients.add_secret(conn, client.id, digest, now)
            await realms.bump_version(conn, realm.id)
            client = await clients.require_client(conn, realm.id, client_id)
        return NewClient(client, generated)

    def _new_secret(self, chosen: str | None) -> tuple[str | None, str]:
        """The generated secret (None when one was chosen) and the digest to store."""
        if chosen is None:
            generated = generate_secret()
            return generated, digest_generated(generated)
        if not chosen:
            raise AdminError("the secret must not be empty")
        return None, self.checker.digest_chosen(chosen)

    async def list_keys(self, realm_name: str) -> list[SigningKeyRecord]:
        """The realm's signing keys, newest first.

        Raises:
            NotFound: the realm does not exist.
        """
        async with self.db.read() as conn:
            realm = await realms.require_realm(conn, realm_name)
            return await realms.list_keys(conn, realm.id)

    async def rotate_keys(self, realm_name: str) -> list[SigningKeyRecord]:
        """Rotate the realm's keys: next becomes current, current becomes previous (stopped
        now), and a new next key is made. Verifiers that cached the JWKS already know the new
        current key. A previous key stays published until every token it signed has expired,
        however often keys rotate; at rotation, previous keys past that point are retired.

        Raises:
            NotFound: the realm does not exist.
        """
        now = self._now()
        async with self.db.write() as conn:
            realm = await realms.require_realm(conn, realm_name)
            keys = await realms.list_keys(conn, realm.id)
            longest = await realms.longest_access_token_ttl(conn, realm)
            for old in keys:
                if old.state != "previous":
                    continue
                if old.stopped_at is None:  # stopped before stop times were kept: from now
                    await realms.set_key_state(conn, old.kid, "previous", stopped_at=now)
                elif published_until(old, longest) <= now:
                    await realms.set_key_state(conn, old.kid, "retired")
            by_state = {k.state: k for k in keys if k.state != "previous"}
            if "current" in by_state:
                await realms.set_key_state(
                    conn, by_state["current"].kid, "previous", stopped_at=now
                )
            algorithm = as_algorithm(realm.alg)
            if "next" in by_state:
                await realms.set_key_state(conn, by_state["next"].kid, "current")
            else:
                await realms.add_key(
                    conn,
                    new_key(
                        self.master, realm_id=realm.id, alg=algorithm, state="current", now=now
                    ),
                )
            await realms.add_key(
                conn, new_key(self.master, realm_id=realm.id, alg=algorithm, state="next", now=now)
            )
            await realms.bump_version(conn, realm.id)
            return await realms.list_keys(conn, realm.id)
