"""Administration: what the CLI (and demo mode) do to realms, clients and keys. What a request
may ask is checked first, in ``_admin_checks``; this module carries it out.

Every change to a realm goes through :func:`changing`, which bumps the realm's version in the same
transaction, so that running services drop what they cached within one poll interval; and every
change writes its admin event (``_audit``) in the transaction that makes it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from ..oauth import Clock, as_algorithm, system_clock
from ..store import (
    Client,
    Connection,
    Database,
    NotFound,
    Realm,
    SigningKeyRecord,
    clients,
    realms,
)
from ._admin_checks import (
    MAX_TTL,
    AdminError,
    RealmNotEmpty,
    check_algorithm,
    check_assertion_lifetime,
    check_client_id,
    check_client_keys,
    check_cors_origins,
    check_extra_claims,
    check_grants,
    check_limit,
    check_realm_name,
    check_resources,
    check_reuse_grace,
    check_scopes,
    check_style,
    check_token_paths,
    check_ttl,
    missing_realm,
)
from ._audit import record_change
from ._events import emit
from ._keys import MasterKey, new_key, published_until
from ._secrets import SecretChecker, digest_generated, generate_secret


async def require_realm(conn: Connection, name: str) -> Realm:
    """The realm called ``name`` (exactly: names are case-sensitive, as in URLs).

    Raises:
        NotFound: there is no such realm; the message names the closest realms there are.
    """
    realm = await realms.get_realm(conn, name)
    if realm is None:
        raise NotFound(missing_realm(name, await realms.realm_names(conn)))
    return realm


@asynccontextmanager
async def reading(db: Database, realm_name: str) -> AsyncIterator[tuple[Connection, Realm]]:
    """A read transaction and the realm called ``realm_name``.

    Raises:
        NotFound: there is no such realm.
    """
    async with db.read() as conn:
        yield conn, await require_realm(conn, realm_name)


@asynccontextmanager
async def changing(db: Database, realm_name: str) -> AsyncIterator[tuple[Connection, Realm]]:
    """A write transaction on the realm called ``realm_name`` that, when the change succeeds,
    bumps the realm's version before it commits.

    Raises:
        NotFound: there is no such realm.
    """
    async with db.write() as conn:
        realm = await require_realm(conn, realm_name)
        yield conn, realm
        await realms.bump_version(conn, realm.id)


@dataclass(frozen=True)
class NewClient:
    """A created client and, when tokensmith generated it, its secret (shown once)."""

    client: Client
    secret: str | None = field(repr=False)


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
        max_assertion_lifetime: int | None = None,
        cors_origins: Sequence[str] = (),
        dpop_required: bool = False,
        dpop_nonce: bool = False,
    ) -> Realm:
        """Create a realm with a current and a next signing key. ``client_auth_limit`` and
        ``address_auth_limit`` bound failed client authentications per client id and per source
        address (``limits`` notation, e.g. ``"20/minute;200/hour"``; None: the service's).
        ``refresh_reuse_grace`` is how many seconds a client may present a just-rotated refresh
        token again and get a new pair (0 turns it off; None: the service's default).
        ``max_assertion_lifetime`` is how many seconds a private_key_jwt assertion may live at
        most (None: :data:`~tokensmith.store.DEFAULT_MAX_ASSERTION_LIFETIME`).
        ``cors_origins`` are the exact origins (``https://app.example.com``) whose pages may
        call the token endpoint and read its answers (none: no CORS there). With
        ``dpop_required`` every access token must be DPoP-bound (RFC 9449); with ``dpop_nonce``
        proofs at the token endpoint must carry the service's nonce.

        Raises:
            AdminError: an argument is invalid.
            Conflict: the name or a token path is taken.
        """
        check_limit(client_auth_limit)
        check_limit(address_auth_limit)
        check_reuse_grace(refresh_reuse_grace)
        check_assertion_lifetime(max_assertion_lifetime)
        check_realm_name(name)
        algorithm = check_algorithm(alg)
        paths = check_token_paths(token_paths)
        origins = check_cors_origins(cors_origins)
        access_token_ttl = check_ttl("access token lifetime", access_token_ttl)
        refresh_token_ttl = check_ttl("refresh token lifetime", refresh_token_ttl)
        style = check_style(response_style).value
        now = self._now()
        async with self.db.write() as conn:
            realm = await realms.create_realm(
                conn,
                name=name,
                access_token_ttl=access_token_ttl,
                refresh_token_ttl=refresh_token_ttl,
                alg=alg,
                response_style=style,
                audience=audience or None,
                paths=paths,
                now=now,
                client_auth_limit=client_auth_limit,
                address_auth_limit=address_auth_limit,
                refresh_reuse_grace=refresh_reuse_grace,
                max_assertion_lifetime=max_assertion_lifetime,
                cors_origins=origins,
                dpop_required=dpop_required,
                dpop_nonce=dpop_nonce,
            )
            for state in ("current", "next"):
                await realms.add_key(
                    conn,
                    new_key(self.master, realm_id=realm.id, alg=algorithm, state=state, now=now),
                )
            await record_change(conn, self.clock, realm.name, "CREATE", "REALM", "", alg=realm.alg)
        emit("realm_created", realm=realm.name, alg=realm.alg)
        return realm

    async def realm(self, name: str) -> Realm:
        """The realm called ``name``.

        Raises:
            NotFound: there is no such realm.
        """
        async with self.db.read() as conn:
            return await require_realm(conn, name)

    async def list_realms(self) -> list[Realm]:
        """Every realm."""
        async with self.db.read() as conn:
            return await realms.list_realms(conn)

    async def update_realm(
        self,
        name: str,
        *,
        access_token_ttl: int | None = None,
        refresh_token_ttl: int | None = None,
    ) -> Realm:
        """Change the realm's token lifetimes (None: keep). Tokens already issued keep theirs.

        Raises:
            AdminError: a lifetime is invalid.
            NotFound: there is no such realm.
        """
        values: dict[str, int] = {}
        if access_token_ttl is not None:
            values["access_token_ttl"] = check_ttl("access token lifetime", access_token_ttl)
        if refresh_token_ttl is not None:
            values["refresh_token_ttl"] = check_ttl("refresh token lifetime", refresh_token_ttl)
        async with changing(self.db, name) as (conn, realm):
            if values:
                await realms.update_realm(conn, realm.id, **values)
                await record_change(conn, self.clock, name, "UPDATE", "REALM", "", **values)
            changed = await require_realm(conn, name)
        if values:
            emit("realm_updated", realm=name, **values)
        return changed

    async def delete_realm(self, name: str, *, with_clients: bool = True) -> None:
        """Delete a realm with its clients, keys and tokens; with ``with_clients`` false, only
        if it has no client (checked in the deleting transaction).

        Raises:
            NotFound: there is no such realm.
            RealmNotEmpty: ``with_clients`` is false and the realm has clients.
        """
        async with self.db.write() as conn:
            realm = await require_realm(conn, name)
            if not with_clients:
                count = await realms.count_clients(conn, realm.id)
                if count:
                    raise RealmNotEmpty(name, count)
            await realms.delete_realm(conn, name)
            await record_change(conn, self.clock, realm.name, "DELETE", "REALM", "")
        emit("realm_deleted", realm=realm.name)

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
        resources: Sequence[str] = (),
        dpop_required: bool = False,
        federated_only: bool = False,
    ) -> NewClient:
        """Create a client. Without ``secret`` a 256-bit secret is generated and returned once;
        a given secret is stored with argon2id. Default scopes default to all allowed scopes.
        ``grant_types`` enables id_auth, token-exchange or jwt-bearer; ``audience`` and
        ``extra_claims`` go into every access token of the client. With ``jwks`` or ``jwks_url``
        the client authenticates with private_key_jwt and gets no secret. ``resources`` are the
        absolute URIs the client may name as RFC 8707 resource indicators (beside its audience).
        With ``dpop_required`` its access tokens must be DPoP-bound (RFC 9449 §5.2).
        A ``federated_only`` client has no secret and no keys: it authenticates only with a
        platform token matching one of its federated credentials (:class:`Federation`).

        Raises:
            AdminError: an argument is invalid.
            NotFound: the realm does not exist.
            Conflict: the client id is taken in this realm.
        """
        if federated_only and (secret is not None or jwks is not None or jwks_url is not None):
            raise AdminError("a federated-only client has no secret and no keys")
        check_client_id(client_id)
        allowed, defaults = check_scopes(scopes, default_scopes)
        if access_token_ttl is not None:
            check_ttl("access token lifetime", access_token_ttl)
        grants = check_grants(grant_types)
        check_extra_claims(extra_claims)
        targets = check_resources(resources)
        style = check_style(response_style).value if response_style else None
        if federated_only or check_client_keys(secret, jwks, jwks_url):
            generated, digest = None, ""
        else:
            generated, digest = self._new_secret(secret)
        async with changing(self.db, realm_name) as (conn, realm):
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
                grant_types=grants,
                audience=audience or None,
                extra_claims=json.dumps(dict(extra_claims)) if extra_claims else None,
                jwks=json.dumps(dict(jwks)) if jwks is not None else None,
                jwks_url=jwks_url,
                resources=targets,
                dpop_required=dpop_required,
            )
            await record_change(
                conn,
                self.clock,
                realm.name,
                "CREATE",
                "CLIENT",
                f"clients/{client.id}",
                clientId=client_id,
                method="federated"
                if federated_only
                else ("private_key_jwt" if not digest else "client_secret"),
            )
        emit(
            "client_created",
            realm=realm_name,
            client_id=client_id,
            method="federated"
            if federated_only
            else ("private_key_jwt" if not digest else "client_secret"),
        )
        return NewClient(client, generated)

    async def client(self, realm_name: str, client_id: str) -> Client:
        """The client ``client_id`` of the realm.

        Raises:
            NotFound: the realm or the client does not exist.
        """
        async with reading(self.db, realm_name) as (conn, realm):
            return await clients.require_client(conn, realm.id, client_id)

    async def list_clients(self, realm_name: str) -> list[Client]:
        """The realm's clients.

        Raises:
            NotFound: the realm does not exist.
        """
        async with reading(self.db, realm_name) as (conn, realm):
            return await clients.list_clients(conn, realm.id)

    async def set_client_enabled(self, realm_name: str, client_id: str, enabled: bool) -> None:
        """Enable or disable a client; a disabled client gets ``invalid_client``.

        Raises:
            NotFound: the realm or the client does not exist.
        """
        async with changing(self.db, realm_name) as (conn, realm):
            client = await clients.require_client(conn, realm.id, client_id)
            await clients.set_enabled(conn, client.id, enabled)
            await record_change(
                conn,
                self.clock,
                realm.name,
                "UPDATE",
                "CLIENT",
                f"clients/{client.id}",
                clientId=client_id,
                enabled=enabled,
            )
        emit(
            "client_enabled" if enabled else "client_disabled",
            realm=realm_name,
            client_id=client_id,
        )

    async def update_client(
        self,
        realm_name: str,
        client_id: str,
        *,
        scopes: str,
        default_scopes: str | None = None,
        refresh_tokens: bool,
        access_token_ttl: int | None,
        audience: str | None,
        extra_claims: Mapping[str, object] | None,
        jwks: Mapping[str, object] | None = None,
        jwks_url: str | None = None,
        dpop_required: bool = False,
    ) -> Client:
        """Replace the client's token settings (its scopes, refresh tokens, access-token lifetime
        (None: the realm's), audience and extra claims) and, for a private_key_jwt client, its
        keys. How the client authenticates cannot change: a secret client stays one.

        Raises:
            AdminError: an argument is invalid, or it would change how the client authenticates.
            NotFound: the realm or the client does not exist.
        """
        allowed, defaults = check_scopes(scopes, default_scopes)
        if access_token_ttl is not None:
            check_ttl("access token lifetime", access_token_ttl)
        check_extra_claims(extra_claims)
        keys = jwks is not None or jwks_url is not None
        if keys:
            check_client_keys(None, jwks, jwks_url)
        async with changing(self.db, realm_name) as (conn, realm):
            client = await clients.require_client(conn, realm.id, client_id)
            has_keys = bool(client.jwks or client.jwks_url)
            if keys != has_keys:
                now_with = "a secret" if client.secrets else "federated credentials only"
                raise AdminError(
                    f"client {client_id} authenticates with "
                    f"{'keys' if has_keys else now_with}; that cannot "
                    "change: create a client that authenticates the other way"
                )
            await clients.update_client(
                conn,
                client.id,
                scopes=allowed,
                default_scopes=defaults,
                refresh_tokens=refresh_tokens,
                access_token_ttl=access_token_ttl,
                audience=audience or None,
                extra_claims=json.dumps(dict(extra_claims)) if extra_claims else None,
                jwks=json.dumps(dict(jwks)) if jwks is not None else None,
                jwks_url=jwks_url,
                dpop_required=dpop_required,
            )
            await record_change(
                conn,
                self.clock,
                realm_name,
                "UPDATE",
                "CLIENT",
                f"clients/{client.id}",
                clientId=client_id,
                scopes=allowed,
                accessTokenLifespan=access_token_ttl,
                refreshTokens=refresh_tokens,
                dpopRequired=dpop_required,
            )
            changed = await clients.require_client(conn, realm.id, client_id)
        emit("client_updated", realm=realm_name, client_id=client_id)
        return changed

    async def delete_client(self, realm_name: str, client_id: str) -> None:
        """Delete a client with its secrets and refresh tokens.

        Raises:
            NotFound: the realm or the client does not exist.
        """
        async with changing(self.db, realm_name) as (conn, realm):
            client = await clients.require_client(conn, realm.id, client_id)
            await clients.delete_client(conn, client.id)
            await record_change(
                conn,
                self.clock,
                realm.name,
                "DELETE",
                "CLIENT",
                f"clients/{client.id}",
                clientId=client_id,
            )
        emit("client_deleted", realm=realm_name, client_id=client_id)

    async def rotate_secret(
        self, realm_name: str, client_id: str, *, grace: int = 0, secret: str | None = None
    ) -> NewClient:
        """Give the client a new secret; its other secrets keep working for ``grace`` seconds.

        Raises:
            AdminError: ``grace`` is negative or longer than a year.
            NotFound: the realm or the client does not exist.
        """
        if not 0 <= grace <= MAX_TTL:
            raise AdminError(f"the grace period must be between 0 and {MAX_TTL} seconds")
        generated, digest = self._new_secret(secret)
        now = self._now()
        async with changing(self.db, realm_name) as (conn, realm):
            client = await clients.require_client(conn, realm.id, client_id)
            await clients.expire_secrets(conn, client.id, at=now + grace, now=now)
            await clients.add_secret(conn, client.id, digest, now)
            client = await clients.require_client(conn, realm.id, client_id)
            await record_change(
                conn,
                self.clock,
                realm.name,
                "ACTION",
                "CLIENT_SECRET",
                f"clients/{client.id}/client-secret",
                clientId=client_id,
                gracePeriod=grace,
            )
        emit("secret_rotated", realm=realm_name, client_id=client_id, grace=grace)
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
        async with reading(self.db, realm_name) as (conn, realm):
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
        async with changing(self.db, realm_name) as (conn, realm):
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
            keys = await realms.list_keys(conn, realm.id)
            current = next((k.kid for k in keys if k.state == "current"), None)
            following = next((k.kid for k in keys if k.state == "next"), None)
            await record_change(
                conn,
                self.clock,
                realm.name,
                "ACTION",
                "KEYS",
                "keys",
                currentKid=current,
                nextKid=following,
            )
        emit("key_rotated", realm=realm_name, current_kid=current, next_kid=following)
        return keys
