"""The realm's own tokens presented back to it: to introspection (RFC 7662), revocation (RFC 7009)
and token exchange (RFC 8693). One place decides whether such a token is still honoured, so that
every entry point refuses the same ones."""

from __future__ import annotations

from typing import Any

from ..oauth import Clock, InvalidToken, system_clock
from ..store import Database, RefreshTokenRecord, denylist, refresh
from ._state import RealmState, Registry


class OwnTokens:
    """Checks access and refresh tokens the realm issued against what has happened since: a
    revoked token, or one whose client was disabled or deleted, is no longer honoured."""

    def __init__(self, registry: Registry, db: Database, *, clock: Clock = system_clock) -> None:
        self.registry = registry
        self.db = db
        self.clock = clock

    def __repr__(self) -> str:
        return "OwnTokens()"

    def signed(self, state: RealmState, token: str) -> dict[str, Any] | None:
        """The claims of an access token the realm signed that has not expired, revoked or not;
        None for anything else."""
        try:
            return state.verify_own(token, self.clock())
        except InvalidToken:
            return None

    async def access_claims(self, state: RealmState, token: str) -> dict[str, Any]:
        """The claims of an access token the realm issued that is still honoured.

        Raises:
            InvalidToken: forged, expired, of another realm, revoked, or its client is disabled
                or gone; the description says which.
        """
        claims = state.verify_own(token, self.clock())
        jti = claims.get("jti")
        if isinstance(jti, str):
            async with self.db.read() as conn:
                if await denylist.access_token_revoked(conn, state.realm.id, jti):
                    raise InvalidToken("the token has been revoked")
        await self._check_client(state, claims.get("client_id"))
        return claims

    async def refresh_record(self, state: RealmState, token: str) -> RefreshTokenRecord | None:
        """The stored refresh token of the realm that ``token`` is, whatever its state; None when
        it is not one."""
        async with self.db.read() as conn:
            record = await refresh.get_refresh_token(conn, refresh.digest(token))
        if record is None or record.realm_id != state.realm.id:
            return None
        return record

    async def refresh_client_id(self, state: RealmState, record: RefreshTokenRecord) -> str:
        """The ``client_id`` of a live refresh token whose client is still honoured.

        Raises:
            InvalidToken: the token was used, revoked or expired, or its client is disabled or
                gone.
        """
        if record.revoked or record.used_at is not None or record.expires_at <= self.clock():
            raise InvalidToken("the refresh token was used, revoked or has expired")
        async with self.db.read() as conn:
            client_id = await refresh.client_id_of(conn, record.client_pk)
        await self._check_client(state, client_id)
        assert client_id is not None  # _check_client refuses None
        return client_id

    async def _check_client(self, state: RealmState, client_id: object) -> None:
        client = (
            await self.registry.client(state, client_id) if isinstance(client_id, str) else None
        )
        if client is None:
            raise InvalidToken("the token's client no longer exists")
        if not client.enabled:
            raise InvalidToken("the token's client is disabled")
