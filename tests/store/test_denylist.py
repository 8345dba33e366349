"""The deny list of JWT IDs: used client assertions and revoked access tokens in one table, each
refused until it expires and then pruned (on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from tokensmith.store import Database, clients, denylist, realms

from .conftest import create_realm


async def test_an_assertion_jti_used_twice_is_refused(db: Database, realm_id: int) -> None:
    """The first use of an assertion's jti is accepted and the second is reported as a replay."""
    async with db.write() as conn:
        first = await clients.use_assertion(conn, realm_id, "7:a1", 1000)
    async with db.write() as conn:
        second = await clients.use_assertion(conn, realm_id, "7:a1", 1000)

    assert (first, second) == (True, False)


async def test_a_refused_replay_leaves_the_transaction_usable(db: Database, realm_id: int) -> None:
    """After a replay is refused, the same transaction still writes and commits."""
    async with db.write() as conn:
        await clients.use_assertion(conn, realm_id, "7:a1", 1000)
        replay = await clients.use_assertion(conn, realm_id, "7:a1", 1000)
        fresh = await clients.use_assertion(conn, realm_id, "7:a2", 1000)
    async with db.read() as conn:
        kept = await denylist.is_denied(conn, realm_id, "assertion", "7:a2")

    assert (replay, fresh, kept) == (False, True, True)


async def test_a_revoked_access_token_jti_is_denied(db: Database, realm_id: int) -> None:
    """An access token is on the deny list once revoked, and another token of the realm is not."""
    async with db.write() as conn:
        await denylist.revoke_access_token(conn, realm_id, "tok-1", 1000)
    async with db.read() as conn:
        revoked = await denylist.access_token_revoked(conn, realm_id, "tok-1")
        other = await denylist.access_token_revoked(conn, realm_id, "tok-2")

    assert (revoked, other) == (True, False)


async def test_revoking_an_access_token_twice_is_harmless(db: Database, realm_id: int) -> None:
    """A second revocation of one token neither fails nor changes how long it is denied."""
    async with db.write() as conn:
        await denylist.revoke_access_token(conn, realm_id, "tok-1", 1000)
    async with db.write() as conn:
        await denylist.revoke_access_token(conn, realm_id, "tok-1", 50)
    async with db.write() as conn:
        gone = await denylist.delete_expired(conn, 100)
        revoked = await denylist.access_token_revoked(conn, realm_id, "tok-1")

    assert (gone, revoked) == (0, True)


async def test_the_kinds_do_not_mix(db: Database, realm_id: int) -> None:
    """A used assertion does not revoke an access token with the same jti, nor the reverse."""
    async with db.write() as conn:
        await clients.use_assertion(conn, realm_id, "same", 1000)
        await denylist.revoke_access_token(conn, realm_id, "other", 1000)
    async with db.write() as conn:
        token_revoked = await denylist.access_token_revoked(conn, realm_id, "same")
        assertion_fresh = await clients.use_assertion(conn, realm_id, "other", 1000)

    assert (token_revoked, assertion_fresh) == (False, True)


async def test_pruning_removes_expired_entries_of_both_kinds(db: Database, realm_id: int) -> None:
    """Entries that expired before now go, of either kind; live ones stay."""
    async with db.write() as conn:
        await clients.use_assertion(conn, realm_id, "old-assertion", 50)
        await clients.use_assertion(conn, realm_id, "live-assertion", 500)
        await denylist.revoke_access_token(conn, realm_id, "old-token", 50)
        await denylist.revoke_access_token(conn, realm_id, "live-token", 500)

    async with db.write() as conn:
        gone = await denylist.delete_expired(conn, 100)
    async with db.read() as conn:
        left = {
            (kind, jti)
            for kind in ("assertion", "access_token")
            for jti in ("old-assertion", "live-assertion", "old-token", "live-token")
            if await denylist.is_denied(conn, realm_id, kind, jti)
        }

    assert gone == 2
    assert left == {("assertion", "live-assertion"), ("access_token", "live-token")}


async def test_pruning_goes_in_batches(db: Database, realm_id: int) -> None:
    """Each call removes at most ``limit`` expired entries, whatever their kind, until none is
    left."""
    async with db.write() as conn:
        for i in range(5):
            await clients.use_assertion(conn, realm_id, f"a{i}", 50)
            await denylist.revoke_access_token(conn, realm_id, f"t{i}", 50)

    rounds = []
    for _ in range(4):
        async with db.write() as conn:
            rounds.append(await denylist.delete_expired(conn, 100, limit=4))

    assert rounds == [4, 4, 2, 0]


async def test_a_pruned_assertion_jti_may_be_used_again(db: Database, realm_id: int) -> None:
    """Once pruned, a jti is forgotten: the assertion's own expiry is what refuses it then."""
    async with db.write() as conn:
        await clients.use_assertion(conn, realm_id, "7:a1", 50)
        await denylist.delete_expired(conn, 100)
    async with db.write() as conn:
        again = await clients.use_assertion(conn, realm_id, "7:a1", 150)

    assert again is True


async def test_entries_go_with_their_realm(db: Database, realm_id: int) -> None:
    """Deleting a realm deletes its deny list (the foreign key cascades)."""
    async with db.write() as conn:
        await denylist.revoke_access_token(conn, realm_id, "tok-1", 1000)
        await realms.delete_realm(conn, "acme")
    async with db.read() as conn:
        revoked = await denylist.access_token_revoked(conn, realm_id, "tok-1")

    assert revoked is False


async def test_concurrent_uses_of_one_assertion_have_one_winner(postgres_url: str) -> None:
    """On PostgreSQL, a transaction recording a jti that another open transaction has just
    recorded waits for it and, once it commits, is refused as a replay."""
    db = Database(postgres_url)
    await db.migrate()
    realm_id = await create_realm(db)

    async def use() -> bool:
        async with db.write() as conn:
            return await clients.use_assertion(conn, realm_id, "7:race", 1000)

    try:
        async with db.write() as conn:
            first = await clients.use_assertion(conn, realm_id, "7:race", 1000)
            second = asyncio.create_task(use())
            waited = await _until_waiting_on_a_lock(db)
        outcomes = (first, waited, await second)
    finally:
        await db.close()

    assert outcomes == (True, True, False)


async def _until_waiting_on_a_lock(db: Database, seconds: float = 5.0) -> bool:
    """Whether, within ``seconds``, some session of this database waits on a row lock."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        async with db.read() as conn:
            if (await conn.execute(query)).scalar_one():
                return True
        await asyncio.sleep(0.01)  # polling a state, not waiting a guessed time
    return False


async def test_a_jti_used_for_one_purpose_does_not_burn_another(
    db: Database, realm_id: int
) -> None:
    """A jti used as a client assertion may still be used once as a DPoP proof, and the
    reverse; each is refused the second time for its own purpose."""
    async with db.write() as conn:
        first = [
            await denylist.use_jti(conn, realm_id, "assertion", "same", 1000),
            await denylist.use_jti(conn, realm_id, "dpop", "same", 1000),
        ]
    async with db.write() as conn:
        again = [
            await denylist.use_jti(conn, realm_id, "assertion", "same", 1000),
            await denylist.use_jti(conn, realm_id, "dpop", "same", 1000),
        ]

    assert (first, again) == ([True, True], [False, False])
