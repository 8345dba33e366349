"""Clients and their secrets."""

from __future__ import annotations

from sqlalchemy import and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ..oauth import parse_scope

# Client authentication records an assertion's jti as ``clients.use_assertion``; the deny list that
# keeps it is in _denylist.py.
from ._denylist import use_assertion as use_assertion
from ._errors import Conflict, NotFound
from ._models import Client, StoredSecret
from ._tables import client_secrets, clients, realms


def _client(row: Row[tuple[object, ...]], secrets: tuple[StoredSecret, ...]) -> Client:
    m = row._mapping
    return Client(
        id=m["id"],
        realm_id=m["realm_id"],
        client_id=m["client_id"],
        enabled=bool(m["enabled"]),
        scopes=parse_scope(m["scopes"]),
        default_scopes=parse_scope(m["default_scopes"]),
        refresh_tokens=bool(m["refresh_tokens"]),
        access_token_ttl=m["access_token_ttl"],
        response_style=m["response_style"],
        created_at=m["created_at"],
        secrets=secrets,
        grant_types=frozenset((m["grant_types"] or "").split()),
        audience=m["audience"],
        extra_claims=m["extra_claims"],
        jwks=m["jwks"],
        jwks_url=m["jwks_url"],
        resources=frozenset(m["resources"].split()),
        dpop_required=bool(m["dpop_required"]),
        last_used_at=m["last_used_at"],
    )


async def _secrets_of(conn: AsyncConnection, client_pk: int) -> tuple[StoredSecret, ...]:
    rows = await conn.execute(
        select(client_secrets)
        .where(client_secrets.c.client_pk == client_pk)
        .order_by(client_secrets.c.created_at.desc(), client_secrets.c.id.desc())
    )
    return tuple(
        StoredSecret(id=r.id, digest=r.digest, created_at=r.created_at, expires_at=r.expires_at)
        for r in rows
    )


async def create_client(
    conn: AsyncConnection,
    *,
    realm_id: int,
    client_id: str,
    scopes: str,
    default_scopes: str,
    refresh_tokens: bool,
    access_token_ttl: int | None,
    response_style: str | None,
    secret_digest: str,
    now: int,
    grant_types: str = "",
    audience: str | None = None,
    extra_claims: str | None = None,
    jwks: str | None = None,
    jwks_url: str | None = None,
    resources: str = "",
    dpop_required: bool = False,
) -> Client:
    """Insert a client with one secret digest.

    Raises:
        Conflict: the realm already has a client with this id.
    """
    try:
        result = await conn.execute(
            insert(clients).values(
                realm_id=realm_id,
                client_id=client_id,
                enabled=True,
                scopes=scopes,
                default_scopes=default_scopes,
                refresh_tokens=refresh_tokens,
                access_token_ttl=access_token_ttl,
                response_style=response_style,
                created_at=now,
                grant_types=grant_types,
                audience=audience,
                extra_claims=extra_claims,
                jwks=jwks,
                jwks_url=jwks_url,
                resources=resources,
                dpop_required=dpop_required,
            )
        )
    except IntegrityError:
        raise Conflict(f"client {client_id!r} already exists in this realm") from None
    client_pk = result.inserted_primary_key[0]  # type: ignore[index]
    if secret_digest:
        await add_secret(conn, client_pk, secret_digest, now)
    client = await get_client(conn, realm_id, client_id)
    assert client is not None
    return client


async def get_client(conn: AsyncConnection, realm_id: int, client_id: str) -> Client | None:
    """The client ``client_id`` of the realm with its secrets, or None."""
    row = (
        await conn.execute(
            select(clients).where(
                and_(clients.c.realm_id == realm_id, clients.c.client_id == client_id)
            )
        )
    ).first()
    if row is None:
        return None
    return _client(row, await _secrets_of(conn, row._mapping["id"]))


async def require_client(conn: AsyncConnection, realm_id: int, client_id: str) -> Client:
    """The client ``client_id`` of the realm.

    Raises:
        NotFound: there is no such client.
    """
    client = await get_client(conn, realm_id, client_id)
    if client is None:
        raise NotFound(f"client {client_id!r} does not exist in this realm")
    return client


async def list_clients(conn: AsyncConnection, realm_id: int) -> list[Client]:
    """The realm's clients, by client id (with their secrets)."""
    rows = (
        await conn.execute(
            select(clients).where(clients.c.realm_id == realm_id).order_by(clients.c.client_id)
        )
    ).all()
    return [_client(row, await _secrets_of(conn, row._mapping["id"])) for row in rows]


async def set_enabled(conn: AsyncConnection, client_pk: int, enabled: bool) -> None:
    """Enable or disable a client."""
    await conn.execute(update(clients).where(clients.c.id == client_pk).values(enabled=enabled))


async def update_client(conn: AsyncConnection, client_pk: int, **values: object) -> None:
    """Change the client's settings: ``values`` are columns of ``clients`` (scopes and default
    scopes as scope strings)."""
    await conn.execute(update(clients).where(clients.c.id == client_pk).values(**values))


async def delete_client(conn: AsyncConnection, client_pk: int) -> None:
    """Delete a client with its secrets and refresh tokens."""
    await conn.execute(delete(clients).where(clients.c.id == client_pk))


async def add_secret(conn: AsyncConnection, client_pk: int, digest: str, now: int) -> None:
    """Give the client one more secret."""
    await conn.execute(
        insert(client_secrets).values(
            client_pk=client_pk, digest=digest, created_at=now, expires_at=None
        )
    )


async def expire_secrets(conn: AsyncConnection, client_pk: int, *, at: int, now: int) -> None:
    """Let every secret of the client that outlives ``at`` expire at ``at``; drop those already
    expired at ``now``."""
    await conn.execute(
        update(client_secrets)
        .where(
            and_(
                client_secrets.c.client_pk == client_pk,
                or_(client_secrets.c.expires_at.is_(None), client_secrets.c.expires_at > at),
            )
        )
        .values(expires_at=at)
    )
    await conn.execute(
        delete(client_secrets).where(
            and_(client_secrets.c.client_pk == client_pk, client_secrets.c.expires_at <= now)
        )
    )


async def record_use(conn: AsyncConnection, uses: list[tuple[str, str, int]]) -> None:
    """Set each ``(realm name, client id, at)``'s ``last_used_at`` to ``at`` unless it is later
    already (another process wrote a later use), in one batched statement. Changes no realm's
    version: what services cache stays valid."""
    if not uses:
        return
    realm_id = select(realms.c.id).where(realms.c.name == bindparam("u_realm")).scalar_subquery()
    statement = (
        update(clients)
        .where(
            and_(
                clients.c.realm_id == realm_id,
                clients.c.client_id == bindparam("u_client"),
                or_(clients.c.last_used_at.is_(None), clients.c.last_used_at < bindparam("u_at")),
            )
        )
        .values(last_used_at=bindparam("u_at"))
    )
    await conn.execute(statement, [{"u_realm": r, "u_client": c, "u_at": at} for r, c, at in uses])
