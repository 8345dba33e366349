"""Rate limits on failed client authentication (RFC 6749 §2.3.1: the token endpoint must resist
brute force), on the ``limits`` library: one service's counters in memory, a fleet's in Redis.

Only failures are counted; a client that authenticates never spends its allowance. Two limits
apply, each per realm, in ``limits`` notation (``"20/minute;200/hour"``):

- the **address limit** counts failures from one source address, whatever client id they name
  (unknown ids included). Past it, that address is refused: this stops one host guessing.
- the **client limit** counts failures of one client id, from every address. Past it, the client id
  is refused only to addresses that have themselves failed for it within the limit's longest
  window; an address with no failure for that client is still let through. A distributed guesser
  gets one failure per address per window, and an attacker cannot lock the legitimate client out
  from the legitimate client's own address.

A refusal is :class:`~tokensmith.oauth.SlowDown` (HTTP 429 with ``Retry-After``) and happens before
the presented secret is checked. IPv6 addresses count per /56: a subscriber holds a /64 to a /56,
so one attacker cannot turn a /48 into 65,536 fresh addresses, only 256.
When the counter store fails (Redis away), authentication goes on unlimited and a warning is
logged: the limits protect the service, they must not take it down.

In memory, ``limits`` is imported with the first failure to count (or the first limit other than
the defaults to check): a service nobody fails against never loads it.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import ipaddress
import logging
import math
import time
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from functools import lru_cache
from typing import TYPE_CHECKING

from ..oauth import ConfigurationError, SlowDown, sha256_hex
from ..store import Realm
from ._events import emit

if TYPE_CHECKING:
    from limits import RateLimitItem
    from limits.aio.storage import MemoryStorage, RedisStorage
    from limits.aio.strategies import SlidingWindowCounterRateLimiter

log = logging.getLogger("tokensmith.server")

DEFAULT_CLIENT_LIMIT = "20/minute;200/hour"
DEFAULT_ADDRESS_LIMIT = "20/minute;200/hour"
MEMORY = "memory://"
_REDIS_SCHEMES = ("redis://", "rediss://", "redis+unix://")
_WARN_EVERY = 30.0
_RETRY_STORE_AFTER = 5.0  # after the store failed, limits are off this long (never a slow request)
REFUSAL_DELAY = 1.0
_PRUNE_AT = 10_000
_NEEDS_REDIS = "rate limits in Redis need the redis package: pip install 'tokensmith[server,redis]'"
_IPV6_PREFIX = 56
_KNOWN_GOOD = frozenset({DEFAULT_CLIENT_LIMIT, DEFAULT_ADDRESS_LIMIT})

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

REQUEST_ADDRESS: ContextVar[str] = ContextVar("tokensmith_request_address", default="unknown")
"""The source address of the request being answered, as :class:`TrustedProxies` found it; set by
the application for each form request, read where client authentication is counted."""


def check_limits(text: str) -> str:
    """``text`` if it is a rate limit in ``limits`` notation with positive amounts, such as
    ``"10/minute"`` or ``"20/minute;200/hour"``.

    Raises:
        ConfigurationError: anything else, with a message that shows the expected form.
    """
    if text not in _KNOWN_GOOD:  # checking these would import limits in every worker
        parse_limits(text)
    return text


@lru_cache(maxsize=256)
def parse_limits(text: str) -> tuple[RateLimitItem, ...]:
    """The rate limits of ``text`` (``limits`` notation).

    Raises:
        ConfigurationError: not that notation, or a zero amount.
    """
    from limits import parse_many

    try:
        items = tuple(parse_many(text))
    except ValueError:
        items = ()
    if not items or any(item.amount < 1 for item in items):
        from limits.limits import GRANULARITIES

        shown = text if len(text) <= 60 else text[:60] + "…"
        raise ConfigurationError(
            f"{shown!r} is not a rate limit: write COUNT/PERIOD, e.g. '10/minute' or "
            f"'20/minute;200/hour' (periods: {', '.join(GRANULARITIES)})"
        )
    return items


class TrustedProxies:
    """Which peers may say, in ``X-Forwarded-For``, whose request they pass on.

    Raises:
        ConfigurationError: a network is not an IP address or CIDR block.
    """

    def __init__(self, networks: Iterable[str] = ()) -> None:
        parsed: list[Network] = []
        for text in networks:
            try:
                parsed.append(ipaddress.ip_network(text.strip(), strict=False))
            except ValueError:
                raise ConfigurationError(
                    f"trusted proxy {text!r} is not an IP address or CIDR block"
                ) from None
        self.networks = tuple(parsed)

    def __repr__(self) -> str:
        return f"TrustedProxies({[str(n) for n in self.networks]})"

    def trusts(self, address: str) -> bool:
        """Whether ``address`` is one of the trusted proxies."""
        ip = _ip(address)
        return ip is not None and any(ip in network for network in self.networks)

    def client_address(self, peer: str | None, forwarded_for: str | None) -> str:
        """The address a request came from: the socket peer, unless the peer is a trusted proxy;
        then the nearest ``X-Forwarded-For`` hop that is not a trusted proxy (read right to left,
        since only the hops our proxies appended can be believed)."""
        address = peer or "unknown"
        if not forwarded_for or not self.networks or not self.trusts(address):
            return address
        for hop in reversed(forwarded_for.split(",")):
            hop = hop.strip()
            if _ip(hop) is None:
                return address  # unreadable: trust nothing further left
            address = hop
            if not self.trusts(hop):
                return hop
        return address


class AuthLimiter:
    """Counts failed client authentications and refuses clients and addresses past their limits.

    ``storage`` is ``memory://`` (one process) or a Redis URL (``redis://``, ``rediss://``,
    ``redis+unix://``) shared by every instance. ``client_limit`` and ``address_limit`` are the
    service defaults for realms that set none. A refused request is held ``refusal_delay``
    seconds before its answer, so that a guesser's connections idle instead of keeping the
    service busy answering 429.

    Raises:
        ConfigurationError: an unknown storage URL, a Redis URL without the redis package
            installed, or a malformed limit.
    """

    def __init__(
        self,
        storage: str = MEMORY,
        *,
        client_limit: str = DEFAULT_CLIENT_LIMIT,
        address_limit: str = DEFAULT_ADDRESS_LIMIT,
        refusal_delay: float = REFUSAL_DELAY,
    ) -> None:
        self.client_limit = check_limits(client_limit)
        self.address_limit = check_limits(address_limit)
        self.refusal_delay = refusal_delay
        self._shared = storage != MEMORY
        self._url = check_storage(storage)
        self._storage: MemoryStorage | RedisStorage | None = None
        self._counters: SlidingWindowCounterRateLimiter | None = None
        if self._shared:  # a Redis client now: a missing redis package is refused at startup
            self._limiter()
        self._warned_at = -math.inf
        self._resume_at = -math.inf
        # In memory every failure passes through this object, so it knows when each address and
        # client last failed: attempts with no recent failure skip the counters (the hot path).
        self._failed_at: dict[tuple[str, str, str], float] = {}
        self._prune_at = _PRUNE_AT
        self._longest = 0.0

    def __repr__(self) -> str:  # the storage URL may carry a Redis password
        kind = "redis" if self._shared else "memory"
        return f"AuthLimiter({kind}, client={self.client_limit!r}, address={self.address_limit!r})"

    async def admit(self, realm: Realm, client_id: str, address: str) -> None:
        """Let an authentication attempt of ``client_id`` from ``address`` go ahead, or refuse it
        after holding the request for ``refusal_delay`` seconds.

        Raises:
            SlowDown: the address, or the client id at an address that failed for it, is past
                its limit.
        """
        if self._shared:
            if time.monotonic() < self._resume_at:
                return  # the store failed a moment ago: do not wait on it per request
        elif not self._failed_at:
            return  # no failure at all lately: the hot path
        source = _source(address)
        if not self._shared and not self._failed_lately(realm, client_id, source):
            return
        try:
            refusal = await self._refusal(realm, client_id, source)
        except Exception as exc:
            self._storage_failed(exc)
            return
        if refusal is not None:
            error, limit = refusal
            emit(
                "rate_limited",
                realm=realm.name,
                client_id=client_id,
                address=address,
                limit=limit,
                retry_after=error.retry_after,
            )
            await asyncio.sleep(self.refusal_delay)
            raise error

    async def clean(self, realm: Realm, client_id: str, address: str) -> bool:
        """Whether ``address`` has not failed for ``client_id`` lately (such an attempt is the
        client's own, more likely than a guesser's); True when the counters cannot be read."""
        try:
            return not await self._has_failed(realm, _client_key(client_id), _source(address))
        except Exception as exc:
            self._storage_failed(exc)
            return True

    async def _refusal(
        self, realm: Realm, client_id: str, source: str
    ) -> tuple[SlowDown, str] | None:
        """The refusal of an attempt and the limit that refuses it (``address`` or
        ``client``), or None to let it go ahead."""
        client = _client_key(client_id)
        by_address, by_client = self._address_items(realm), self._client_items(realm)
        tests = [(item, "address", source) for item in by_address]
        tests += [(item, "client", client) for item in by_client]
        if self._shared:  # concurrently: the reads overlap instead of waiting on each other
            passed = await asyncio.gather(
                *(self._limiter().test(item, realm.name, kind, who) for item, kind, who in tests)
            )
        else:
            passed = [await self._limiter().test(i, realm.name, k, w) for i, k, w in tests]
        for item, ok in zip(by_address, passed, strict=False):
            if not ok:
                retry = await self._retry_after(item, realm.name, "address", source)
                return SlowDown(
                    f"too many failed client authentications from this address; retry in {retry} s",
                    retry_after=retry,
                ), "address"
        for item, ok in zip(by_client, passed[len(by_address) :], strict=True):
            if ok:
                continue
            if not await self._has_failed(realm, client, source):
                return None  # this address has not failed for the client: let it try
            retry = await self._retry_after(item, realm.name, "client", client)
            return SlowDown(
                "too many failed authentications of this client; "
                f"retry in {retry} s from this address",
                retry_after=retry,
            ), "client"
        return None

    async def failed(self, realm: Realm, client_id: str | None, address: str) -> None:
        """Count a failed authentication from ``address``; ``client_id`` is the known client it
        named (None for an unknown id, counted against the address only, so that made-up ids
        cannot create counters without bound)."""
        source = _source(address)
        if not self._shared:
            self._note_failure(realm, client_id, source)
        elif time.monotonic() < self._resume_at:
            return
        try:
            for item in self._address_items(realm):
                await self._limiter().hit(item, realm.name, "address", source)
            if client_id is None:
                return
            client = _client_key(client_id)
            for item in self._client_items(realm):
                await self._limiter().hit(item, realm.name, "client", client)
            mark = _marker(self._client_items(realm))
            await self._limiter().hit(mark, realm.name, "pair", client, source)
        except Exception as exc:
            self._storage_failed(exc)

    async def aclose(self) -> None:
        """Release the counter store's connections."""
        if self._shared and self._storage is not None:
            bridge = getattr(self._storage, "bridge", None)  # RedisStorage's
            client = getattr(bridge, "storage", None)  # redis.asyncio.Redis
            if client is not None:
                try:
                    await client.aclose()
                except Exception as exc:
                    self._storage_failed(exc)

    def _failed_lately(self, realm: Realm, client_id: str, source: str) -> bool:
        now = time.monotonic()
        horizon = self._horizon(realm)
        for key in ((realm.name, "address", source), (realm.name, "client", client_id)):
            at = self._failed_at.get(key)
            if at is not None and now - at < horizon:
                return True
        return False

    def _note_failure(self, realm: Realm, client_id: str | None, source: str) -> None:
        now = time.monotonic()
        self._longest = max(self._longest, self._horizon(realm))
        if len(self._failed_at) >= self._prune_at:
            longest = self._longest
            self._failed_at = {k: t for k, t in self._failed_at.items() if now - t < longest}
            self._prune_at = max(_PRUNE_AT, 2 * len(self._failed_at))
        self._failed_at[(realm.name, "address", source)] = now
        if client_id is not None:
            self._failed_at[(realm.name, "client", client_id)] = now

    def _horizon(self, realm: Realm) -> float:
        """How long a failure can weigh on a sliding-window counter: two windows."""
        items = self._address_items(realm) + self._client_items(realm)
        return 2.0 * max(item.get_expiry() for item in items)

    def _address_items(self, realm: Realm) -> tuple[RateLimitItem, ...]:
        return parse_limits(realm.address_auth_limit or self.address_limit)

    def _client_items(self, realm: Realm) -> tuple[RateLimitItem, ...]:
        return parse_limits(realm.client_auth_limit or self.client_limit)

    async def _has_failed(self, realm: Realm, client: str, source: str) -> bool:
        """Whether ``source`` failed for ``client`` within the client limit's longest window (or
        the one before it). Raw counts, not the weighted estimate: one failure must not fade out
        the moment a new window starts."""
        mark = _marker(self._client_items(realm))
        key = mark.key_for(realm.name, "pair", client, source)
        self._limiter()
        assert self._storage is not None  # made with the limiter
        previous, previous_ttl, current, _ = await self._storage.get_sliding_window(
            key, mark.get_expiry()
        )
        return current > 0 or (previous > 0 and previous_ttl > 0)

    async def _retry_after(self, item: RateLimitItem, *ids: str) -> int:
        stats = await self._limiter().get_window_stats(item, *ids)
        return max(1, math.ceil(stats.reset_time - time.time()))

    def _limiter(self) -> SlidingWindowCounterRateLimiter:
        """The counters' limiter and store, made on first use."""
        if self._counters is None:
            from limits.aio.strategies import SlidingWindowCounterRateLimiter

            self._storage = _storage(self._url)
            self._counters = SlidingWindowCounterRateLimiter(self._storage)
        return self._counters

    def _storage_failed(self, exc: Exception) -> None:
        now = time.monotonic()
        self._resume_at = now + _RETRY_STORE_AFTER
        if now - self._warned_at >= _WARN_EVERY:
            self._warned_at = now
            log.warning(
                "rate-limit store unavailable (%s); client authentication is not rate-limited "
                "until it answers",
                type(exc).__name__,
            )


def check_storage(url: str) -> str:
    """``url`` if it names a counter store: ``memory://`` or a Redis URL.

    Raises:
        ConfigurationError: any other URL (the message shows its scheme only, never a
            password), or a Redis URL without the redis package installed.
    """
    if url != MEMORY and not url.startswith(_REDIS_SCHEMES):
        scheme = url.partition("://")[0][:20]
        raise ConfigurationError(
            f"rate-limit storage {scheme!r} is not supported: use memory:// or redis://HOST:PORT/DB"
        )
    if url != MEMORY and importlib.util.find_spec("redis") is None:
        raise ConfigurationError(_NEEDS_REDIS)
    return url


def _storage(url: str) -> MemoryStorage | RedisStorage:
    from limits.aio.storage import MemoryStorage, RedisStorage
    from limits.errors import ConfigurationError as LimitsConfigurationError

    if check_storage(url) == MEMORY:
        return MemoryStorage()
    try:
        return RedisStorage(
            "async+" + url,
            implementation="redispy",
            wrap_exceptions=True,
            key_prefix="tokensmith",
            socket_timeout=0.5,
            socket_connect_timeout=0.5,
        )
    except LimitsConfigurationError:  # the redis package is missing or too old
        raise ConfigurationError(_NEEDS_REDIS) from None


@lru_cache(maxsize=256)
def _marker(items: Sequence[RateLimitItem]) -> RateLimitItem:
    """One failure per the longest window: records that an address failed for a client."""
    longest = max(items, key=lambda item: item.get_expiry())
    return type(longest)(1, longest.multiples)


def _client_key(client_id: str) -> str:
    # A digest: client ids may hold '/', the key separator, and need not sit in Redis verbatim.
    # Counted before any check of the id, so a lone surrogate must digest, not raise
    # ("surrogatepass"); for any other id these are the UTF-8 bytes, and the keys of a running
    # fleet stay the same. 128 bits keep keys short and are ample against collisions.
    return sha256_hex(client_id.encode("utf-8", "surrogatepass"))[:32]


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


@functools.lru_cache(maxsize=4096)
def _source(address: str) -> str:
    """The counting unit of an address: itself for IPv4, its /56 for IPv6."""
    ip = _ip(address)
    if ip is None:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, _IPV6_PREFIX), strict=False))
    return str(ip)
