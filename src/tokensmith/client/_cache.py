"""Token caches shared by processes: a directory of files with ``flock``, or Redis.

A worker pool of N processes then makes one token request per renewal, not N: the first process
to find the token due takes the lock, renews and stores; the others find the new token in the
cache. A corrupted cache entry is ignored and overwritten, never fatal.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ._token import Token

log = logging.getLogger("tokensmith.client")

STALE_TMP_SECONDS = 60.0
"""Age past which a FileCache's temporary file is a dead writer's leftover: a live write takes
milliseconds, so a minute leaves a wide margin for a slow disk."""


def _dump(token: Token) -> str:
    data = asdict(token)
    data.pop("raw", None)
    return json.dumps(data)


def _load(text: str | bytes) -> Token | None:
    try:
        data = json.loads(text)
        return Token(**{k: v for k, v in data.items() if k != "raw"})
    except (ValueError, TypeError):
        return None


class FileCache:
    """Tokens in files of a private directory (0700, files 0600), locked with ``flock``."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"FileCache({str(self.directory)!r})"

    def load(self, key: str) -> Token | None:
        """The cached token, or None when absent or unreadable (a corrupt file is ignored)."""
        path = self.directory / f"{key}.json"
        try:
            text = path.read_text()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("cannot read token cache %s: %s", path, exc.strerror)
            return None
        token = _load(text)
        if token is None:
            log.warning("token cache %s is corrupted; it will be replaced", path)
        return token

    def store(self, key: str, token: Token) -> None:
        """Write the token atomically (write a temporary file, then rename), and remove the
        temporary files of writers that died before their rename."""
        path = self.directory / f"{key}.json"
        tmp = path.with_name(f".{key}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(_dump(token))
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        self._remove_stale_tmp()

    def _remove_stale_tmp(self) -> None:
        """Remove temporary files older than :data:`STALE_TMP_SECONDS` (a writer killed between
        open and rename leaves one behind; a live writer's file is younger)."""
        cutoff = time.time() - STALE_TMP_SECONDS
        for leftover in self.directory.glob(".*.tmp"):
            # Another process may remove or rename it at the same moment: that is fine.
            with contextlib.suppress(OSError):
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()

    def acquire(self, key: str, timeout: float) -> object:
        """Take the renewal lock (``flock`` on a lock file); None if not had within ``timeout``."""
        fd = os.open(self.directory / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    log.warning(
                        "token cache lock %s not had in %.0f s; renewing anyway", key, timeout
                    )
                    return None
                time.sleep(0.01)

    def release(self, handle: object) -> None:
        """Give the lock back."""
        assert isinstance(handle, int)
        with contextlib.suppress(OSError):
            fcntl.flock(handle, fcntl.LOCK_UN)
        os.close(handle)


class RedisCache:
    """Tokens in Redis (kept until the token expires), with redis-py's renewal lock (``SET NX
    PX`` with a random token, released only by its holder).

    Args:
        client: a ``redis.Redis`` client (the ``redis`` extra), or use :meth:`from_url`.
        prefix: prefix of every key.
    """

    def __init__(self, client: Any, *, prefix: str = "tokensmith:") -> None:
        self.client = client
        self.prefix = prefix

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "tokensmith:") -> RedisCache:
        """A cache on the Redis server at ``url`` (``redis://host:6379/0``)."""
        try:
            import redis
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError("Redis support needs: pip install 'tokensmith[redis]'") from exc
        return cls(redis.Redis.from_url(url), prefix=prefix)

    def __repr__(self) -> str:
        return f"RedisCache(prefix={self.prefix!r})"

    def load(self, key: str) -> Token | None:
        """The cached token, or None."""
        value = self.client.get(self.prefix + key)
        if value is None:
            return None
        token = _load(value)
        if token is None:
            log.warning("token cache entry %s is corrupted; it will be replaced", key)
        return token

    def store(self, key: str, token: Token) -> None:
        """Keep the token until it expires."""
        ttl_ms = max(1, int((token.expires_at - time.time()) * 1000))
        self.client.set(self.prefix + key, _dump(token), px=ttl_ms)

    def acquire(self, key: str, timeout: float) -> object:
        """Take the renewal lock, waiting at most ``timeout``; None if not had by then.

        The lock is a lease of :data:`LOCK_LEASE` seconds that a thread of the holder extends
        while it holds it: a holder killed outright (``kill -9``) stalls the others for at most
        one lease, however long ``timeout`` is.
        """
        lock = self.client.lock(
            self.prefix + key + ":lock",
            timeout=LOCK_LEASE,
            sleep=0.01,
            blocking_timeout=timeout,
            # The async client takes the lock in a worker thread and gives it back on the event
            # loop's; each handle is its own Lock, so no other thread can see its token.
            thread_local=False,
        )
        if lock.acquire():
            return _Lease(lock)
        log.warning("token cache lock %s not had in %.0f s; renewing anyway", key, timeout)
        return None

    def release(self, handle: object) -> None:
        """Give the lock back, if this process still holds it.

        Raises:
            TypeError: ``handle`` is not one :meth:`acquire` returned.
        """
        if not isinstance(handle, _Lease):
            raise TypeError("not a lock handle from RedisCache.acquire")
        handle.end()


LOCK_LEASE = 2.0
"""Seconds a Redis renewal lock lives unless its holder extends it."""


class _Lease:
    """A held Redis lock and the thread that extends it every third of a lease until ended."""

    def __init__(self, lock: Any) -> None:
        self._lock = lock
        self._ended = threading.Event()
        threading.Thread(target=self._extend, name="tokensmith-lock-lease", daemon=True).start()

    def _extend(self) -> None:
        from redis.exceptions import LockError, RedisError

        while not self._ended.wait(LOCK_LEASE / 3):
            try:
                self._lock.extend(LOCK_LEASE, replace_ttl=True)
            except (LockError, RedisError) as exc:  # lost it, or Redis is gone: stop trying
                log.warning("token cache lock lease not extended: %s", type(exc).__name__)
                return

    def end(self) -> None:
        from redis.exceptions import LockError

        self._ended.set()
        with contextlib.suppress(LockError):  # the lease ran out and another may hold it now
            self._lock.release()
