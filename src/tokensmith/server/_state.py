"""What the service keeps in memory so that the token hot path reads no database.

Realms (settings, signer, JWKS) and clients are loaded on first use and dropped when the realm's
version in the database changes; a poller reads the versions every few seconds, so a change made by
the CLI or another instance is noticed within one poll interval. Concurrent requests that miss
the cache for the same realm or client share one load: a burst of requests reaching a cold
worker reads the database once, not once per request (each read its own pooled connection).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..oauth import (
    Clock,
    InvalidClient,
    InvalidToken,
    PublicKeys,
    ResponseStyle,
    Signer,
    TemporarilyUnavailable,
    system_clock,
    verify_jwt_access_token,
)
from ..store import (
    REALM_NAME,
    Client,
    Database,
    Realm,
    TrustedIssuer,
    clients,
    denylist,
    issuers,
    realms,
    refresh,
)
from ._keys import MasterKey, MasterKeyError, published_until, signer_for

log = logging.getLogger("tokensmith.server")

T = TypeVar("T")

MAX_CLIENT_ID_LENGTH = 255  # the width of clients.client_id
_UNKNOWN_IDS_BYTES = 512 * 1024  # per realm, what the ids remembered as unknown may take
_ENTRY_OVERHEAD = 128  # what a dict entry and a str object cost beyond the characters
_PURGE_EVERY = 600.0
_PURGE_BATCH = 5000


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class UnknownIds:
    """Client ids a realm is known not to have, within a budget of bytes: the oldest are
    forgotten first, so that made-up ids cannot fill memory."""

    def __init__(self, budget: int = _UNKNOWN_IDS_BYTES) -> None:
        self.budget = budget
        self.size = 0
        self._ids: dict[str, int] = {}

    def __contains__(self, client_id: str) -> bool:
        return client_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, client_id: str) -> None:
        """Remember ``client_id`` as unknown, forgetting the oldest ids over the budget."""
        cost = len(client_id.encode("utf-8", "surrogatepass")) + _ENTRY_OVERHEAD
        if client_id in self._ids or cost > self.budget:
            return
        while self._ids and self.size + cost > self.budget:
            self.size -= self._ids.pop(next(iter(self._ids)))
        self._ids[client_id] = cost
        self.size += cost


@dataclass
class RealmState:
    """A realm as the hot path needs it."""

    realm: Realm
    signer: Signer
    jwks: bytes
    public_keys: PublicKeys
    style: ResponseStyle
    issuers: dict[str, TrustedIssuer] = field(default_factory=dict)
    clients: dict[str, Client] = field(default_factory=dict)
    unknown_clients: UnknownIds = field(default_factory=UnknownIds)
    jwks_until: float = float("inf")  # when a stopped key leaves the JWKS: reload then

    def verify_own(self, token: str, now: float) -> dict[str, Any]:
        """The claims of an access token this realm issued and that is still valid at ``now``.

        Raises:
            InvalidToken: forged, expired, signed by a retired key, or from another realm.
        """
        claims = verify_jwt_access_token(
            token,
            self.public_keys,
            algorithms=(self.realm.alg,),
            issuer=None,
            audience=None,
            now=now,
            leeway=0,
        )
        if not str(claims.get("iss", "")).endswith(f"/realms/{self.realm.name}"):
            raise InvalidToken("the token is from another realm")
        return claims

    @property
    def audience(self) -> str:
        """The ``aud`` of the realm's access tokens."""
        return self.realm.audience or self.realm.name


class Registry:
    """The in-memory cache of realms and clients, kept fresh by polling realm versions."""

    def __init__(
        self,
        db: Database,
        master: MasterKey,
        *,
        poll_interval: float = 2.0,
        clock: Clock = system_clock,
    ) -> None:
        self.db = db
        self.master = master
        self.poll_interval = poll_interval
        self.clock = clock
        self._states: dict[str, RealmState] = {}
        self._paths: dict[str, str] = {}
        self._indexed_at = -1e9
        self._index_lock = asyncio.Lock()
        self._epoch = 0
        self._task: asyncio.Task[None] | None = None
        self._loading: dict[Hashable, asyncio.Future[Any]] = {}

    def __repr__(self) -> str:
        return f"Registry(realms={sorted(self._states)})"

    async def realm_for_path(self, path: str) -> str | None:
        """The realm whose token endpoint has the alias ``path``; an unknown path re-reads the
        index once (concurrent misses share one read)."""
        name = self._paths.get(path)
        if name is None:
            await self.refresh_index(since=time.monotonic())
            name = self._paths.get(path)
        return name

    async def realm(self, name: str) -> RealmState | None:
        """The realm's state, loading it if needed; None when there is no such realm (a name no
        realm can have is not looked up)."""
        state = self._states.get(name)
        if state is not None:
            return state
        if not REALM_NAME.fullmatch(name):
            return None
        return await self._once(("realm", name, self._epoch), functools.partial(self._load, name))

    async def client(self, state: RealmState, client_id: str) -> Client | None:
        """The realm's client ``client_id``, loading it if needed; None when unknown. Unknown ids
        are remembered within a byte budget per realm.

        An id that no database could hold (a NUL character, a lone surrogate) names no client
        and is not looked up.

        Raises:
            InvalidClient: ``client_id`` is longer than any client id can be (read nothing).
        """
        client = state.clients.get(client_id)  # the hot path: a known client, nothing else
        if client is not None or client_id in state.unknown_clients:
            return client
        if len(client_id) > MAX_CLIENT_ID_LENGTH:
            raise InvalidClient(f"client_id is longer than {MAX_CLIENT_ID_LENGTH} characters")
        if not _storable(client_id):
            return None
        load = functools.partial(self._load_client, state, client_id)
        return await self._once(("client", id(state), client_id), load)

    async def _load_client(self, state: RealmState, client_id: str) -> Client | None:
        epoch = self._epoch
        async with self.db.read() as conn:
            client = await clients.get_client(conn, state.realm.id, client_id)
        if epoch == self._epoch:
            if client is None:
                state.unknown_clients.add(client_id)
            else:
                state.clients[client_id] = client
        return client

    async def _once(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        """What ``load()`` returns or raises; concurrent calls with the same ``key`` share one
        run, which goes on when a caller is cancelled."""
        task = self._loading.get(key)
        if task is None:
            task = self._loading[key] = asyncio.ensure_future(load())
            task.add_done_callback(functools.partial(self._loaded, key))
        result: T = await asyncio.shield(task)
        return result

    def _loaded(self, key: Hashable, task: asyncio.Future[Any]) -> None:
        if self._loading.get(key) is task:
            del self._loading[key]
        if not task.cancelled():
            task.exception()  # retrieved here too: every caller may have been cancelled

    def invalidate(self, name: str | None = None) -> None:
        """Drop what is cached of realm ``name`` (of every realm when None)."""
        self._epoch += 1
        if name is None:
            self._states.clear()
        else:
            self._states.pop(name, None)

    async def _load(self, name: str) -> RealmState | None:
        """Load a realm. Its JWKS holds the current and next keys and every stopped key whose
        tokens may still be valid; the state is reloaded when the first of those expires.

        Raises:
            TemporarilyUnavailable: the master key does not open the realm's signing key.
        """
        epoch = self._epoch
        async with self.db.read() as conn:
            realm = await realms.get_realm(conn, name)
            if realm is None:
                return None
            keys = await realms.list_keys(conn, realm.id)
            trusted = await issuers.list_issuers(conn, realm.id)
            longest = await realms.longest_access_token_ttl(conn, realm)
        current = next((k for k in keys if k.state == "current"), None)
        if current is None:
            log.error("realm %s has no current signing key; run 'tokensmith key rotate'", name)
            return None
        now = self.clock()
        until = {k.kid: published_until(k, longest) for k in keys}
        jwks = {"keys": [json.loads(k.public_jwk) for k in keys if until[k.kid] > now]}
        try:
            signer = signer_for(current, self.master)
        except MasterKeyError as exc:
            log.error("realm %s: %s", name, exc)
            raise TemporarilyUnavailable(
                "the token service cannot open this realm's signing key; retry later"
            ) from None
        state = RealmState(
            realm=realm,
            signer=signer,
            jwks=json.dumps(jwks, separators=(",", ":")).encode(),
            public_keys=PublicKeys.from_jwks(jwks),
            style=ResponseStyle(realm.response_style),
            issuers={t.issuer: t for t in trusted},
            jwks_until=min((t for t in until.values() if t > now), default=float("inf")),
        )
        if epoch == self._epoch:
            self._states[name] = state
        return state

    async def refresh_index(self, *, since: float | None = None) -> None:
        """Re-read realm versions and token paths; drop realms whose version changed. With
        ``since``, skip the read if one started after that moment."""
        async with self._index_lock:
            if since is not None and self._indexed_at >= since:
                return
            started = time.monotonic()
            async with self.db.read() as conn:
                versions = await realms.realm_versions(conn)
                paths = await realms.token_path_owners(conn)
            for name, state in list(self._states.items()):
                if versions.get(name) != state.realm.version:
                    self.invalidate(name)
            self._paths = paths
            self._indexed_at = started

    def start(self) -> None:
        """Start polling in the background."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._poll())

    async def stop(self) -> None:
        """Stop polling."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _poll(self) -> None:
        purged_at = time.monotonic()
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                await self.refresh_index()
                now = self.clock()
                for name, state in list(self._states.items()):
                    if state.jwks_until <= now:  # a stopped key's last token has expired
                        self.invalidate(name)
                if time.monotonic() - purged_at > _PURGE_EVERY:
                    purged_at = time.monotonic()
                    while True:  # in batches: each statement stays within the timeout
                        async with self.db.write() as conn:
                            cutoff = int(self.clock())
                            gone = await refresh.delete_expired(conn, cutoff, limit=_PURGE_BATCH)
                            gone += await denylist.delete_expired(conn, cutoff, limit=_PURGE_BATCH)
                        if gone < _PURGE_BATCH:
                            break
            except Exception as exc:  # keep serving from the cache while the database is away
                log.warning("cannot refresh realm cache: %s", type(exc).__name__)
