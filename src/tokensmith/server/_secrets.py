"""Client secrets: generating, storing and checking them.

A generated secret carries 256 bits of entropy, so a single SHA-256 is as strong as any password
hash and costs a microsecond. A secret a person chose may be guessable, so it is stored with
argon2id; a successful check is remembered (keyed by an HMAC under a per-process key) so that a
client presenting it every few minutes pays the hash once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
from collections.abc import Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..store import StoredSecret

SHA256_PREFIX = "sha256$"
_MAX_REMEMBERED = 10_000


def generate_secret() -> str:
    """A new client secret: 32 random bytes, base64url (43 characters)."""
    return secrets.token_urlsafe(32)


def digest_generated(secret: str) -> str:
    """How a generated secret is stored."""
    return SHA256_PREFIX + hashlib.sha256(secret.encode()).hexdigest()


class SecretChecker:
    """Checks presented secrets against stored digests, in constant time."""

    def __init__(self, *, max_concurrent_hashes: int = 2) -> None:
        self._hasher = PasswordHasher()
        self._cache_key = os.urandom(32)
        self._remembered: dict[tuple[int, bytes], None] = {}
        self._hashing = asyncio.Semaphore(max_concurrent_hashes)

    def __repr__(self) -> str:
        return f"SecretChecker(remembered={len(self._remembered)})"

    def digest_chosen(self, secret: str) -> str:
        """How a secret a person chose is stored: an argon2id PHC string."""
        return self._hasher.hash(secret)

    async def check(self, presented: str, stored: Sequence[StoredSecret], now: float) -> bool:
        """Whether ``presented`` matches one of the ``stored`` secrets still active at ``now``."""
        raw = presented.encode()
        sha = SHA256_PREFIX + hashlib.sha256(raw).hexdigest()
        slow: list[StoredSecret] = []
        for secret in stored:
            if not secret.active(now):
                continue
            if secret.digest.startswith(SHA256_PREFIX):
                if hmac.compare_digest(sha, secret.digest):
                    return True
            elif (secret.id, self._mac(secret, raw)) in self._remembered:
                return True
            else:
                slow.append(secret)
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
        try:
            return self._hasher.verify(digest, presented)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
