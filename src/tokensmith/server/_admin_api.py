"""The admin REST API under ``/admin/realms``: the part of Keycloak's admin API that a
machine-to-machine service needs, with Keycloak's paths, JSON field names and status codes, so
that Keycloak tooling (python-keycloak's ``KeycloakAdmin``) works against it unchanged.

Authenticated by tokensmith's own tokens: only access tokens of the ``master`` realm (made on
first start, as Keycloak does) are accepted, carrying the scope ``admin`` (every operation) or
``admin.read`` (reading only). ``tokensmith admin create-client`` makes the first admin client.
Nothing is reachable without such a token: 401 with a Bearer challenge (RFC 6750) without one,
403 ``insufficient_scope`` with a read-only one for a change. A DPoP-bound admin token is taken
only as ``DPoP`` with its proof (RFC 9449 §7.1). Failing tokens count against the master realm's
address limit (429 past it).

Served (:data:`ROUTES` is the table; the OpenAPI document is made from it):

- ``GET /admin/realms``, ``POST /admin/realms`` (create), ``GET|PUT|DELETE /admin/realms/{realm}``
  (``PUT`` changes the token lifetimes);
- ``GET /admin/realms/{realm}/clients[?clientId=…]``, ``POST`` (create: 201 with ``Location``;
  the body holds the generated secret, once), ``GET|PUT|DELETE …/clients/{id}`` (``PUT`` is
  Keycloak's update: what the body names replaces the client's settings);
- ``GET …/clients/{id}/client-secret`` (a secret tokensmith holds only the digest of reads
  ``**********``, as Keycloak writes a secret it does not show), ``POST`` to regenerate it: the
  new secret is in the answer, once; ``?gracePeriod=SECONDS`` (tokensmith's) keeps the old one
  working meanwhile;
- ``GET …/keys`` (Keycloak's ``KeysMetadataRepresentation``) and ``POST …/keys/rotate``
  (tokensmith's);
- ``GET|POST …/trusted-issuers``, ``GET|DELETE …/trusted-issuers/{id}`` and
  ``GET|POST|DELETE …/clients/{id}/federated-credentials[/{name}]`` (tokensmith's);
- ``GET …/admin-events`` and ``GET …/events`` (Keycloak's, newest first, ``?first=&max=``) and
  ``GET …/metrics`` (tokensmith's token counts), in ``_admin_events``.

Errors are JSON with Keycloak's ``errorMessage`` beside an ``error`` code.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qs, quote

from ..core import ASGIReceive as Receive
from ..core import ASGIScope as Scope
from ..core import ASGISend as Send
from ..core import bound_key
from ..oauth import DPOP_ALGORITHMS, InvalidDPoPProof, InvalidToken, SlowDown
from ..store import (
    Client,
    Conflict,
    FederatedCredential,
    NotFound,
    SigningKeyRecord,
    TrustedIssuer,
)
from ._admin import Admin
from ._admin_checks import MAX_TTL, AdminError
from ._admin_events import AdminEvents
from ._api_models import (
    UNSET,
    AdminEventRepresentation,
    BodyError,
    ClientRepresentation,
    CredentialRepresentation,
    EventRepresentation,
    FederatedCredentialRepresentation,
    KeysMetadataRepresentation,
    RealmMetrics,
    RealmRepresentation,
    TrustedIssuerRepresentation,
    UnsetType,
    decode,
)
from ._dpop import DPoPChecker
from ._events import acting
from ._federation_admin import Federation
from ._keycloak import (
    MASKED,
    client_from_representation,
    client_representation,
    realm_options,
    realm_representation,
)
from ._own import OwnTokens
from ._profiles import PROFILES
from ._ratelimit import AuthLimiter
from ._routes import ADMIN, LEGACY_PREFIX
from ._state import Registry
from ._trust import Trust

PREFIX = ADMIN
MASTER_REALM = "master"
"""The realm whose clients administer the service, as in Keycloak."""
ADMIN_SCOPE = "admin"
"""The scope of an admin client that may change things."""
ADMIN_READ_SCOPE = "admin.read"
"""The scope of an admin client that may only read."""
_JSON = (b"content-type", b"application/json")
_NO_STORE = (b"cache-control", b"no-store")
_SEGMENT = re.compile(r"[^/]+")
T = TypeVar("T")
_SECONDS = re.compile(r"[0-9]{1,9}")

Handler = Callable[
    [list[str], Scope, bytes], Awaitable[tuple[int, object, list[tuple[bytes, bytes]]]]
]


@dataclass(frozen=True)
class Query:
    """A query parameter an operation reads."""

    name: str
    description: str
    kind: Literal["integer", "string"] = "string"
    minimum: int | None = None
    maximum: int | None = None


@dataclass(frozen=True)
class Operation:
    """What one method on one admin resource does: the :class:`AdminApi` method that answers,
    what it takes and what it answers (the OpenAPI document is made from these)."""

    handler: str
    summary: str
    status: int = 200
    body: Any = None
    """The model of the request body (from ``_api_models``), if it takes one."""
    answer: Any = None
    """The model of the answer's body, ``list[Model]`` for a list; None: no body."""
    query: tuple[Query, ...] = ()
    conflict: bool = False
    """Whether it can answer 409 (a name or issuer already taken)."""


@dataclass(frozen=True)
class Route:
    """An admin resource: its path under ``/admin/realms`` (``{name}``: any one segment) and its
    operations by method."""

    path: str
    operations: dict[str, Operation]

    @property
    def shape(self) -> tuple[str | None, ...]:
        """The path's segments, None for a parameter."""
        return tuple(None if p.startswith("{") else p for p in self.path.strip("/").split("/") if p)


_GRACE = Query(
    "gracePeriod",
    "tokensmith's: seconds the old secret keeps working beside the new one (0: none)",
    "integer",
    0,
    MAX_TTL,
)
_PAGE = (
    Query("first", "how many of the newest to skip", "integer", 0, 10**9 - 1),
    Query("max", "how many to answer (at most 1000; default 100)", "integer", 0, 10**9 - 1),
)
ROUTES: tuple[Route, ...] = (
    Route(
        "",
        {
            "GET": Operation("_realms", "List the realms", answer=list[RealmRepresentation]),
            "POST": Operation(
                "_create_realm",
                "Create a realm (with a current and a next signing key)",
                201,
                RealmRepresentation,
                conflict=True,
            ),
        },
    ),
    Route(
        "/{realm}",
        {
            "GET": Operation("_realm", "Read a realm", answer=RealmRepresentation),
            "PUT": Operation(
                "_update_realm",
                "Change a realm's token lifetimes",
                204,
                RealmRepresentation,
            ),
            "DELETE": Operation(
                "_delete_realm",
                "Delete a realm with its clients, keys and tokens (not master)",
                204,
            ),
        },
    ),
    Route(
        "/{realm}/clients",
        {
            "GET": Operation(
                "_clients",
                "List a realm's clients",
                answer=list[ClientRepresentation],
                query=(Query("clientId", "only the client with this clientId"),),
            ),
            "POST": Operation(
                "_create_client",
                "Create a client; a generated secret is in this answer, once",
                201,
                ClientRepresentation,
                ClientRepresentation,
                conflict=True,
            ),
        },
    ),
    Route(
        "/{realm}/clients/{id}",
        {
            "GET": Operation("_client", "Read a client", answer=ClientRepresentation),
            "PUT": Operation(
                "_update_client",
                "Change a client: what the body names replaces the client's settings",
                204,
                ClientRepresentation,
            ),
            "DELETE": Operation(
                "_delete_client", "Delete a client with its secrets and tokens", 204
            ),
        },
    ),
    Route(
        "/{realm}/clients/{id}/client-secret",
        {
            "GET": Operation(
                "_secret",
                "Read the client's secret: always ********** (only its digest is kept)",
                answer=CredentialRepresentation,
            ),
            "POST": Operation(
                "_new_secret",
                "Generate a new secret, shown in this answer once",
                answer=CredentialRepresentation,
                query=(_GRACE,),
            ),
        },
    ),
    Route(
        "/{realm}/clients/{id}/federated-credentials",
        {
            "GET": Operation(
                "_federations",
                "tokensmith's: list the client's federated credentials",
                answer=list[FederatedCredentialRepresentation],
            ),
            "POST": Operation(
                "_federate",
                "tokensmith's: let tokens of a trusted issuer with this subject or condition "
                "authenticate the client",
                201,
                FederatedCredentialRepresentation,
                FederatedCredentialRepresentation,
                conflict=True,
            ),
        },
    ),
    Route(
        "/{realm}/clients/{id}/federated-credentials/{name}",
        {
            "DELETE": Operation(
                "_unfederate", "tokensmith's: remove a federated credential of the client", 204
            ),
        },
    ),
    Route(
        "/{realm}/keys",
        {
            "GET": Operation(
                "_keys",
                "List the realm's signing keys",
                answer=KeysMetadataRepresentation,
            )
        },
    ),
    Route(
        "/{realm}/keys/rotate",
        {
            "POST": Operation(
                "_rotate_keys",
                "tokensmith's: the next key signs, a new next key is made",
                answer=KeysMetadataRepresentation,
            )
        },
    ),
    Route(
        "/{realm}/trusted-issuers",
        {
            "GET": Operation(
                "_issuers",
                "tokensmith's: list the issuers whose tokens the realm accepts",
                answer=list[TrustedIssuerRepresentation],
            ),
            "POST": Operation(
                "_trust",
                "tokensmith's: trust an issuer (id_auth, token exchange, jwt-bearer)",
                201,
                TrustedIssuerRepresentation,
                TrustedIssuerRepresentation,
                conflict=True,
            ),
        },
    ),
    Route(
        "/{realm}/trusted-issuers/{id}",
        {
            "GET": Operation(
                "_issuer", "tokensmith's: read a trusted issuer", answer=TrustedIssuerRepresentation
            ),
            "DELETE": Operation("_distrust", "tokensmith's: stop trusting an issuer", 204),
        },
    ),
    Route(
        "/{realm}/admin-events",
        {
            "GET": Operation(
                "_events.admin_events",
                "The changes made to the realm, newest first",
                answer=list[AdminEventRepresentation],
                query=_PAGE,
            )
        },
    ),
    Route(
        "/{realm}/events",
        {
            "GET": Operation(
                "_events.events",
                "Refused client authentications and refresh-token reuse, newest first",
                answer=list[EventRepresentation],
                query=_PAGE,
            )
        },
    ),
    Route(
        "/{realm}/metrics",
        {
            "GET": Operation(
                "_events.metrics",
                "tokensmith's: tokens issued and failed authentications since the start",
                answer=RealmMetrics,
            )
        },
    ),
)
"""Every admin resource and what each method on it does: the dispatch table of
:class:`AdminApi` and the admin part of the OpenAPI document."""


class ApiError(Exception):
    """An answer other than success: its status, error code and message."""

    def __init__(
        self, status: int, error: str, message: str, *, allow: str = "", dpop: bool = False
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.allow = allow
        self.dpop = dpop
        """Answer with RFC 9449's ``DPoP`` challenge rather than a Bearer one."""


class AdminApi:
    """Answers every request under ``/admin/realms`` (and ``/auth/admin/realms``)."""

    def __init__(
        self,
        registry: Registry,
        own: OwnTokens,
        admin: Admin,
        *,
        max_body_bytes: int,
        address: Callable[[Scope], str] = lambda scope: (scope.get("client") or ("?", 0))[0],
        limiter: AuthLimiter | None = None,
        url: Callable[[Scope], str] = lambda scope: f"http://localhost{scope['path']}",
        dpop: DPoPChecker | None = None,
    ) -> None:
        self.dpop = dpop or DPoPChecker(admin.db, secrets.token_bytes(32))
        """Checks the proofs of DPoP-bound admin tokens (the token endpoint's, in a service)."""
        self.url = url
        """The URL a request was sent to (the public base URL and its path), which a DPoP proof
        names."""
        self.limiter = limiter or AuthLimiter()
        """Counts requests with a token that fails, per address, against the master realm's
        address limit (shared with its token endpoint): past it, 429 before any check."""
        self.registry = registry
        self.own = own
        self.admin = admin
        self.max_body_bytes = max_body_bytes
        self.address = address
        """The address a request came from (past trusted proxies), for the events."""
        self._events = AdminEvents(admin)
        self._table: list[tuple[tuple[str | None, ...], dict[str, Handler]]] = [
            (route.shape, {m: attrgetter(op.handler)(self) for m, op in route.operations.items()})
            for route in ROUTES
        ]
        """Each resource's path shape (None: any segment) and the handler of each method."""

    def __repr__(self) -> str:
        return "AdminApi()"

    async def __call__(self, path: str, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer the request for ``path`` (with ``/admin/realms`` or ``/auth/admin/realms``)."""
        method = scope["method"]
        try:
            parts = _segments(path)
            write = method not in ("GET", "HEAD")
            admin_client = await self._authorize(scope, write=write)
            handler = self._route(parts, method)
            body = await _read_body(receive, self.max_body_bytes) if write else b""
            scope["tokensmith.admin_client"] = admin_client
            with acting(via="admin-api", by=admin_client, address=self.address(scope)):
                status, answer, headers = await handler(parts, scope, body)
        except ApiError as err:
            status, answer, headers = err.status, _problem(err), _challenge(err)
        except SlowDown as err:
            status, answer = 429, {"error": err.error, "errorMessage": err.description}
            headers = [(b"retry-after", str(err.retry_after).encode())]
        except (AdminError, BodyError) as err:
            status, answer, headers = (
                400,
                {"error": "invalid_request", "errorMessage": str(err)},
                [],
            )
        except NotFound as err:
            status, answer, headers = 404, {"error": "not_found", "errorMessage": str(err)}, []
        except Conflict as err:
            status, answer, headers = 409, {"error": "conflict", "errorMessage": str(err)}, []
        payload = b"" if answer is None else json.dumps(answer, separators=(",", ":")).encode()
        head = [*headers, _NO_STORE, (b"content-length", str(len(payload)).encode())]
        if answer is not None:
            head.append(_JSON)
        await send({"type": "http.response.start", "status": status, "headers": head})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else payload})

    async def _authorize(self, scope: Scope, *, write: bool) -> str:
        """Accept an access token of the master realm with the scope the operation needs; the
        admin client's id.

        Raises:
            ApiError: 401 without a valid token, 403 without the scope.
        """
        authorization = _header(scope, b"authorization")
        kind, _, token = authorization.partition(" ")
        kind, token = kind.lower(), token.strip()
        if kind not in ("bearer", "dpop") or not token:
            raise ApiError(
                401, "invalid_request", "a Bearer access token of the master realm is required"
            )
        state = await self.registry.realm(MASTER_REALM)
        if state is None:
            raise ApiError(401, "invalid_token", "there is no master realm, so no admin client")
        address = self.address(scope)
        await self.limiter.admit(state.realm, "", address)
        try:
            claims = await self.own.access_claims(state, token)
            await self._proven(scope, state.realm.id, kind, token, bound_key(claims))
        except (InvalidToken, InvalidDPoPProof) as exc:
            await self.limiter.failed(state.realm, None, address)
            raise ApiError(
                401, exc.error, str(exc), dpop=kind == "dpop" or exc.error != "invalid_token"
            ) from None
        scopes = str(claims.get("scope", "")).split()
        if ADMIN_SCOPE in scopes or (not write and ADMIN_READ_SCOPE in scopes):
            return str(claims.get("client_id", ""))
        needed = ADMIN_SCOPE if write else f"{ADMIN_READ_SCOPE} or {ADMIN_SCOPE}"
        raise ApiError(403, "insufficient_scope", f"this operation needs the scope {needed}")

    async def _proven(
        self, scope: Scope, realm_id: int, kind: str, token: str, jkt: str | None
    ) -> None:
        """Check a DPoP-bound admin token's proof (RFC 9449 §7.1), as a protected API does,
        its ``jti`` on the deny list as at the token endpoint; a bound token sent as Bearer is
        refused.

        Raises:
            InvalidToken: a bound token sent as Bearer, or a bearer token sent as DPoP.
            InvalidDPoPProof: the proof is missing, refused or used before.
        """
        if kind == "bearer":
            if jkt is not None:
                raise InvalidToken(
                    "the token is DPoP-bound: send it as 'DPoP <token>' with a DPoP proof"
                )
            return
        if jkt is None:
            raise InvalidToken("the token is not DPoP-bound; send it as 'Bearer <token>'")
        await self.dpop.check_request(
            realm_id,
            [bytes(v).decode("latin-1") for k, v in scope["headers"] if k == b"dpop"],
            method=scope["method"],
            url=self.url(scope),
            token=token,
            jkt=jkt,
            now=self.admin.clock(),
        )

    def _route(self, parts: list[str], method: str) -> Handler:
        for shape, methods in self._table:
            if len(shape) == len(parts) and all(
                s is None or s == p for s, p in zip(shape, parts, strict=True)
            ):
                verb = "GET" if method == "HEAD" else method
                if verb not in methods:
                    allowed = ", ".join(methods)
                    raise ApiError(
                        405,
                        "method_not_allowed",
                        f"{method} is not allowed here; use {allowed}",
                        allow=allowed,
                    )
                return methods[verb]
        raise ApiError(404, "not_found", "there is no admin resource at this path")

    # --- realms ---------------------------------------------------------------------------------

    async def _realms(self, parts: list[str], scope: Scope, body: bytes) -> Any:
        return 200, [realm_representation(r) for r in await self.admin.list_realms()], []

    async def _realm(self, parts: list[str], scope: Scope, body: bytes) -> Any:
        return 200, realm_representation(await self.admin.realm(parts[0])), []

    async def _create_realm(self, parts: list[str], scope: Scope, body: bytes) -> Any:
        _, raw = decode(body, RealmRepresentation)
        name, options = realm_options(raw)
        await self.admin.create_realm(name, **options)
        return 201, None, [(b"location", f"{PREFIX}/{quote(name)}".encode())]

    async def _update_realm(self, parts: list[str], scope: Scope, body: bytes) -> Any:
        rep, raw = decode(body, RealmRepresentation)
        realm = await self.admin.realm(parts[0])
        if rep.realm not in (UNSET, realm.name) or rep.id not in (UNSET, realm.name):
            raise AdminError("a realm cannot be renamed; create one and import its clients")
        current = realm_representation(realm)
        changeable = ("accessTokenLifespan", "ssoSessionIdleTimeout")
        fixed = sorted(
            k for k, v in raw.items() if k in current and k not in changeable and current[k] != v
        )
        if fixed:
            raise AdminError(
                f"only accessTokenLifespan and ssoSessionIdleTimeout (the refresh-token "
                f"lifetime) can be changed; {', '.join(fixed)} cannot"
            )
        await self.admin.update_realm(
            realm.name,
            access_token_ttl=_unset_none(rep.access_token_lifespan),
            refresh_token_ttl=_unset_none(rep.sso_session_idle_timeout),
        )
        return 204, None, []

    async def _delete_realm(self, parts: list[str], scope: Scope, body: bytes) -> Any:
        if parts[0] == MASTER_REALM:
            raise ApiError(400, "invalid_request", "the master realm cannot be deleted")
        await self.admin.delete_realm(parts[0])
        return 204, None, []

    # --- clients --------------------------------------------------------------------------------

    async def _clients(self, parts: list[str], scope: Scope, body: bytes) -> Any:
        realm = await self.admin.realm(parts[0])
        wanted = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("clientId")
        found = await self.admin.list_clients(parts[0])
        if wanted:
            found = [c for c in found if c.client_id == wanted[0]]
        return 200, [client_representation(realm, c) for c in found], []

    async def _find(self, realm: str, client_pk: str) -> Client:
        for client in await self.admin.list_clients(realm):
            if str(client.id) == client_pk:
                return client
        raise ApiError(404, "not_found", f"realm {realm} has no client with id {client_pk}")

    async def _client(self, parts: list[str], scope: Scope, body: bytes) -> Any:
        realm = await self.admin.realm(parts[0])
        return 200, client_representation(realm, await self._find(parts[0], parts[2])), []

    async def _create_client(self, parts: list[str], scope: Scope, body: bytes) -> Any:
        rep, raw = decode(body, ClientRepresentation)
        _same_extension_grants(rep, frozenset())
        plan = client_from_representation(raw)
        new = await self.admin.create_client(
            parts[0], plan.client_id, secret=plan.secret, **plan.options
        )
        if not plan.enabled:
            await self.admin.set_client_enabled(parts[0], plan.client_id, False)
        realm = await self.admin.realm(parts[0])
        answer = client_representation(realm, await self.admin.client(parts[0], plan.client_id))
        if new.secret is not None:
            answer["secret"] = new.secret  # generated: shown this once
        location = f"{PREFIX}/{quote(parts[0])}/clients/{new.client.id}"
        return 201, answer, [(b"location", location.encode())]

    async def _update_client(self, parts: list[str], scope: Scope, body: bytes) -> Any:
        """Keycloak's update: the representation sent replaces the client's settings; fields
        left out keep their values (``attributes`` merge key by key)."""
        client = await self._find(parts[0], parts[2])
        rep, raw = decode(body, ClientRepresentation)
        if rep.client_id not in (UNSET, client.client_id):
            raise AdminError("clientId cannot be changed; create a client and delete this one")
        if rep.secret not in (UNSET, MASKED):
            raise AdminError(
                "a secret is not set here: POST to the client's client-secret to generate one"
            )
        _same_extension_grants(rep, client.grant_types)
        realm = await self.admin.realm(parts[0])
        current = client_representation(realm, client)
        merged = {**current, **raw, "secret": None}
        merged["attributes"] = _merged_attributes(current.get("attributes", {}), raw)
        plan = client_from_representation(merged)
        options = plan.options
        unchanged = client_from_representation({**current, "secret": None}).options
        if options.get("federated_only") != unchanged.get("federated_only"):
            raise AdminError(
                "clientAuthenticatorType federated-jwt (no secret, no keys) is set when the "
                "client is created; create a client and delete this one"
            )
        if options != unchanged:
            if ADMIN_SCOPE not in str(options["scopes"]).split():
                _not_itself(parts[0], client, scope, "take the admin scope from")
            await self._update_settings(parts[0], client, options)
        if plan.enabled != client.enabled:
            if not plan.enabled:
                _not_itself(parts[0], client, scope, "disable")
            await self.admin.set_client_enabled(parts[0], client.client_id, plan.enabled)
        return 204, None, []

    async def _update_settings(self, realm: str, client: Client, options: dict[str, Any]) -> None:
        await self.admin.update_client(
            realm,
            client.client_id,
            scopes=options["scopes"],
            default_scopes=options["default_scopes"],
            refresh_tokens=options["refresh_tokens"],
            access_token_ttl=options.get("access_token_ttl"),
            audience=options.get("audience"),
            extra_claims=options.get("extra_claims"),
            jwks=options.get("jwks"),
            jwks_url=options.get("jwks_url"),
            dpop_required=options.get("dpop_required", False),
        )

    async def _delete_client(self, parts: list[str], scope: Scope, body: bytes) -> Any:
        client = await self._find(parts[0], parts[2])
        _not_itself(parts[0], client, scope, "delete")
        await self.admin.delete_client(parts[0], client.client_id)
        return 204, None, []

    async def _secret(self, parts: list[str], scope: Scope, body: bytes) -> Any:
        client = await self._find(parts[0], parts[2])
        if not client.secrets:
            raise ApiError(400, "invalid_request", _no_secret(client))
        return 200, {"type": "secret", "value": MASKED}, []

    async def _new_secret(self, parts: list[str], scope: Scope, body: bytes) -> Any:
        client = await self._find(parts[0], parts[2])
        if not client.secrets:
            raise ApiError(400, "invalid_request", _no_secret(client))
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        given = query.get("gracePeriod", ["0"])
        grace = given[0]
        if len(given) != 1 or not _SECONDS.fullmatch(grace):
            raise AdminError("gracePeriod must be a whole number of seconds, given once")
        new = await self.admin.rotate_secret(parts[0], client.client_id, grace=int(grace))
        return 200, {"type": "secret", "value": new.secret}, []

    # --- keys -----------------------------------------------------------------------------------

    async def _keys(self, parts: list[str], scope: Scope, body: bytes) -> Any:
        return 200, _keys_metadata(await self.admin.list_keys(parts[0])), []

    async def _rotate_keys(self, parts: list[str], scope: Scope, body: bytes) -> Any:
        return 200, _keys_metadata(await self.admin.rotate_keys(parts[0])), []

    # --- trusted issuers ------------------------------------------------------------------------

    async def _issuers(self, parts: list[str], scope: Scope, body: bytes) -> Any:
        found = await Trust(self.admin).issuers(parts[0])
        return 200, [_issuer_representation(t) for t in found], []

    async def _find_issuer(self, realm: str, issuer_id: str) -> TrustedIssuer:
        for trusted in await Trust(self.admin).issuers(realm):
            if str(trusted.id) == issuer_id:
                return trusted
        raise ApiError(404, "not_found", f"realm {realm} has no trusted issuer with id {issuer_id}")

    async def _issuer(self, parts: list[str], scope: Scope, body: bytes) -> Any:
        return 200, _issuer_representation(await self._find_issuer(parts[0], parts[2])), []

    async def _trust(self, parts: list[str], scope: Scope, body: bytes) -> Any:
        rep, _ = decode(body, TrustedIssuerRepresentation)
        profile = PROFILES.get(_unset_none(rep.profile) or "oidc")
        if profile is None:
            raise ApiError(400, "invalid_request", f"profile must be one of {', '.join(PROFILES)}")
        trust = Trust(self.admin)
        await trust.add(
            parts[0],
            rep.issuer,
            jwks_url=_unset_none(rep.jwks_url),
            jwks=_unset_none(rep.jwks),
            audiences=_unset_none(rep.audiences) or (),
            algorithms=_unset_none(rep.algorithms) or profile.algorithms,
            max_age=_unset_none(rep.max_age) or profile.max_age,
            claims=_unset_none(rep.claims) or (),
            profile=profile.name,
            client_audience=_unset_none(rep.client_audience),
            ca_file=_unset_none(rep.ca_file),
        )
        made = next(t for t in await trust.issuers(parts[0]) if t.issuer == rep.issuer)
        location = f"{PREFIX}/{quote(parts[0])}/trusted-issuers/{made.id}"
        return 201, _issuer_representation(made), [(b"location", location.encode())]

    async def _distrust(self, parts: list[str], scope: Scope, body: bytes) -> Any:
        trusted = await self._find_issuer(parts[0], parts[2])
        await Trust(self.admin).remove(parts[0], trusted.issuer)
        return 204, None, []

    # --- federated credentials ------------------------------------------------------------------

    async def _federations(self, parts: list[str], scope: Scope, body: bytes) -> Any:
        client = await self._find(parts[0], parts[2])
        found = await Federation(self.admin).credentials(parts[0], client.client_id)
        return 200, [_credential_representation(c) for c in found], []

    async def _federate(self, parts: list[str], scope: Scope, body: bytes) -> Any:
        rep, _ = decode(body, FederatedCredentialRepresentation)
        client = await self._find(parts[0], parts[2])
        made = await Federation(self.admin).add(
            parts[0],
            client.client_id,
            rep.issuer,
            subject=_unset_none(rep.subject),
            condition=_unset_none(rep.condition),
            name=_unset_none(rep.name),
        )
        location = (
            f"{PREFIX}/{quote(parts[0])}/clients/{client.id}/federated-credentials/"
            f"{quote(made.name)}"
        )
        return 201, _credential_representation(made), [(b"location", location.encode())]

    async def _unfederate(self, parts: list[str], scope: Scope, body: bytes) -> Any:
        client = await self._find(parts[0], parts[2])
        await Federation(self.admin).remove(parts[0], client.client_id, parts[4])
        return 204, None, []


_KEY_SOURCES = (("jwks.url", "use.jwks.url"), ("jwks.string", "use.jwks.string"))


def _merged_attributes(current: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    """The client's attributes with those ``raw`` sends put over them, key by key; a request
    that names one source of a client-jwt client's keys (a JWKS URL or an inline JWKS) drops the
    other's attributes, so that the keys it names are the ones used."""
    sent = raw.get("attributes") or {}
    attributes = dict(current)
    for named, other in (_KEY_SOURCES, _KEY_SOURCES[::-1]):
        if any(k in sent for k in named):
            for key in other:
                if key not in sent:
                    attributes.pop(key, None)
    return {**attributes, **sent}


def _not_itself(realm: str, client: Client, scope: Scope, what: str) -> None:
    """Refuse an admin client that would lock itself out.

    Raises:
        ApiError: 400, ``client`` is the admin client making the request.
    """
    if realm == MASTER_REALM and client.client_id == scope.get("tokensmith.admin_client"):
        raise ApiError(
            400,
            "invalid_request",
            f"an admin client cannot {what} itself; use another admin client or the CLI",
        )


def _unset_none(value: T | UnsetType | None) -> T | None:
    return None if isinstance(value, UnsetType) else value


def _issuer_representation(trusted: TrustedIssuer) -> dict[str, Any]:
    """A trusted issuer as :class:`TrustedIssuerRepresentation` says (never a private key)."""
    return {
        "id": str(trusted.id),
        "issuer": trusted.issuer,
        "jwksUrl": trusted.jwks_url,
        "jwks": json.loads(trusted.jwks) if trusted.jwks else None,
        "audiences": sorted(trusted.audiences),
        "algorithms": list(trusted.algorithms),
        "maxAge": trusted.max_age,
        "claims": list(trusted.claims),
        "profile": trusted.profile,
        "clientAudience": trusted.client_audience,
        "caFile": trusted.ca_file,
        "createdAt": trusted.created_at * 1000,
    }


def _same_extension_grants(rep: ClientRepresentation, current: frozenset[str]) -> None:
    """Refuse a representation whose ``grantTypes`` names other extension grants than
    ``current``: the list is read-only here (``client_credentials`` and ``refresh_token`` in it
    follow the client's other settings and are not read).

    Raises:
        AdminError: it does.
    """
    if isinstance(rep.grant_types, UnsetType):
        return
    named = frozenset(rep.grant_types) - {"client_credentials", "refresh_token"}
    if named != current:
        raise AdminError(
            "grantTypes is read-only here: a client's extension grants (id_auth, "
            "token-exchange, jwt-bearer) are set with tokensmith client create --grant"
        )


def _credential_representation(credential: FederatedCredential) -> dict[str, Any]:
    """A federated credential as :class:`FederatedCredentialRepresentation` says."""
    return {
        "name": credential.name,
        "issuer": credential.issuer,
        "subject": credential.subject,
        "condition": credential.condition,
        "createdAt": credential.created_at * 1000,
    }


def _keys_metadata(keys: list[SigningKeyRecord]) -> dict[str, Any]:
    """Keycloak's ``KeysMetadataRepresentation``: the active key per algorithm and each key with
    its status (ACTIVE signs; PASSIVE is published: the next key and the previous ones)."""
    status = {"current": "ACTIVE", "next": "PASSIVE", "previous": "PASSIVE", "retired": "DISABLED"}
    return {
        "active": {k.alg: k.kid for k in keys if k.state == "current"},
        "keys": [
            {
                "kid": k.kid,
                "algorithm": k.alg,
                "type": "EC" if k.alg.startswith("ES") else "RSA",
                "use": "SIG",
                "status": status.get(k.state, "DISABLED"),
                "providerPriority": {"current": 100, "next": 50}.get(k.state, 0),
                "publicKey": json.loads(k.public_jwk),
                "state": k.state,
            }
            for k in keys
        ],
    }


async def ensure_master_realm(admin: Admin) -> bool:
    """Create the master realm unless it exists; whether it was created."""
    try:
        await admin.realm(MASTER_REALM)
        return False
    except NotFound:
        pass
    try:
        await admin.create_realm(MASTER_REALM)
    except Conflict:  # another process made it meanwhile
        return False
    return True


def _segments(path: str) -> list[str]:
    rest = path.removeprefix(LEGACY_PREFIX).removeprefix(PREFIX).strip("/")
    parts = rest.split("/") if rest else []
    if not all(_SEGMENT.fullmatch(p) for p in parts):
        raise ApiError(404, "not_found", "there is no admin resource at this path")
    return parts


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ApiError(400, "invalid_request", "the client closed the connection mid-request")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "invalid_request", f"the request body is larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _problem(err: ApiError) -> dict[str, str]:
    return {"error": err.error, "errorMessage": err.message}


def _challenge(err: ApiError) -> list[tuple[bytes, bytes]]:
    """RFC 6750 §3: the Bearer challenge of a 401, and of a 403 for a missing scope; RFC 9449
    §7.1's DPoP challenge for a refusal of a DPoP request."""
    if err.status == 401 and err.dpop:
        challenge = f'DPoP algs="{" ".join(DPOP_ALGORITHMS)}", error="{err.error}"'
        return [(b"www-authenticate", challenge.encode())]
    if err.status == 401:
        error = "" if err.error == "invalid_request" else f', error="{err.error}"'
        return [(b"www-authenticate", f'Bearer realm="{MASTER_REALM}"{error}'.encode())]
    if err.status == 403:
        return [
            (
                b"www-authenticate",
                f'Bearer realm="{MASTER_REALM}", error="insufficient_scope"'.encode(),
            )
        ]
    if err.status == 405:
        return [(b"allow", err.allow.encode())]
    return []


def _no_secret(client: Client) -> str:
    """Why a client without a secret has none to read or rotate."""
    if client.jwks or client.jwks_url:
        return "the client authenticates with keys (client-jwt), not a secret"
    return (
        "the client authenticates with a platform's token (federated-jwt), not a secret; its "
        "federated credentials are at …/federated-credentials"
    )
