"""Realms, their token-path aliases and their signing keys."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ._errors import Conflict, NotFound
from ._models import Realm, SigningKeyRecord
from ._notify import notify_realm, notify_realm_id
from ._tables import clients, realms, signing_keys, token_paths


def _realm(row: Row[tuple[object, ...]], paths: Sequence[str] = ()) -> Realm:
    m = row._mapping
    return Realm(
        id=m["id"],
        name=m["name"],
        access_token_ttl=m["access_token_ttl"],
        refresh_token_ttl=m["refresh_token_ttl"],
        alg=m["alg"],
        response_style=m["response_style"],
        audience=m["audience"],
        version=m["version"],
        created_at=m["created_at"],
        token_paths=tuple(sorted(paths)),
        refresh_reuse_grace=m["refresh_reuse_grace"],
        client_auth_limit=m["client_auth_limit"],
        address_auth_limit=m["address_auth_limit"],
        max_assertion_lifetime=m["max_assertion_lifetime"],
        cors_origins=tuple(m["cors_origins"].split()),
        dpop_required=bool(m["dpop_required"]),
        dpop_nonce=bool(m["dpop_nonce"]),
    )


async def create_realm(
    conn: AsyncConnection,
    *,
    name: str,
    access_token_ttl: int,
    refresh_token_ttl: int,
    alg: str,
    response_style: str,
    audience: str | None,
    paths: Sequence[str],
    now: int,
    client_auth_limit: str | None = None,
    address_auth_limit: str | None = None,
    refresh_reuse_grace: int | None = None,
    max_assertion_lifetime: int | None = None,
    cors_origins: Sequence[str] = (),
    dpop_required: bool = False,
    dpop_nonce: bool = False,
) -> Realm:
    """Insert a realm with its token-path aliases.

    Raises:
        Conflict: the name is taken, in any case ("Acme" when "acme" exists), or another realm
            already answers at one of ``paths``.
    """
    folded = name.lower()  # names are ASCII
    taken = await conn.scalar(select(realms.c.name).where(realms.c.name_folded == folded))
    if taken == name:
        raise Conflict(f"realm {name!r} already exists")
    if taken is not None:
        raise Conflict(
            f"realm {taken!r} already exists, and realm names are unique regardless of case; "
            f"choose a name other than {name!r}"
        )
    for path in paths:
        owner = await path_owner(conn, path)
        if owner is not None:
            raise Conflict(f"token path {path!r} already belongs to realm {owner!r}")
    try:
        result = await conn.execute(
            insert(realms).values(
                name=name,
                name_folded=folded,
                access_token_ttl=access_token_ttl,
                refresh_token_ttl=refresh_token_ttl,
                alg=alg,
                response_style=response_style,
                audience=audience,
                version=1,
                created_at=now,
                client_auth_limit=client_auth_limit,
                address_auth_limit=address_auth_limit,
                refresh_reuse_grace=refresh_reuse_grace,
                max_assertion_lifetime=max_assertion_lifetime,
                cors_origins=" ".join(cors_origins),
                dpop_required=dpop_required,
                dpop_nonce=dpop_nonce,
            )
        )
        realm_id = result.inserted_primary_key[0]  # type: ignore[index]
        for path in paths:
            await conn.execute(insert(token_paths).values(path=path, realm_id=realm_id))
    except IntegrityError:  # made at the same time by another writer
        raise Conflict(
            f"realm {name!r} (or one whose name differs only in case) or one of its token "
            "paths was created meanwhile"
        ) from None
    realm = await get_realm(conn, name)
    assert realm is not None
    return realm


async def get_realm(conn: AsyncConnection, name: str) -> Realm | None:
    """The realm called ``name``, or None."""
    row = (await conn.execute(select(realms).where(realms.c.name == name))).first()
    if row is None:
        return None
    paths = await conn.scalars(
        select(token_paths.c.path).where(token_paths.c.realm_id == row._mapping["id"])
    )
    return _realm(row, list(paths))


async def require_realm(conn: AsyncConnection, name: str) -> Realm:
    """The realm called ``name``.

    Raises:
        NotFound: there is no such realm.
    """
    realm = await get_realm(conn, name)
    if realm is None:
        raise NotFound(f"realm {name!r} does not exist")
    return realm


async def list_realms(conn: AsyncConnection) -> list[Realm]:
    """Every realm, by name."""
    rows = (await conn.execute(select(realms).order_by(realms.c.name))).all()
    path_rows = (await conn.execute(select(token_paths))).all()
    by_realm: dict[int, list[str]] = {}
    for path, realm_id in path_rows:
        by_realm.setdefault(realm_id, []).append(path)
    return [_realm(row, by_realm.get(row._mapping["id"], [])) for row in rows]


async def realm_names(conn: AsyncConnection) -> list[str]:
    """Every realm's name, sorted (by code point, whatever the database's collation)."""
    return sorted(await conn.scalars(select(realms.c.name)))


async def case_clashes(conn: AsyncConnection) -> list[list[str]]:
    """The groups of realm names that differ only in case (each oldest realm first), made
    before names were unique regardless of case (migration 0009)."""
    rows = await conn.execute(
        select(realms.c.name, func.lower(realms.c.name)).order_by(realms.c.id)
    )
    groups: dict[str, list[str]] = {}
    for name, folded in rows:
        groups.setdefault(folded, []).append(name)
    return [names for names in groups.values() if len(names) > 1]


async def count_clients(conn: AsyncConnection, realm_id: int) -> int:
    """How many clients the realm has."""
    count = await conn.scalar(
        select(func.count()).select_from(clients).where(clients.c.realm_id == realm_id)
    )
    return int(count or 0)


async def delete_realm(conn: AsyncConnection, name: str) -> None:
    """Delete a realm and everything in it (services holding it hear of it at commit, on
    PostgreSQL).

    Raises:
        NotFound: there is no such realm.
    """
    result = await conn.execute(delete(realms).where(realms.c.name == name))
    if result.rowcount == 0:
        raise NotFound(f"realm {name!r} does not exist")
    await notify_realm(conn, name)


_NAMES_PER_QUERY = 500  # bound parameters per statement, well within SQLite's and asyncpg's


async def realm_versions(conn: AsyncConnection, names: Iterable[str]) -> dict[str, tuple[int, int]]:
    """The id and change counter of each realm in ``names`` that exists: what a service polls to
    notice changes to the realms it holds (a realm missing from the answer was deleted)."""
    wanted = list(names)
    found: dict[str, tuple[int, int]] = {}
    for start in range(0, len(wanted), _NAMES_PER_QUERY):
        rows = await conn.execute(
            select(realms.c.name, realms.c.id, realms.c.version).where(
                realms.c.name.in_(wanted[start : start + _NAMES_PER_QUERY])
            )
        )
        found.update((name, (realm_id, version)) for name, realm_id, version in rows)
    return found


async def all_versions(conn: AsyncConnection) -> dict[int, tuple[str, int]]:
    """The name and change counter of every realm, by id: one narrow read, what a service
    compares to notice which realms' signing keys to check again."""
    rows = await conn.execute(select(realms.c.id, realms.c.name, realms.c.version))
    return {realm_id: (name, version) for realm_id, name, version in rows}


async def signing_keys_in_use(
    conn: AsyncConnection, realm_ids: Sequence[int]
) -> list[tuple[int, str, bytes]]:
    """``(realm id, state, encrypted private key)`` of the current and next signing keys of the
    realms ``realm_ids``: the keys a realm signs with now or after its next rotation."""
    found: list[tuple[int, str, bytes]] = []
    for start in range(0, len(realm_ids), _NAMES_PER_QUERY):
        rows = await conn.execute(
            select(signing_keys.c.realm_id, signing_keys.c.state, signing_keys.c.private_key)
            .where(signing_keys.c.realm_id.in_(realm_ids[start : start + _NAMES_PER_QUERY]))
            .where(signing_keys.c.state.in_(("current", "next")))
        )
        found.extend((realm_id, state, bytes(key)) for realm_id, state, key in rows)
    return found


async def path_owner(conn: AsyncConnection, path: str) -> str | None:
    """The name of the realm whose token endpoint has the alias ``path``, or None."""
    name = await conn.scalar(
        select(realms.c.name)
        .join(token_paths, token_paths.c.realm_id == realms.c.id)
        .where(token_paths.c.path == path)
    )
    return None if name is None else str(name)


async def update_realm(conn: AsyncConnection, realm_id: int, **values: object) -> None:
    """Change the realm's settings: ``values`` are columns of ``realms``."""
    await conn.execute(update(realms).where(realms.c.id == realm_id).values(**values))


async def bump_version(conn: AsyncConnection, realm_id: int) -> None:
    """Mark the realm changed so that every service drops what it cached of it: at once on
    PostgreSQL (a notification sent at commit), else at its next poll."""
    await conn.execute(
        update(realms).where(realms.c.id == realm_id).values(version=realms.c.version + 1)
    )
    await notify_realm_id(conn, realm_id)


async def add_key(conn: AsyncConnection, key: SigningKeyRecord) -> None:
    """Store a signing key."""
    await conn.execute(insert(signing_keys).values(**dataclasses.asdict(key)))


async def list_keys(conn: AsyncConnection, realm_id: int) -> list[SigningKeyRecord]:
    """The realm's signing keys, newest first."""
    rows = await conn.execute(
        select(signing_keys)
        .where(signing_keys.c.realm_id == realm_id)
        .order_by(signing_keys.c.created_at.desc(), signing_keys.c.kid)
    )
    return [SigningKeyRecord(**row._mapping) for row in rows]


async def set_key_state(
    conn: AsyncConnection, kid: str, state: str, *, stopped_at: int | None = None
) -> None:
    """Move a key to ``state`` (next, current, previous or retired); ``stopped_at`` records when
    a key stopped signing."""
    values: dict[str, object] = {"state": state}
    if stopped_at is not None:
        values["stopped_at"] = stopped_at
    await conn.execute(update(signing_keys).where(signing_keys.c.kid == kid).values(**values))


async def longest_access_token_ttl(conn: AsyncConnection, realm: Realm) -> int:
    """The longest access-token lifetime of the realm: its own or a client's override."""
    longest = await conn.scalar(
        select(func.max(clients.c.access_token_ttl)).where(clients.c.realm_id == realm.id)
    )
    return max(realm.access_token_ttl, int(longest or 0))
