"""Trusted external issuers of a realm."""

from __future__ import annotations

from sqlalchemy import and_, delete, insert, select
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ._errors import Conflict, NotFound
from ._models import TrustedIssuer
from ._tables import trusted_issuers


def _issuer(row: Row[tuple[object, ...]]) -> TrustedIssuer:
    m = row._mapping
    return TrustedIssuer(
        id=m["id"],
        realm_id=m["realm_id"],
        issuer=m["issuer"],
        jwks_url=m["jwks_url"],
        jwks=m["jwks"],
        audiences=frozenset(m["audiences"].split()),
        algorithms=tuple(m["algorithms"].split()),
        max_age=m["max_age"],
        claims=tuple(m["claims"].split()),
        created_at=m["created_at"],
        private_key=m["private_key"],
        profile=m["profile"],
        client_audience=m["client_audience"],
        ca_file=m["ca_file"],
    )


async def add_issuer(
    conn: AsyncConnection,
    *,
    realm_id: int,
    issuer: str,
    jwks_url: str | None,
    jwks: str | None,
    audiences: str,
    algorithms: str,
    max_age: int,
    claims: str,
    private_key: bytes | None,
    now: int,
    profile: str = "oidc",
    client_audience: str | None = None,
    ca_file: str | None = None,
) -> None:
    """Trust ``issuer`` in the realm.

    Raises:
        Conflict: the realm already trusts this issuer.
    """
    try:
        await conn.execute(
            insert(trusted_issuers).values(
                realm_id=realm_id,
                issuer=issuer,
                jwks_url=jwks_url,
                jwks=jwks,
                audiences=audiences,
                algorithms=algorithms,
                max_age=max_age,
                claims=claims,
                private_key=private_key,
                created_at=now,
                profile=profile,
                client_audience=client_audience,
                ca_file=ca_file,
            )
        )
    except IntegrityError:
        raise Conflict(f"the realm already trusts issuer {issuer!r}") from None


async def list_issuers(conn: AsyncConnection, realm_id: int) -> list[TrustedIssuer]:
    """The realm's trusted issuers, by issuer URL."""
    rows = await conn.execute(
        select(trusted_issuers)
        .where(trusted_issuers.c.realm_id == realm_id)
        .order_by(trusted_issuers.c.issuer)
    )
    return [_issuer(row) for row in rows]


async def remove_issuer(conn: AsyncConnection, realm_id: int, issuer: str) -> None:
    """Stop trusting ``issuer``.

    Raises:
        NotFound: the realm does not trust it.
    """
    result = await conn.execute(
        delete(trusted_issuers).where(
            and_(trusted_issuers.c.realm_id == realm_id, trusted_issuers.c.issuer == issuer)
        )
    )
    if result.rowcount == 0:
        raise NotFound(f"the realm does not trust issuer {issuer!r}")
