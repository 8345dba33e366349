"""Shared caches across real processes: a file cache with flock, and Redis on 127.0.0.1:6379."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tokensmith.client import FileCache, RedisCache, Token, TokenSource
from tokensmith.client._cache import LOCK_LEASE, STALE_TMP_SECONDS

from ..conftest import require_redis
from .conftest import SENSITIVE, Answer, FakeOAuth

WORKER = """
import sys, time
from tokensmith.client import FileCache, RedisCache, TokenSource
url, kind, where, start = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
redis_url = "redis://127.0.0.1:6379/0"
cache = FileCache(where) if kind == "file" else RedisCache.from_url(redis_url, prefix=where)
source = TokenSource(url, client_id="svc", client_secret="s3cret-value", cache=cache)
time.sleep(max(0.0, start - time.time()))
print(source.access_token())
"""


@pytest.fixture
def redis_prefix() -> str:
    """A fresh key prefix on the real Redis server."""
    require_redis()
    return f"tokensmith-test-{secrets.token_hex(4)}:"


def run_workers(fake: FakeOAuth, kind: str, where: str, n: int = 4) -> list[str]:
    start = time.time() + 2.0
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, fake.token_url, kind, where, str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(n)
    ]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        outputs.append(out.strip())
    return outputs


def test_file_cache_makes_one_request_for_four_processes(tmp_path: Path) -> None:
    """Four processes renewing at the same moment make one token request and share its token."""
    with FakeOAuth(lambda f, seen: Answer(body=f.issue(), delay=0.3)) as fake:
        tokens = run_workers(fake, "file", str(tmp_path / "cache"))

    assert len(fake.token_requests) == 1
    assert len(set(tokens)) == 1
    assert oct((tmp_path / "cache").stat().st_mode & 0o777) == "0o700"


def test_redis_cache_makes_one_request_for_four_processes(redis_prefix: str) -> None:
    """The same through Redis."""
    with FakeOAuth(lambda f, seen: Answer(body=f.issue(), delay=0.3)) as fake:
        tokens = run_workers(fake, "redis", redis_prefix)

    assert len(fake.token_requests) == 1
    assert len(set(tokens)) == 1


def test_corrupted_cache_file_is_recovered(tmp_path: Path, fake: FakeOAuth) -> None:
    """A cache file of garbage is ignored and replaced by a good token."""
    cache = FileCache(tmp_path)
    source = TokenSource(fake.token_url, client_id="svc", client_secret="s3cret-value", cache=cache)
    key = source._core.cache_key
    (tmp_path / f"{key}.json").write_text("{not json")

    token = source.token()
    source.close()

    assert cache.load(key) == token
    assert len(fake.token_requests) == 1


def test_a_dead_writers_stale_temporary_file_is_removed_on_the_next_write(tmp_path: Path) -> None:
    """A temporary file older than STALE_TMP_SECONDS (a writer killed before its rename) is
    removed when the cache next stores a token."""
    cache = FileCache(tmp_path)
    leftover = tmp_path / ".k.4242.0badcafe.tmp"
    leftover.write_text('{"access_token": "half-writ')
    aged = time.time() - STALE_TMP_SECONDS - 60
    os.utime(leftover, (aged, aged))

    cache.store("k", Token("tok-after-crash", expires_at=time.time() + 60))

    assert not leftover.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.json"]


def test_a_live_writers_temporary_file_is_left_alone(tmp_path: Path) -> None:
    """A young temporary file (another process writing now) survives a store."""
    cache = FileCache(tmp_path)
    in_progress = tmp_path / ".k.4242.0badcafe.tmp"
    in_progress.write_text('{"access_token": "being-writ')

    cache.store("k", Token("tok-concurrent", expires_at=time.time() + 60))

    assert in_progress.exists()


def test_a_token_from_the_cache_is_used_without_a_request(tmp_path: Path, fake: FakeOAuth) -> None:
    """A second source (another process's view) finds the first one's token in the cache."""
    cache = FileCache(tmp_path)
    first = TokenSource(fake.token_url, client_id="svc", client_secret="s3cret-value", cache=cache)
    second = TokenSource(fake.token_url, client_id="svc", client_secret="s3cret-value", cache=cache)

    a = first.token()
    b = second.token()
    first.close()
    second.close()

    assert a.access_token == b.access_token
    assert len(fake.token_requests) == 1
    assert second.stats.shared_cache_hits == 1


def test_redis_cache_round_trip_and_corruption(redis_prefix: str) -> None:
    """Redis keeps a token until it expires; a corrupted entry reads as absent."""
    import redis

    cache = RedisCache.from_url("redis://127.0.0.1:6379/0", prefix=redis_prefix)
    token = Token("tok-redis-roundtrip", expires_at=time.time() + 60, issued_at=time.time())
    SENSITIVE.add(token.access_token)

    cache.store("k", token)
    loaded = cache.load("k")
    redis.Redis.from_url("redis://127.0.0.1:6379/0").set(redis_prefix + "k", b"\xff garbage")

    assert loaded == token
    assert cache.load("k") is None
    handle = cache.acquire("k", timeout=1)
    assert handle is not None
    assert cache.acquire("k", timeout=0.05) is None
    cache.release(handle)
    assert cache.acquire("k", timeout=0.05) is not None


def test_redis_lock_is_released_from_another_thread(redis_prefix: str) -> None:
    """A lock taken in one thread and given back in another (as the async client does: it takes
    it in a worker thread, releases it on the event loop's) is free again at once."""
    cache = RedisCache.from_url("redis://127.0.0.1:6379/0", prefix=redis_prefix)
    with ThreadPoolExecutor(1) as pool:
        handle = pool.submit(cache.acquire, "k", 5).result()

    cache.release(handle)

    assert cache.acquire("k", timeout=0.05) is not None


def test_a_live_redis_lock_holder_keeps_its_lease(redis_prefix: str) -> None:
    """A holder busy for longer than a lease keeps the lock (its thread extends the lease): a
    contender waiting 1.5 leases does not get it."""
    cache = RedisCache.from_url("redis://127.0.0.1:6379/0", prefix=redis_prefix)
    holder = cache.acquire("k", timeout=1)
    assert holder is not None

    contender = cache.acquire("k", timeout=1.5 * LOCK_LEASE)
    cache.release(holder)

    assert contender is None
    assert cache.acquire("k", timeout=0.05) is not None


HOLDER = """
import sys, time
from tokensmith.client import RedisCache
cache = RedisCache.from_url("redis://127.0.0.1:6379/0", prefix=sys.argv[1])
assert cache.acquire("k", timeout=5) is not None
print("held", flush=True)
time.sleep(60)
"""


def test_a_killed_redis_lock_holder_stalls_others_one_lease_at_most(redis_prefix: str) -> None:
    """A process killed (SIGKILL) while holding the renewal lock stalls the next one for at
    most one lease, not for the whole lock timeout."""
    cache = RedisCache.from_url("redis://127.0.0.1:6379/0", prefix=redis_prefix)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, redis_prefix], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    with holder, holder.stdout:
        assert holder.stdout.readline().strip() == "held"
        holder.kill()
    started = time.monotonic()

    successor = cache.acquire("k", timeout=20)

    assert successor is not None
    assert time.monotonic() - started <= LOCK_LEASE + 1.0
    cache.release(successor)


def test_redis_release_refuses_a_foreign_handle(redis_prefix: str) -> None:
    """Releasing something acquire did not return raises TypeError."""
    cache = RedisCache.from_url("redis://127.0.0.1:6379/0", prefix=redis_prefix)

    with pytest.raises(TypeError):
        cache.release(("name", "owner"))


async def test_async_source_renews_through_redis_and_frees_the_lock(
    redis_prefix: str, fake: FakeOAuth
) -> None:
    """An async source renews under the Redis lock and gives it back, so the next process gets
    the lock at once."""
    cache = RedisCache.from_url("redis://127.0.0.1:6379/0", prefix=redis_prefix)
    source = TokenSource(fake.token_url, client_id="svc", client_secret="s3cret-value", cache=cache)

    async with source:
        token = await source.atoken()

    assert cache.load(source._core.cache_key) == token
    assert cache.acquire(source._core.cache_key, timeout=0.05) is not None


def test_sources_for_two_subjects_never_share_a_cached_token(
    fake: FakeOAuth, tmp_path: Path
) -> None:
    """Two sources trading alice's and bob's id_tokens through one FileCache each get their
    own token (two requests): the cache key covers the subject token, hashed."""
    from tokensmith.client import IdAuth

    cache = FileCache(tmp_path)
    alice_id_token, bob_id_token = "alice-" + secrets.token_hex(8), "bob-" + secrets.token_hex(8)
    SENSITIVE.update({alice_id_token, bob_id_token})

    def for_subject(id_token: str) -> TokenSource:
        return TokenSource(
            fake.token_url,
            client_id="svc",
            client_secret="s3cret-value",
            grant=IdAuth(id_token),
            cache=cache,
        )

    with for_subject(alice_id_token) as alice, for_subject(bob_id_token) as bob:
        alices, bobs = alice.access_token(), bob.access_token()

    assert alices != bobs
    assert [seen.form["id_token"] for seen in fake.token_requests] == [alice_id_token, bob_id_token]
    stored = b"".join(path.read_bytes() for path in tmp_path.iterdir())
    assert alice_id_token.encode() not in stored
    assert bob_id_token.encode() not in stored


def test_a_supplied_subject_token_is_never_shared(fake: FakeOAuth, tmp_path: Path) -> None:
    """Two sources whose id_tokens come from suppliers cannot be told apart before calling
    them, so they share no cache entry."""
    from tokensmith.client import IdAuth

    cache = FileCache(tmp_path)

    def for_supplier(who: str) -> TokenSource:
        return TokenSource(
            fake.token_url,
            client_id="svc",
            client_secret="s3cret-value",
            grant=IdAuth(lambda: who + "-id-token"),
            cache=cache,
        )

    with for_supplier("alice") as alice, for_supplier("bob") as bob:
        alices, bobs = alice.access_token(), bob.access_token()

    assert alices != bobs
    assert len(fake.token_requests) == 2
