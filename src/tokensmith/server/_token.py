"""The token endpoint (RFC 6749 §3.2): client authentication, grants, and minting tokens.

``client_credentials`` reads no database (realms, clients and keys are cached); it writes one row
when the client also gets a refresh token. ``refresh_token`` rotates the token in one
short transaction: a refresh token works once, and presenting one that was already used revokes
its whole family (RFC 9700 §4.14.2), except a retry by the same client within the realm's reuse
grace period, whose first answer was lost.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Collection
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from ..oauth import (
    EXTENSION_GRANTS,
    GRANT_TYPES,
    TOKEN_TYPE_ACCESS,
    TOKEN_TYPE_ID,
    TOKEN_TYPE_JWT,
    Clock,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    InvalidToken,
    OAuthError,
    ResponseStyle,
    TokenResponse,
    UnauthorizedClient,
    UnsupportedGrantType,
    echo,
    format_scope,
    parse_scope,
    system_clock,
)
from ..store import Client, Connection, Database, RefreshTokenRecord, refresh
from . import _resources
from ._clientauth import ClientAuthenticator
from ._dpop import DPoPChecker
from ._events import emit
from ._external import ExternalTokens
from ._own import OwnTokens
from ._state import RealmState

# Keycloak lets every client ask for "openid", and python-keycloak's token() always does. As in
# Keycloak, "openid" names no access: a request naming nothing else gets what it would get without
# a scope (the client's default scopes, or on refresh the token's), with "openid" beside them.
ALWAYS_ALLOWED_SCOPES = frozenset({"openid"})
_REFRESH_TOKEN_LENGTH = 43
_REVOKED = "the refresh token has been revoked"
_REUSED = (
    "the refresh token was already used; every token issued from it is now revoked, "
    "so authenticate again with client_credentials"
)
_BOUND_TO: ContextVar[str | None] = ContextVar("tokensmith_dpop_binding", default=None)
"""The DPoP key thumbprint the access tokens of the request being answered are bound to
(``cnf.jkt``), set by :meth:`TokenEndpoint.issue` for every grant's minting."""
_FAMILY_REVOKED = {_REUSED: "used", _REVOKED: "revoked"}
"""The refusals that revoke a token's family, and the state of the token presented."""


@dataclass(frozen=True)
class Issued:
    """A token response ready to send, and the refresh token record to store with it."""

    response: TokenResponse
    style: ResponseStyle
    refresh_record: RefreshTokenRecord | None = None


class TokenEndpoint:
    """Answers token requests for any realm of a registry."""

    def __init__(
        self,
        clients: ClientAuthenticator,
        db: Database,
        *,
        external: ExternalTokens | None = None,
        dpop: DPoPChecker | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.clients = clients
        self.db = db
        self.dpop = dpop or DPoPChecker(db, secrets.token_bytes(32))
        self.external = external or ExternalTokens(clock=clock)
        self.clock = clock
        self.own = OwnTokens(clients.registry, db, clock=clock)

    async def issue(
        self,
        state: RealmState,
        form: dict[str, str],
        authorization: str | None,
        issuer: str,
        audiences: Collection[str] = (),
        *,
        dpop: list[str] | None = None,
        url: str = "",
    ) -> Issued:
        """Authenticate the client and run the grant it asked for. ``dpop`` holds the request's
        DPoP headers and ``url`` the URL it was sent to (RFC 9449): with a good proof the access
        token is bound to its key.

        Raises:
            OAuthError: any RFC 6749 §5.2 error, and RFC 9449's invalid_dpop_proof and
                use_dpop_nonce.
        """
        grant_type = form.get("grant_type")
        if grant_type is None:
            raise InvalidRequest("grant_type is missing")
        if dpop:
            self.dpop.ask_nonce(state, dpop, self.clock())
        client = await self.clients.authenticate(state, form, authorization, audiences=audiences)
        now = self.clock()
        bound = None
        if dpop or state.realm.dpop_required or client.dpop_required:
            bound = await self.dpop.binding(state, client, dpop or [], url=url, now=now)
        if bound is None:  # the common case: nothing to set
            return await self._grant(state, client, grant_type, form, issuer, now)
        token = _BOUND_TO.set(bound)
        try:
            return await self._grant(state, client, grant_type, form, issuer, now)
        finally:
            _BOUND_TO.reset(token)

    async def _grant(
        self,
        state: RealmState,
        client: Client,
        grant_type: str,
        form: dict[str, str],
        issuer: str,
        now: float,
    ) -> Issued:
        if grant_type == "client_credentials":
            scope = _requested_scope(client, form.get("scope"))
            targets = _resources.for_request(state, client, form)
            issued = self._mint(
                state, client, scope, issuer, int(now), family=None, resources=targets
            )
            if issued.refresh_record is not None:
                async with self.db.write() as conn:
                    await refresh.insert_refresh_token(conn, issued.refresh_record)
        elif grant_type == "refresh_token":
            if not client.refresh_tokens:
                raise UnauthorizedClient(
                    f"client {client.client_id!r} is not allowed the refresh_token grant"
                )
            issued = await self._refresh(state, client, form, issuer, int(now))
        elif grant_type in EXTENSION_GRANTS:
            issued = await self._external_grant(state, client, grant_type, form, issuer, int(now))
        else:
            raise _unsupported(grant_type)
        emit("token_issued", realm=state.realm.name, client_id=client.client_id, grant=grant_type)
        return issued

    def _mint(
        self,
        state: RealmState,
        client: Client,
        scope: frozenset[str],
        issuer: str,
        now: int,
        *,
        family: str | None,
        resources: tuple[str, ...] = (),
        kept: tuple[str, ...] | None = None,
        subject: str | None = None,
        extra: dict[str, Any] | None = None,
        issued_token_type: str | None = None,
        successor: _Successor | None = None,
    ) -> Issued:
        """The access token for ``resources`` (none: the default audience), and the refresh
        token, if the client gets one, for ``kept`` (default: the same resources); or, for a
        rotation, the refresh token made already (``successor``, stored with ``refresh_record``
        None)."""
        realm = state.realm
        ttl = client.access_token_ttl or realm.access_token_ttl
        scope_text = format_scope(scope)
        claims: dict[str, Any] = {
            "iss": issuer,
            "sub": subject or client.client_id,
            "aud": _resources.audience(resources, _resources.default_audience(state, client)),
            "exp": now + ttl,
            "iat": now,
            "jti": secrets.token_urlsafe(16),
            "client_id": client.client_id,
        }
        if client.static_claims or extra:  # static and mapped claims never override ours
            claims = {**client.static_claims, **(extra or {}), **claims}
        if subject is not None:
            claims["azp"] = client.client_id
        if scope_text:
            claims["scope"] = scope_text
        bound = _BOUND_TO.get()
        if bound is not None:
            claims["cnf"] = {"jkt": bound}
        access_token = state.signer.sign(claims)
        refresh_token: str | None = None
        pending: RefreshTokenRecord | None = None
        if successor is not None:
            refresh_token = successor.token
        # A refresh token remembers only the client, scope and resources, so tokens for an
        # external subject (id_auth, exchange, jwt-bearer) come without one.
        elif client.refresh_tokens and subject is None:
            refresh_token, pending = _new_refresh_token(
                state,
                client,
                scope_text,
                now,
                family=family or secrets.token_urlsafe(16),
                resources=resources if kept is None else kept,
            )
        refresh_ttl = realm.refresh_token_ttl if refresh_token is not None else None
        style = client.style or state.style
        response = TokenResponse(
            access_token=access_token,
            expires_in=ttl,
            scope=scope_text,
            refresh_token=refresh_token,
            refresh_expires_in=refresh_ttl,
            issued_token_type=issued_token_type,
            token_type="Bearer" if bound is None else "DPoP",
        )
        return Issued(response, style, pending)

    async def _external_grant(
        self,
        state: RealmState,
        client: Client,
        grant_type: str,
        form: dict[str, str],
        issuer: str,
        now: int,
    ) -> Issued:
        """id_auth, RFC 8693 token exchange and RFC 7523 jwt-bearer: a token about a subject
        vouched for by a trusted issuer (or, for exchange, by this realm)."""
        short = EXTENSION_GRANTS[grant_type]
        if short not in client.grant_types:
            raise UnauthorizedClient(
                f"client {client.client_id!r} is not allowed the {short} grant "
                f"(tokensmith client create … --grant {short})"
            )
        scope = _requested_scope(client, form.get("scope"))
        targets = _resources.for_request(state, client, form)
        issued_type: str | None = None
        extra: dict[str, Any] = {}
        if short == "id_auth":
            claims = await self.external.verify(state, _required(form, "id_token"), what="id_token")
        elif short == "jwt-bearer":
            claims = await self.external.verify(
                state, _required(form, "assertion"), what="assertion"
            )
        else:
            requested = form.get("requested_token_type", TOKEN_TYPE_ACCESS)
            if requested not in (TOKEN_TYPE_ACCESS, TOKEN_TYPE_JWT):
                raise InvalidRequest("requested_token_type may only be an access token or a JWT")
            claims = await self._subject(state, form, "subject_token", "subject_token_type")
            if "actor_token" in form:
                actor = await self._subject(state, form, "actor_token", "actor_token_type")
                extra["act"] = {"sub": actor["sub"]}
            issued_type = TOKEN_TYPE_ACCESS
        trusted = state.issuers.get(str(claims.get("iss")))
        if trusted is not None:
            extra.update({c: claims[c] for c in trusted.claims if c in claims})
        return self._mint(
            state,
            client,
            scope,
            issuer,
            now,
            family=None,
            resources=targets,
            subject=str(claims["sub"]),
            extra=extra,
            issued_token_type=issued_type,
        )

    async def _subject(
        self, state: RealmState, form: dict[str, str], name: str, type_name: str
    ) -> dict[str, Any]:
        token = _required(form, name)
        kind = _required(form, type_name)
        if kind == TOKEN_TYPE_ACCESS:
            try:
                claims = await self.own.access_claims(state, token)
            except InvalidToken as exc:
                raise InvalidGrant(f"the {name} was refused: {exc.description}") from None
            if "cnf" in claims:  # exchanging it would shed its key: a stolen copy would work
                raise InvalidGrant(
                    f"the {name} is DPoP-bound (cnf); a bound token cannot be exchanged"
                )
            return claims
        if kind in (TOKEN_TYPE_ID, TOKEN_TYPE_JWT):
            return await self.external.verify(state, token, what=name)
        raise InvalidRequest(f"{type_name} must be an access_token, id_token or jwt token type URN")

    async def _refresh(
        self, state: RealmState, client: Client, form: dict[str, str], issuer: str, now: int
    ) -> Issued:
        """The refresh_token grant (RFC 6749 §6) with rotation: the presented token is used up
        and replaced by a new one of its family.

        Presenting a used or revoked token again revokes the whole family (RFC 9700 §4.14.2),
        except a retry by the same client within the realm's reuse grace period while the used
        token's replacement is still unused (its answer was lost): the retry gets a new pair and
        the replacement it never received is revoked, so the family keeps one live token.

        The common case, a live token of this client, is one short transaction of two statements
        (claim the token, store its successor) run by the driver itself; a refusal decided in it
        (a widened scope or resource) rolls the claim back, so the token stays good. For any
        other token that claim writes nothing, and a transaction of its own reads and locks the
        token to tell which refusal or retry it is. The access token is signed after the
        transaction.
        """
        presented = form.get("refresh_token")
        if presented is None:
            raise InvalidRequest("refresh_token is missing")
        asked = _resources.requested(form.get("resource"))
        digest = refresh.digest(presented)
        made: list[_Successor] = []

        def successor(used: RefreshTokenRecord) -> RefreshTokenRecord:
            made.append(_successor(state, client, used, form, asked, now))
            return made[-1].record

        plan = refresh.rotate(
            digest, realm_id=state.realm.id, client_pk=client.id, now=now, successor=successor
        )
        if await self.db.run(plan) is None:
            return await self._refresh_other(state, client, form, issuer, now, presented, asked)
        return self._issue_successor(state, client, issuer, now, made[-1])

    async def _refresh_other(
        self,
        state: RealmState,
        client: Client,
        form: dict[str, str],
        issuer: str,
        now: int,
        presented: str,
        asked: tuple[str, ...],
    ) -> Issued:
        """The refresh grant for a token that could not be claimed: unknown, another client's,
        revoked, used (a reuse, or a retry within the grace period) or expired."""
        failure: OAuthError | None = None
        made: _Successor | None = None
        async with self.db.write() as conn:
            record = await refresh.get_refresh_token(
                conn, refresh.digest(presented), for_update=True
            )
            failure = await _refusal(conn, state, client, record, presented, now)
            if failure is None:
                assert record is not None  # _refusal refuses an unknown token
                # Decided before the token is used: a refused rotation leaves it good.
                made = _successor(state, client, record, form, asked, now)
                failure = await _use(conn, record, now)
                if failure is None:
                    await refresh.insert_refresh_token(conn, made.record)
        # Raised only now, outside the transaction: raising inside would roll back the family
        # revocation that a reused or replaced token has just written.
        if failure is not None:
            if record is not None and failure.description in _FAMILY_REVOKED:
                emit(
                    "refresh_token_reused",
                    realm=state.realm.name,
                    client_id=client.client_id,
                    family=record.family,
                    token_state=_FAMILY_REVOKED[failure.description],
                )
            raise failure
        assert made is not None
        return self._issue_successor(state, client, issuer, now, made)

    def _issue_successor(
        self, state: RealmState, client: Client, issuer: str, now: int, made: _Successor
    ) -> Issued:
        """The token response of a rotation whose successor is stored."""
        issued = self._mint(
            state,
            client,
            made.scope,
            issuer,
            now,
            family=made.record.family,
            resources=made.targets,
            successor=made,
        )
        return dataclasses.replace(issued, refresh_record=made.record)


@dataclass(frozen=True)
class _Successor:
    """What a rotation grants, decided in its transaction: the new refresh token (value and
    record) and the scope and resources of the access token that comes with it."""

    scope: frozenset[str]
    targets: tuple[str, ...]
    token: str = field(repr=False)
    record: RefreshTokenRecord


def _successor(
    state: RealmState,
    client: Client,
    used: RefreshTokenRecord,
    form: dict[str, str],
    asked: tuple[str, ...],
    now: int,
) -> _Successor:
    """The refresh token that replaces ``used``, in its family, and what it grants.

    Raises:
        InvalidTarget: a resource asked for (or kept) is not allowed.
        InvalidScope: the request widens the scope.
    """
    scope, targets, kept = _rotation(state, client, used, form, asked)
    token, record = _new_refresh_token(
        state, client, format_scope(scope), now, family=used.family, resources=kept
    )
    return _Successor(scope, targets, token, dataclasses.replace(record, parent=used.digest))


def _new_refresh_token(
    state: RealmState,
    client: Client,
    scope: str,
    now: int,
    *,
    family: str,
    resources: tuple[str, ...],
) -> tuple[str, RefreshTokenRecord]:
    """A new refresh token of ``family`` for ``scope`` and ``resources``, and its record."""
    token = secrets.token_urlsafe(32)
    record = RefreshTokenRecord(
        digest=refresh.digest(token),
        family=family,
        realm_id=state.realm.id,
        client_pk=client.id,
        scope=scope,
        issued_at=now,
        expires_at=now + state.realm.refresh_token_ttl,
        used_at=None,
        revoked=False,
        resources=" ".join(resources),
    )
    return token, record


def _rotation(
    state: RealmState,
    client: Client,
    record: RefreshTokenRecord,
    form: dict[str, str],
    asked: tuple[str, ...],
) -> tuple[frozenset[str], tuple[str, ...], tuple[str, ...]]:
    """What the token that replaces ``record`` grants: the scope, the access token's resources
    and the refresh token's.

    Raises:
        InvalidTarget: a resource asked for (or kept) is not allowed.
        InvalidScope: the request widens the scope.
    """
    granted = parse_scope(record.scope) & (client.scopes | ALWAYS_ALLOWED_SCOPES)
    requested = parse_scope(form.get("scope"))
    targets, kept = _resources.for_refresh(
        tuple(record.resources.split()),
        asked,
        _resources.allowed(state, client),
        _resources.default_audience(state, client),
    )
    widened = requested - granted - ALWAYS_ALLOWED_SCOPES
    if widened:
        raise InvalidScope(
            "a refresh may narrow the scope, never widen it; not granted: "
            + echo(format_scope(widened))
        )
    return _or_default(requested, granted), targets, kept


async def _refusal(
    conn: Connection,
    state: RealmState,
    client: Client,
    record: RefreshTokenRecord | None,
    presented: str,
    now: int,
) -> InvalidGrant | None:
    """Why a token that could not be claimed is refused (revoking its family when it is a
    replaced or reused one), or None for a retry within the reuse grace period."""
    if record is None or record.realm_id != state.realm.id:
        return InvalidGrant(_unknown_refresh_token(presented))
    if record.client_pk != client.id:
        return InvalidGrant("the refresh token was issued to another client")
    if record.revoked:
        await refresh.revoke_family(conn, record.family)  # a replaced token came back
        return InvalidGrant(_REVOKED)
    if record.used_at is not None and not await _retry_in_grace(
        conn, record, state.realm.reuse_grace, now
    ):
        return await _reused(conn, record)
    if record.expires_at <= now:
        return InvalidGrant("the refresh token has expired")
    return None


async def _use(conn: Connection, record: RefreshTokenRecord, now: int) -> InvalidGrant | None:
    """Use the locked ``record`` for a rotation: a retry within the grace period supersedes the
    replacement whose answer was lost; a live token (which the one-statement claim would have
    taken) is claimed. The refusal, with the family revoked, when that fails."""
    if record.used_at is not None:
        if not await refresh.supersede_child(conn, record.digest):
            return await _reused(conn, record)  # its child moved on meanwhile
    elif not await refresh.claim_refresh_token(conn, record.digest, now):
        return await _reused(conn, record)
    return None


def _requested_scope(client: Client, value: str | None) -> frozenset[str]:
    """The scope a token request gets: the scopes it names, or the client's default scopes
    when it names none but ``openid`` (which it keeps).

    Raises:
        InvalidScope: a named scope is not allowed for the client.
    """
    requested = parse_scope(value)
    refused = requested - client.scopes - ALWAYS_ALLOWED_SCOPES
    if refused:
        allowed = format_scope(client.scopes) or "none"
        raise InvalidScope(
            f"scope {echo(format_scope(refused))!r} is not allowed for this client "
            f"(allowed: {allowed})"
        )
    return _or_default(requested, client.default_scopes)


def _or_default(requested: frozenset[str], default: frozenset[str]) -> frozenset[str]:
    """``requested``, or ``default`` with ``openid`` when that is all it names (Keycloak's
    reading: ``openid`` asks for OpenID Connect, not for access)."""
    if requested - ALWAYS_ALLOWED_SCOPES:
        return requested
    return default | requested


async def _retry_in_grace(
    conn: Connection, record: RefreshTokenRecord, grace: int, now: int
) -> bool:
    """Whether presenting the used ``record`` again is a retry after a lost answer: within
    ``grace`` seconds of its use, before it expires, and while the token that replaced it has not
    been used (so only the newest used token of a family qualifies)."""
    assert record.used_at is not None
    if not (now - record.used_at < grace and now < record.expires_at):
        return False
    return await refresh.has_live_child(conn, record.digest)


async def _reused(conn: Connection, record: RefreshTokenRecord) -> InvalidGrant:
    await refresh.revoke_family(conn, record.family)
    return InvalidGrant(_REUSED)


def _unsupported(grant_type: str) -> UnsupportedGrantType:
    """The refusal of a grant type this service does not offer."""
    if grant_type in ("authorization_code", "password", "implicit"):
        return UnsupportedGrantType(
            f"grant type {grant_type!r} is not offered: this service is for machine clients"
        )
    return UnsupportedGrantType(
        f"grant type {echo(grant_type)!r} is not supported; use one of {', '.join(GRANT_TYPES)}"
    )


def _required(form: dict[str, str], name: str) -> str:
    value = form.get(name)
    if value is None:
        raise InvalidRequest(f"{name} is missing")
    return value


def _unknown_refresh_token(presented: str) -> str:
    if len(presented) != _REFRESH_TOKEN_LENGTH:
        return (
            f"the refresh token is not one this service issued: it has {len(presented)} "
            f"characters where ours have {_REFRESH_TOKEN_LENGTH} (was something appended to it?)"
        )
    return "the refresh token is unknown, expired or revoked"
