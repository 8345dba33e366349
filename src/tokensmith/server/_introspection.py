"""Token introspection (RFC 7662) and revocation (RFC 7009) for a realm.

Both authenticate the caller as a client of the realm. Introspection answers ``{"active": false}``
for anything unknown, expired, revoked or from another realm, and says no more. Revocation
answers 200 for unknown tokens (RFC 7009 §2.2); a refresh token takes its whole family with it,
and an access token's ``jti`` stays on a deny list until the token would have expired.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from ..oauth import (
    Clock,
    InvalidRequest,
    InvalidToken,
    UnauthorizedClient,
    system_clock,
)
from ..store import Client, Database, denylist, refresh
from ._clientauth import ClientAuthenticator
from ._own import OwnTokens
from ._state import RealmState

INACTIVE: dict[str, Any] = {"active": False}
_CLAIMS = ("scope", "client_id", "sub", "aud", "iss", "exp", "iat", "nbf", "jti")


class TokenInspector:
    """Answers introspection and revocation requests for any realm."""

    def __init__(
        self, clients: ClientAuthenticator, db: Database, *, clock: Clock = system_clock
    ) -> None:
        self.clients = clients
        self.db = db
        self.clock = clock
        self.own = OwnTokens(clients.registry, db, clock=clock)

    async def introspect(
        self,
        state: RealmState,
        form: dict[str, str],
        authorization: str | None,
        audiences: Collection[str] = (),
    ) -> dict[str, Any]:
        """The RFC 7662 §2.2 answer for ``form["token"]``.

        Raises:
            InvalidClient, InvalidRequest: the caller is not an authenticated client, or sent no
                token.
        """
        await self.clients.authenticate(state, form, authorization, audiences=audiences)
        token = _token(form)
        if "." in token:  # a JWT: an access token of ours, or nothing
            return await self._access_answer(state, token) or INACTIVE
        return await self._refresh_answer(state, token) or INACTIVE

    async def revoke(
        self,
        state: RealmState,
        form: dict[str, str],
        authorization: str | None,
        audiences: Collection[str] = (),
    ) -> None:
        """Revoke ``form["token"]`` if the calling client holds it (RFC 7009 §2.1).

        Raises:
            InvalidClient, InvalidRequest: as for introspection.
            UnauthorizedClient: the token was issued to another client.
        """
        client = await self.clients.authenticate(state, form, authorization, audiences=audiences)
        token = _token(form)
        now = int(self.clock())
        claims = self.own.signed(state, token)
        if claims is not None:
            self._check_owner(client, claims.get("client_id") == client.client_id)
            jti, exp = claims.get("jti"), claims.get("exp")
            if isinstance(jti, str) and isinstance(exp, int | float):
                async with self.db.write() as conn:
                    await denylist.revoke_access_token(conn, state.realm.id, jti, int(exp))
            return
        async with self.db.write() as conn:
            record = await refresh.get_refresh_token(conn, refresh.digest(token))
            if record is None or record.realm_id != state.realm.id or record.expires_at <= now:
                return
            self._check_owner(client, record.client_pk == client.id)
            await refresh.revoke_family(conn, record.family)

    @staticmethod
    def _check_owner(client: Client, owns: bool) -> None:
        if not owns:
            raise UnauthorizedClient(
                f"the token was not issued to client {client.client_id!r}; only its holder may "
                "revoke it"
            )

    async def _access_answer(self, state: RealmState, token: str) -> dict[str, Any] | None:
        try:
            claims = await self.own.access_claims(state, token)
        except InvalidToken:
            return None
        answer: dict[str, Any] = {"active": True, "token_type": "Bearer"}
        answer.update({k: claims[k] for k in _CLAIMS if k in claims})
        cnf = claims.get("cnf")
        if isinstance(cnf, dict) and "jkt" in cnf:  # RFC 9449 §6.2: say what it is bound to
            answer["token_type"] = "DPoP"  # noqa: S105 (a token type, not a password)
            answer["cnf"] = {"jkt": cnf["jkt"]}
        return answer

    async def _refresh_answer(self, state: RealmState, token: str) -> dict[str, Any] | None:
        record = await self.own.refresh_record(state, token)
        if record is None:
            return None
        try:
            client_id = await self.own.refresh_client_id(state, record)
        except InvalidToken:
            return None
        answer: dict[str, Any] = {
            "active": True,
            "token_type": "refresh_token",
            "client_id": client_id,
            "exp": record.expires_at,
            "iat": record.issued_at,
        }
        if record.scope:
            answer["scope"] = record.scope
        return answer


def _token(form: dict[str, str]) -> str:
    token = form.get("token")
    if token is None:
        raise InvalidRequest("token is missing")
    return token
