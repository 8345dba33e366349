"""Purging expired rows works in bounded batches, so that each statement stays within the
database's statement timeout however much has piled up (on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio

from tokensmith.server import Settings
from tokensmith.server._keys import new_master_key_value
from tokensmith.store import Database, RefreshTokenRecord, refresh

from .conftest import run_admin


def test_delete_expired_goes_in_batches_and_keeps_live_rows(database_url: str) -> None:
    """Each call removes at most ``limit`` expired refresh tokens; repeated calls remove them
    all, and tokens that have not expired stay."""
    settings = Settings(database_url=database_url, master_key=new_master_key_value())
    run_admin(settings, lambda a: a.create_realm("acme"))
    client = run_admin(settings, lambda a: a.create_client("acme", "svc", refresh_tokens=True))

    async def go() -> tuple[list[int], int]:
        db = Database(database_url)
        try:
            async with db.write() as conn:
                for i in range(12):
                    await refresh.insert_refresh_token(
                        conn,
                        RefreshTokenRecord(
                            digest=f"{i:064x}",
                            family="f",
                            realm_id=client.client.realm_id,
                            client_pk=client.client.id,
                            scope="",
                            issued_at=0,
                            expires_at=50 if i < 10 else 500,
                            used_at=None,
                            revoked=False,
                        ),
                    )
            rounds = []
            for _ in range(4):
                async with db.write() as conn:
                    rounds.append(await refresh.delete_expired(conn, 100, limit=4))
            async with db.read() as conn:
                left = sum(
                    [
                        await refresh.get_refresh_token(conn, f"{i:064x}") is not None
                        for i in range(12)
                    ]
                )
            return rounds, left
        finally:
            await db.close()

    rounds, left = asyncio.run(go())

    assert rounds == [4, 4, 2, 0]
    assert left == 2
