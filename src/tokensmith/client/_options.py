"""What a token source is configured with and what it reports: retries, the renewal margin, the
shared cache's interface and the counters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ._token import Token


@dataclass(frozen=True)
class Retry:
    """Retries of a token request on network errors, 5xx and 429.

    ``attempts`` counts every try; the wait before try *n* is ``backoff * 2**(n-1)`` capped at
    ``max_backoff``, with jitter (half to all of it), or what ``Retry-After`` says, capped at
    ``max_retry_after``.
    """

    attempts: int = 4
    backoff: float = 0.5
    max_backoff: float = 10.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("Retry.attempts must be at least 1")
        if self.backoff < 0 or self.max_backoff < 0 or self.max_retry_after < 0:
            raise ValueError("Retry waits must not be negative")


class TokenCache(Protocol):
    """A cache shared by processes, so that N workers make one token request per renewal."""

    def load(self, key: str) -> Token | None:
        """The cached token, or None (also when the entry is unreadable)."""
        ...

    def store(self, key: str, token: Token) -> None:
        """Keep ``token`` for other processes."""
        ...

    def acquire(self, key: str, timeout: float) -> object:
        """Take the cross-process renewal lock for ``key``, waiting at most ``timeout`` seconds;
        returns a handle for :meth:`release`, or None when the lock could not be had in time."""
        ...

    def release(self, handle: object) -> None:
        """Give the lock back."""
        ...


def default_margin(lifetime: float) -> float:
    """Renew ``min(60 s, 20 % of the lifetime)`` before expiry: a 5-minute token renews after 4
    minutes, a 30-second one after 24 seconds, never on every call."""
    return min(60.0, 0.2 * lifetime)


@dataclass
class Stats:
    """Counters of what the token source did (OpenTelemetry-style: read and export as you like)."""

    fetches: int = 0
    renewals: int = 0
    failures: int = 0
    unauthorized_retries: int = 0
    cache_hits: int = 0
    shared_cache_hits: int = 0
