"""What the service keeps in memory so that the token hot path reads no database.

Realms (settings, signer, JWKS) and clients are loaded on first use and dropped when the realm's
version in the database changes; a poller reads the versions of the realms held every few seconds,
so a change made by the CLI or another instance is noticed within one poll interval. On PostgreSQL
each process also listens for the notification every change sends at commit (``store._notify``)
and drops the realm at once: the poll is then the fallback for what a listener that was
reconnecting missed. What a poll,
a request or the start-up reads depends on the realms held, never on how many the database has.
Concurrent requests that miss the cache for the same realm or client share one load: a burst of
requests reaching a cold worker reads the database once, not once per request (each read its own
pooled connection).

At most ``max_realms`` realms are held; past that, the least recently used is dropped, and loaded
again when asked for (a few indexed reads and a key decryption: about 3 ms on SQLite, realm and
client). A held realm costs each worker 8 KiB of RSS on PostgreSQL and 17 KiB on SQLite, whose
page cache grows with it (``bench/realms.py``), so the bound keeps a service with tens of
thousands of realms within a known memory, while one whose clients use more realms than the bound
within minutes raises it (``TOKENSMITH_REALM_CACHE_SIZE``) rather than reload realms all the time.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ..oauth import (
    Clock,
    InvalidClient,
    InvalidToken,
    ResponseStyle,
    Signer,
    TemporarilyUnavailable,
    system_clock,
)
from ..store import (
    REALM_NAME,
    ChangeListener,
    Client,
    Database,
    Realm,
    TrustedIssuer,
    clients,
    denylist,
    federation,
    issuers,
    realms,
    refresh,
)
from ._federation import CompiledCredential, compile_credentials
from ._keys import MasterKey, MasterKeyError, published_until, signer_for
from ._routes import could_be_alias

if TYPE_CHECKING:
    from ..oauth import PublicKeys

log = logging.getLogger("tokensmith.server")

T = TypeVar("T")

MAX_CLIENT_ID_LENGTH = 255  # the width of clients.client_id
DEFAULT_MAX_REALMS = 1000
"""Realms a service holds in memory at most (``TOKENSMITH_REALM_CACHE_SIZE``)."""
_UNKNOWN_IDS_BYTES = 1024 * 1024  # per service, what the ids remembered as unknown may take
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
    """Client ids known not to exist, each as ``(realm load, client id)``, within one budget of
    bytes for all realms: the oldest are forgotten first, so that made-up ids cannot fill memory
    however many realms are held."""

    def __init__(self, budget: int = _UNKNOWN_IDS_BYTES) -> None:
        self.budget = budget
        self.size = 0
        self._ids: dict[tuple[int, str], int] = {}

    def __contains__(self, key: tuple[int, str]) -> bool:
        return key in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, key: tuple[int, str]) -> None:
        """Remember ``key`` as unknown, forgetting the oldest ids over the budget."""
        cost = len(key[1].encode("utf-8", "surrogatepass")) + _ENTRY_OVERHEAD
        if key in self._ids or cost > self.budget:
            return
        while self._ids and self.size + cost > self.budget:
            self.size -= self._ids.pop(next(iter(self._ids)))
        self._ids[key] = cost
        self.size += cost


@dataclass
class RealmState:
    """A realm as the hot path needs it."""

    realm: Realm
    signer: Signer
    jwks: bytes
    style: ResponseStyle
    issuers: dict[str, TrustedIssuer] = field(default_factory=dict)
    clients: dict[str, Client] = field(default_factory=dict)
    federated: dict[str, tuple[CompiledCredential, ...]] = field(default_factory=dict)
    """The clients' federated credentials by issuer URL, conditions compiled."""
    jwks_until: float = float("inf")  # when a stopped key leaves the JWKS: reload then
    load: int = 0  # which load of the realm this is: what its unknown client ids are kept under
    key_created_at: float = 0.0  # when the current signing key was made (a metric shows its age)

    def verify_own(self, token: str, now: float) -> dict[str, Any]:
        """The claims of an access token this realm issued and that is still valid at ``now``.

        Raises:
            InvalidToken: forged, expired, signed by a retired key, or from another realm.
        """
        from ..oauth import verify_jwt_access_token  # joserfc: with the first token verified

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

    @functools.cached_property
    def public_keys(self) -> PublicKeys:
        """The keys of the realm's JWKS, made when a token of the realm is first verified (only
        introspection and revocation do): about 7 KiB that most realms never need."""
        from ..oauth import PublicKeys

        return PublicKeys.from_jwks(json.loads(self.jwks))

    @property
    def audience(self) -> str:
        """The ``aud`` of the realm's access tokens."""
        return self.realm.audience or self.realm.name


class Registry:
    """The in-memory cache of realms and clients, kept fresh by polling the versions of the realms
    it holds, at most ``max_realms`` of them (the least recently used is dropped first)."""

    def __init__(
        self,
        db: Database,
        master: MasterKey,
        *,
        poll_interval: float = 2.0,
        max_realms: int = DEFAULT_MAX_REALMS,
        clock: Clock = system_clock,
    ) -> None:
        if max_realms < 1:
            raise ValueError("a registry holds at least one realm")
        self.db = db
        self.master = master
        self.poll_interval = poll_interval
        self.max_realms = max_realms
        self.clock = clock
        self.unknown_clients = UnknownIds()
        self._states: dict[str, RealmState] = {}  # least recently used first
        self._paths: dict[str, str] = {}  # the token-path aliases of the realms held
        self._loads = 0
        self._epoch = 0
        self._task: asyncio.Task[None] | None = None
        self._listener: ChangeListener | None = None
        self._listening: asyncio.Task[None] | None = None
        self.watchers: list[Callable[[str | None], None]] = []
        """Called with a realm's name (None: every realm) each time what is cached of it is
        dropped because it changed."""
        self._loading: dict[Hashable, asyncio.Future[Any]] = {}

    def __repr__(self) -> str:
        return f"Registry(realms={len(self._states)}, max_realms={self.max_realms})"

    def held(self) -> dict[str, RealmState]:
        """The realms held now, by name (a copy)."""
        return dict(self._states)

    def sizes(self) -> dict[str, int]:
        """How many entries each cache holds: ``realms``, ``clients`` (of the realms held) and
        ``unknown_client_ids``."""
        return {
            "realms": len(self._states),
            "clients": sum(len(state.clients) for state in self._states.values()),
            "unknown_client_ids": len(self.unknown_clients),
        }

    def knows_client(self, realm: str, client_id: str) -> bool:
        """Whether ``client_id`` is a client of the realm ``realm`` as held now (memory only:
        False for a realm or client not loaded)."""
        state = self._states.get(realm)
        return state is not None and client_id in state.clients

    async def realm_for_path(self, path: str) -> str | None:
        """The realm whose token endpoint has the alias ``path``, or None. The aliases of the
        realms held are answered from memory; another path that could be an alias is looked up
        (one indexed read) and its realm loaded."""
        name = self._paths.get(path)
        if name is not None or not could_be_alias(path):
            return name
        async with self.db.read() as conn:
            name = await realms.path_owner(conn, path)
        if name is None:
            return None
        state = await self.realm(name)
        return name if state is not None and path in state.realm.token_paths else None

    async def realm(self, name: str) -> RealmState | None:
        """The realm's state, loading it if needed; None when there is no such realm (a name no
        realm can have is not looked up)."""
        state = self._states.pop(name, None)
        if state is not None:
            self._states[name] = state  # now the most recently used
            return state
        if not REALM_NAME.fullmatch(name):
            return None
        return await self._once(("realm", name, self._epoch), functools.partial(self._load, name))

    async def client(self, state: RealmState, client_id: str) -> Client | None:
        """The realm's client ``client_id``, loading it if needed; None when unknown. Unknown ids
        are remembered within a byte budget for the whole registry.

        An id that no database could hold (a NUL character, a lone surrogate) names no client
        and is not looked up.

        Raises:
            InvalidClient: ``client_id`` is longer than any client id can be (read nothing).
        """
        client = state.clients.get(client_id)  # the hot path: a known client, nothing else
        if client is not None or (state.load, client_id) in self.unknown_clients:
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
                self.unknown_clients.add((state.load, client_id))
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
        """Drop what is cached of realm ``name`` (of every realm when None), and tell the
        :attr:`watchers`."""
        self._epoch += 1
        if name is None:
            self._states.clear()
            self._paths.clear()
        else:
            self._drop(name)
        for watcher in self.watchers:
            watcher(name)

    def _drop(self, name: str) -> None:
        state = self._states.pop(name, None)
        if state is not None:
            for path in state.realm.token_paths:
                if self._paths.get(path) == name:
                    del self._paths[path]

    def _hold(self, state: RealmState) -> None:
        """Keep ``state`` as its realm's, dropping the least recently used realms over the
        bound."""
        name = state.realm.name
        self._drop(name)
        self._states[name] = state
        for path in state.realm.token_paths:
            self._paths[path] = name
        while len(self._states) > self.max_realms:
            self._drop(next(iter(self._states)))

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
            credentials = await federation.list_credentials(conn, realm.id)
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
        self._loads += 1
        state = RealmState(
            realm=realm,
            signer=signer,
            jwks=json.dumps(jwks, separators=(",", ":")).encode(),
            style=ResponseStyle(realm.response_style),
            issuers={t.issuer: t for t in trusted},
            federated=compile_credentials(credentials),
            jwks_until=min((t for t in until.values() if t > now), default=float("inf")),
            load=self._loads,
            key_created_at=current.created_at,
        )
        if epoch == self._epoch:
            self._hold(state)
        return state

    async def refresh(self) -> None:
        """Re-read the versions of the realms held; drop those that changed or are gone."""
        held = list(self._states)
        if not held:
            return
        async with self.db.read() as conn:
            versions = await realms.realm_versions(conn, held)
        for name in held:
            state = self._states.get(name)
            if state is not None and versions.get(name) != (state.realm.id, state.realm.version):
                self.invalidate(name)

    @property
    def listening(self) -> bool:
        """Whether changes reach this registry by notification now (PostgreSQL, connected)."""
        return self._listener is not None and self._listener.connected.is_set()

    def start(self) -> None:
        """Start polling in the background and, on PostgreSQL, listening for changes."""
        loop = asyncio.get_running_loop()
        if self._task is None:
            self._task = loop.create_task(self._poll())
        if self._listening is None:
            self._listener = self.db.change_listener(self.invalidate, self.refresh)
            if self._listener is not None:
                self._listening = loop.create_task(self._listener.run())

    async def stop(self) -> None:
        """Stop polling and listening."""
        for task in (self._task, self._listening):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._task = self._listening = None

    async def _poll(self) -> None:
        purged_at = time.monotonic()
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                await self.refresh()
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
