"""Federated credentials: which trusted issuer's tokens, with which subject or condition,
authenticate which client."""

from __future__ import annotations

from sqlalchemy import and_, delete, insert, select
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ._errors import Conflict, NotFound
from ._models import FederatedCredential
from ._tables import clients, federated_credentials, trusted_issuers

_COLUMNS = (
    federated_credentials,
    clients.c.client_id,
    trusted_issuers.c.issuer,
)


def _credential(row: Row[tuple[object, ...]]) -> FederatedCredential:
    m = row._mapping
    return FederatedCredential(
        id=m["id"],
        client_pk=m["client_pk"],
        client_id=m["client_id"],
        issuer_id=m["issuer_id"],
        issuer=m["issuer"],
        name=m["name"],
        subject=m["subject"],
        condition=m["condition"],
        created_at=m["created_at"],
    )


def _joined() -> object:
    return federated_credentials.join(
        clients, clients.c.id == federated_credentials.c.client_pk
    ).join(trusted_issuers, trusted_issuers.c.id == federated_credentials.c.issuer_id)


async def add_credential(
    conn: AsyncConnection,
    *,
    client_pk: int,
    issuer_id: int,
    name: str,
    subject: str | None,
    condition: str | None,
    now: int,
) -> None:
    """Give the client a federated credential.

    Raises:
        Conflict: the client has a credential of this name already.
    """
    try:
        await conn.execute(
            insert(federated_credentials).values(
                client_pk=client_pk,
                issuer_id=issuer_id,
                name=name,
                subject=subject,
                condition=condition,
                created_at=now,
            )
        )
    except IntegrityError:
        raise Conflict(f"the client has a federated credential named {name!r} already") from None


async def list_credentials(
    conn: AsyncConnection, realm_id: int, client_pk: int | None = None
) -> list[FederatedCredential]:
    """The federated credentials of the realm's clients (of one client when ``client_pk`` is
    given), by client id and name."""
    condition = clients.c.realm_id == realm_id
    if client_pk is not None:
        condition = and_(condition, federated_credentials.c.client_pk == client_pk)
    rows = await conn.execute(
        select(*_COLUMNS)
        .select_from(_joined())  # type: ignore[arg-type]
        .where(condition)
        .order_by(clients.c.client_id, federated_credentials.c.name)
    )
    return [_credential(row) for row in rows]


async def remove_credential(conn: AsyncConnection, client_pk: int, name: str) -> None:
    """Remove the client's federated credential ``name``.

    Raises:
        NotFound: the client has no credential of this name.
    """
    result = await conn.execute(
        delete(federated_credentials).where(
            and_(
                federated_credentials.c.client_pk == client_pk,
                federated_credentials.c.name == name,
            )
        )
    )
    if result.rowcount == 0:
        raise NotFound(f"the client has no federated credential named {name!r}")
