"""Admin events: each change made through :class:`~tokensmith.server._admin.Admin` (and so by
the CLI and the admin API alike) leaves one row in ``admin_events``, written in the transaction
that makes the change, so that a change without its row (or a row without its change) cannot be.

The row says who made the change, from the :func:`~tokensmith.server._events.acting` block it
runs in: ``via`` ``cli`` (``by`` the system user) or ``admin-api`` (``by`` the admin client,
from ``address``); outside any block, ``via`` is ``service`` (the service's own changes: the
master realm made at first start, the demo realms). Its details are a small JSON object of
names and settings, never a secret.
"""

from __future__ import annotations

import json
from typing import Literal

from ..oauth import Clock
from ..store import Connection, eventlog
from ._events import actor, clip

Operation = Literal["CREATE", "UPDATE", "DELETE", "ACTION"]
"""What a change did, as Keycloak's ``OperationType``."""
ResourceType = Literal[
    "REALM", "CLIENT", "CLIENT_SECRET", "KEYS", "TRUSTED_ISSUER", "FEDERATED_CREDENTIAL"
]
"""What a change touched, as Keycloak's ``ResourceType`` (``KEYS``, ``TRUSTED_ISSUER`` and
``FEDERATED_CREDENTIAL`` are tokensmith's)."""


async def record_change(
    conn: Connection,
    clock: Clock,
    realm: str,
    operation: Operation,
    resource_type: ResourceType,
    resource_path: str,
    **details: object,
) -> None:
    """Write the admin event of a change to ``realm`` in the transaction of ``conn``:
    ``resource_path`` is the resource's path under ``/admin/realms/{realm}/`` (``""`` for the
    realm itself), ``details`` what the event shows of it (never a secret)."""
    who = actor() or {}
    via, by, address = who.get("via"), who.get("by"), who.get("address")
    await eventlog.add_admin_event(
        conn,
        time=int(clock() * 1000),
        realm=realm,
        operation=operation,
        resource_type=resource_type,
        resource_path=resource_path,
        via=str(via) if via else "service",
        actor=clip(str(by), 255) if by else None,
        address=clip(str(address), 255) if address else None,
        details=json.dumps(details, separators=(",", ":"), sort_keys=True),
    )
