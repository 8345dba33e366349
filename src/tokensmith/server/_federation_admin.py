"""Adding, listing and removing the federated credentials of a realm's clients (workload
identity federation: see ``_federation.py``)."""

from __future__ import annotations

import re

from ..store import FederatedCredential, federation
from ..store import clients as client_rows
from ..store import issuers as issuer_rows
from ._admin import Admin, changing, reading
from ._admin_checks import AdminError
from ._audit import record_change
from ._events import emit
from ._profiles import profile_of

CREDENTIAL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""What a federated credential's name may be."""


class Federation:
    """Manages the federated credentials of an :class:`Admin`'s clients."""

    def __init__(self, admin: Admin) -> None:
        self.admin = admin

    async def add(
        self,
        realm_name: str,
        client_id: str,
        issuer: str,
        *,
        subject: str | None = None,
        condition: str | None = None,
        name: str | None = None,
    ) -> FederatedCredential:
        """Let the client authenticate with tokens of the trusted ``issuer`` whose ``sub`` is
        ``subject``, or whose claims make the CEL ``condition`` true (compiled here, so that a
        mistake is refused now rather than at the first token). ``name`` defaults to the
        issuer's profile and a number.

        Raises:
            AdminError: both or neither of subject and condition, a subject that the issuer's
                platform cannot issue, a condition that does not compile, or a bad name.
            NotFound: the realm or client does not exist, or the realm does not trust the
                issuer.
            Conflict: the client has a credential of this name already.
        """
        if (subject is None) == (condition is None):
            raise AdminError("give either a subject or a condition")
        if name is not None and not CREDENTIAL_NAME.fullmatch(name):
            raise AdminError(
                "a credential name is 1 to 64 letters, digits, '.', '_' or '-', starting with a "
                "letter or digit"
            )
        if subject is not None and not 0 < len(subject) <= 255:
            raise AdminError("the subject must be 1 to 255 characters")
        if condition is not None:
            from ._cel import ConditionError, compile_condition

            try:
                compile_condition(condition)
            except ConditionError as exc:
                raise AdminError(str(exc)) from None
        async with changing(self.admin.db, realm_name) as (conn, realm):
            client = await client_rows.require_client(conn, realm.id, client_id)
            trusted = next(
                (t for t in await issuer_rows.list_issuers(conn, realm.id) if t.issuer == issuer),
                None,
            )
            if trusted is None:
                raise AdminError(
                    f"realm {realm_name!r} does not trust issuer {issuer!r}; add it with "
                    f"'tokensmith issuer add {realm_name} {issuer} --profile …'"
                )
            profile = profile_of(trusted.profile)
            if subject is not None:
                problem = profile.check_subject(subject)
                if problem is not None:
                    raise AdminError(f"subject {subject!r} cannot match: {problem}")
            if condition is not None:
                problem = profile.check_condition(condition)
                if problem is not None:
                    raise AdminError(problem)
            existing = await federation.list_credentials(conn, realm.id, client.id)
            if name is None:
                taken = {c.name for c in existing}
                n = 1
                while f"{trusted.profile}-{n}" in taken:
                    n += 1
                name = f"{trusted.profile}-{n}"
            await federation.add_credential(
                conn,
                client_pk=client.id,
                issuer_id=trusted.id,
                name=name,
                subject=subject,
                condition=condition,
                now=int(self.admin.clock()),
            )
            added = await federation.list_credentials(conn, realm.id, client.id)
            await record_change(
                conn,
                self.admin.clock,
                realm.name,
                "CREATE",
                "FEDERATED_CREDENTIAL",
                f"clients/{client.id}/federated-credentials/{name}",
                clientId=client_id,
                issuer=issuer,
                name=name,
            )
        emit(
            "client_federated",
            realm=realm_name,
            client_id=client_id,
            issuer=issuer,
            credential=name,
        )
        return next(c for c in added if c.name == name)

    async def credentials(
        self, realm_name: str, client_id: str | None = None
    ) -> list[FederatedCredential]:
        """The federated credentials of the realm's clients, or of one client.

        Raises:
            NotFound: the realm or the client does not exist.
        """
        async with reading(self.admin.db, realm_name) as (conn, realm):
            client_pk = None
            if client_id is not None:
                client_pk = (await client_rows.require_client(conn, realm.id, client_id)).id
            return await federation.list_credentials(conn, realm.id, client_pk)

    async def remove(self, realm_name: str, client_id: str, name: str) -> None:
        """Remove the client's federated credential ``name``.

        Raises:
            NotFound: the realm, the client or the credential does not exist.
        """
        async with changing(self.admin.db, realm_name) as (conn, realm):
            client = await client_rows.require_client(conn, realm.id, client_id)
            await federation.remove_credential(conn, client.id, name)
            await record_change(
                conn,
                self.admin.clock,
                realm.name,
                "DELETE",
                "FEDERATED_CREDENTIAL",
                f"clients/{client.id}/federated-credentials/{name}",
                clientId=client_id,
                name=name,
            )
        emit("client_unfederated", realm=realm_name, client_id=client_id, credential=name)
