"""The admin API's read-only views of what happened to a realm, for Keycloak tooling and the web
console:

- ``GET /admin/realms/{realm}/admin-events?first=0&max=100``: its admin events, newest first (a
  deleted realm's too, until they are pruned), as
  Keycloak's ``AdminEventRepresentation`` (``time`` in milliseconds, ``realmId``,
  ``authDetails`` {``realmId``, ``clientId``, ``ipAddress``}, ``operationType``,
  ``resourceType``, ``resourcePath``, ``details``) plus tokensmith's ``id`` and ``via``
  (``cli``, ``admin-api`` or ``service``);
- ``GET /admin/realms/{realm}/events?first=0&max=100``: its security events, newest first, as
  Keycloak's ``EventRepresentation`` (``time``, ``type``, ``realmId``, ``clientId``,
  ``ipAddress``, ``error``, ``details``) plus ``id``;
- ``GET /admin/realms/{realm}/metrics`` (tokensmith's): ``{"time", "tokensIssued",
  "authenticationFailures"}``, the realm's counts since the service started, summed over its
  workers; 404 when the service runs without metrics.

``first`` (default 0) and ``max`` (default 100, at most :data:`MAX_RESULTS`: more reads as that)
are whole numbers; anything else is a 400.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs

from ..core import ASGIScope as Scope
from ..store import AdminEventRecord, EventRecord, NotFound, eventlog
from ._admin import Admin, require_realm
from ._admin_checks import AdminError

DEFAULT_RESULTS = 100
MAX_RESULTS = 1000
"""The most events one request returns (Keycloak's ``max``)."""
_MAX_DIGITS = 9


class AdminEvents:
    """The handlers of the event and metrics views, for :class:`~._admin_api.AdminApi`'s
    route table."""

    def __init__(self, admin: Admin) -> None:
        self.admin = admin

    def __repr__(self) -> str:
        return "AdminEvents()"

    async def admin_events(self, parts: list[str], scope: Scope, body: bytes) -> Any:
        """The realm's admin events, newest first.

        A deleted realm's admin events (its deletion the newest) stay readable until they are
        pruned.

        Raises:
            AdminError: ``first`` or ``max`` is not a whole number.
            NotFound: there is no such realm, and no event of one of that name.
        """
        first, limit = _page(scope)
        async with self.admin.db.read() as conn:
            found = await eventlog.list_admin_events(conn, parts[0], first=first, limit=limit)
            if not found:
                await require_realm(conn, parts[0])
        return 200, [admin_event_representation(e) for e in found], []

    async def events(self, parts: list[str], scope: Scope, body: bytes) -> Any:
        """The realm's security events, newest first.

        Raises:
            AdminError: ``first`` or ``max`` is not a whole number.
            NotFound: there is no such realm, and no event of one of that name.
        """
        first, limit = _page(scope)
        async with self.admin.db.read() as conn:
            found = await eventlog.list_events(conn, parts[0], first=first, limit=limit)
            if not found:
                await require_realm(conn, parts[0])
        return 200, [event_representation(e) for e in found], []

    async def metrics(self, parts: list[str], scope: Scope, body: bytes) -> Any:
        """The realm's tokens issued and failed authentications since the service started.

        Raises:
            NotFound: there is no such realm, or the service runs without metrics.
        """
        from ._metrics import current

        realm = await self.admin.realm(parts[0])
        metrics = current()
        if metrics is None:
            raise NotFound(
                "this service runs without metrics (serve --no-metrics), so it counts no tokens; "
                "start it with --metrics"
            )
        totals = metrics.totals(realm.name)
        return (
            200,
            {
                "time": int(time.time() * 1000),
                "tokensIssued": totals["tokens"],
                "authenticationFailures": totals["failures"],
            },
            [],
        )


def admin_event_representation(event: AdminEventRecord) -> dict[str, Any]:
    """An admin event as Keycloak's ``AdminEventRepresentation`` (no ``representation``: the
    resource's state is never copied), with tokensmith's ``id`` and ``via``."""
    return {
        "id": str(event.id),
        "time": event.time,
        "realmId": event.realm,
        "authDetails": {
            "realmId": "master" if event.via == "admin-api" else None,
            "clientId": event.actor,
            "ipAddress": event.address,
        },
        "operationType": event.operation,
        "resourceType": event.resource_type,
        "resourcePath": event.resource_path,
        "details": json.loads(event.details),
        "via": event.via,
    }


def event_representation(event: EventRecord) -> dict[str, Any]:
    """A security event as Keycloak's ``EventRepresentation``, with tokensmith's ``id``."""
    return {
        "id": str(event.id),
        "time": event.time,
        "type": event.type,
        "realmId": event.realm,
        "clientId": event.client_id,
        "ipAddress": event.address,
        "error": event.error,
        "details": json.loads(event.details),
    }


def _page(scope: Scope) -> tuple[int, int]:
    """``first`` and ``max`` of the query string (``max`` cut to :data:`MAX_RESULTS`).

    Raises:
        AdminError: either is not a whole number (of at most nine digits), or is given twice.
    """
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    values = []
    for name, default in (("first", 0), ("max", DEFAULT_RESULTS)):
        given = query.get(name)
        if given is None:
            values.append(default)
            continue
        if len(given) > 1 or not given[0].isascii() or not given[0].isdigit():
            raise AdminError(f"{name} must be a whole number (0 or more), given once")
        if len(given[0]) > _MAX_DIGITS:
            raise AdminError(f"{name} must be below 10^{_MAX_DIGITS}")
        values.append(int(given[0]))
    return values[0], min(values[1], MAX_RESULTS)
