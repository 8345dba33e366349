"""Client secrets: generating, storing and checking them.

A generated secret carries 256 bits of entropy, so a single SHA-256 is as strong as any password
hash and costs a microsecond. A secret a person chose may be guessable, so it is stored with
argon2id; a successful check is remembered (keyed by an HMAC under a per-process key) so that a
client presenting it every few minutes pays the hash once.

argon2 is slow on purpose, so its checks are admitted fairly: at most one runs per client at a
time, and a small pool bounds them for the whole process. A request that presents the same secret
as the running check of its client shares that check's answer (a client's processes starting
together); one that presents another secret is refused with ``slow_down`` instead of queueing, so a
flood of guesses against one client holds one slot of the pool and never delays other clients.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import secrets
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import TYPE_CHECKING

from ..oauth import SlowDown, sha256_hex
from ..store import StoredSecret

if TYPE_CHECKING:
    from argon2 import PasswordHasher

SHA256_PREFIX = "sha256$"
_MAX_REMEMBERED = 10_000


def generate_secret() -> str:
    """A new client secret: 32 random bytes, base64url (43 characters)."""
    return secrets.token_urlsafe(32)


def digest_generated(secret: str) -> str:
    """How a generated secret is stored."""
    return SHA256_PREFIX + sha256_hex(secret)


class SecretChecker:
    """Checks presented secrets against stored digests, in constant time.

    ``max_concurrent_hashes`` bounds the argon2 checks running at once in the process (each takes
    a core and 64 MiB for about a tenth of a second). A guess refused because another check of
    its client is running is answered after ``busy_delay`` seconds. ``hasher`` makes the argon2id
    hashes of chosen secrets (default: argon2-cffi's RFC 9106 low-memory profile); a check follows
    the parameters stored in the hash it checks. argon2-cffi is imported with the first chosen
    secret hashed or checked: a service whose clients all have generated secrets never loads it.
    """

    def __init__(
        self,
        *,
        max_concurrent_hashes: int = 2,
        busy_delay: float = 1.0,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self._hasher = hasher
        self._cache_key = os.urandom(32)
        self._remembered: dict[tuple[int, bytes], None] = {}
        self._hashing = asyncio.Semaphore(max_concurrent_hashes)
        self._running: dict[Hashable, tuple[bytes, asyncio.Task[bool]]] = {}
        self.busy_delay = busy_delay

    def __repr__(self) -> str:
        return f"SecretChecker(remembered={len(self._remembered)}, running={len(self._running)})"

    def digest_chosen(self, secret: str) -> str:
        """How a secret a person chose is stored: an argon2id PHC string."""
        return self.hasher.hash(secret)

    def matches_cheaply(self, presented: str, stored: Sequence[StoredSecret], now: float) -> bool:
        """Whether ``presented`` matches a generated secret, or a chosen one already verified,
        still active at ``now``: the checks that need no argon2 hash."""
        return self._cheap(presented, stored, now)[0]

    def _cheap(
        self, presented: str, stored: Sequence[StoredSecret], now: float
    ) -> tuple[bool, list[StoredSecret]]:
        """Whether a cheap check matches, and the active chosen secrets left for argon2."""
        raw = presented.encode()
        sha = digest_generated(presented)
        slow: list[StoredSecret] = []
        for secret in stored:
            if not secret.active(now):
                continue
            if secret.digest.startswith(SHA256_PREFIX):
                if hmac.compare_digest(sha, secret.digest):
                    return True, []
            elif (secret.id, self._mac(secret, raw)) in self._remembered:
                return True, []
            else:
                slow.append(secret)
        return False, slow

    async def check(
        self,
        presented: str,
        stored: Sequence[StoredSecret],
        now: float,
        *,
        owner: Hashable | None = None,
        patient: Callable[[], Awaitable[bool]] | None = None,
    ) -> bool:
        """Whether ``presented`` matches one of the ``stored`` secrets still active at ``now``.
        ``owner`` names the client the secrets belong to (default: its first argon2 secret).

        While another secret of the same owner is being checked, a request for which
        ``patient()`` is true (its address never failed for this client) waits its turn; any
        other is refused. So guessers cannot lock the client out from a clean address.

        Raises:
            SlowDown: an argon2 check of the same owner with another presented secret is running
                and the request is not ``patient``.
        """
        matched, slow = self._cheap(presented, stored, now)
        if matched or not slow:
            return matched
        raw = presented.encode()
        key: Hashable = owner if owner is not None else ("secret", slow[0].id)
        tag = hmac.digest(self._cache_key, raw, "sha256")
        running = self._running.get(key)
        while running is not None and not hmac.compare_digest(running[0], tag):
            if patient is None or not await patient():
                await asyncio.sleep(self.busy_delay)  # the guesser's connection idles meanwhile
                raise SlowDown(
                    "another check of this client's secret is running; retry in a second",
                    retry_after=1,
                )
            await asyncio.wait([running[1]])  # its turn is over, whatever its outcome
            running = self._running.get(key)
        if running is not None:
            return await asyncio.shield(running[1])
        # A task of its own: a caller that goes away does not cancel the check others await.
        task = asyncio.get_running_loop().create_task(self._check_slow(slow, presented, raw))
        self._running[key] = (tag, task)
        task.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(task)

    def _finished(self, key: Hashable, task: asyncio.Task[bool]) -> None:
        if self._running.get(key, (b"", None))[1] is task:
            del self._running[key]

    async def _check_slow(self, slow: Sequence[StoredSecret], presented: str, raw: bytes) -> bool:
        for secret in slow:
            if await self._verify_argon2(secret, presented):
                self._remember(secret, raw)
                return True
        return False

    def _mac(self, secret: StoredSecret, raw: bytes) -> bytes:
        return hmac.digest(self._cache_key, secret.digest.encode() + b"\0" + raw, "sha256")

    def _remember(self, secret: StoredSecret, raw: bytes) -> None:
        if len(self._remembered) >= _MAX_REMEMBERED:
            self._remembered.pop(next(iter(self._remembered)))
        self._remembered[(secret.id, self._mac(secret, raw))] = None

    async def _verify_argon2(self, secret: StoredSecret, presented: str) -> bool:
        async with self._hashing:
            return await asyncio.to_thread(self._verify_sync, secret.digest, presented)

    def _verify_sync(self, digest: str, presented: str) -> bool:
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            return self.hasher.verify(digest, presented)
        except (VerificationError, InvalidHashError):  # VerifyMismatchError is a VerificationError
            return False

    @property
    def hasher(self) -> PasswordHasher:
        """The argon2id hasher of chosen secrets (made on first use)."""
        if self._hasher is None:
            from argon2 import PasswordHasher

            self._hasher = PasswordHasher()
        return self._hasher
