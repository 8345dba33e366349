"""Keycloak realm exports in and out: ``tokensmith realm import FILE`` and ``realm export NAME``.

A Keycloak realm export (``kc.sh export``, or the admin console's partial export) is a
``RealmRepresentation`` in JSON. What a machine-to-machine service has of it is carried over:

- the realm: its name, ``accessTokenLifespan``, the refresh-token lifetime (Keycloak's is the
  client session's: ``clientSessionIdleTimeout`` when set, else ``ssoSessionIdleTimeout``, capped
  by the session's maximum lifespan) and ``defaultSignatureAlgorithm`` (Keycloak's default:
  RS256);
- each confidential client that can do client credentials (``serviceAccountsEnabled``):
  ``clientId``, ``enabled``, its ``secret`` (kept, so the same curl and the same python-keycloak
  code keep working; stored as argon2id, since a person or Keycloak chose it) or, for
  ``client-jwt``, its keys (``jwks.url`` or ``jwks.string``), or neither for ``federated-jwt``
  (Keycloak's federated client authentication: the client authenticates with a platform's
  token; its identity provider and subject are listed as not carried over), the attributes
  ``access.token.lifespan``, ``client_credentials.use_refresh_token``,
  ``use.refresh.tokens`` and ``dpop.bound.access.tokens``, its default and optional client
  scopes (those Keycloak writes into the token's ``scope``), and the protocol mappers that have
  a tokensmith equivalent: an audience mapper (the client's ``aud``) and hard-coded claims.

Nothing else is dropped silently: :class:`ImportPlan` lists every client left out and why,
everything of the realm that has no place here (users, roles, groups, flows, identity providers,
other mappers), and where tokensmith will behave differently (new signing keys, rotating refresh
tokens). :func:`keycloak_export` writes the same format back, without secrets (tokensmith holds
only their digests), so that Keycloak can import it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..oauth import format_scope
from ..store import REALM_NAME, Client, Realm
from ._admin import Admin, NewClient
from ._admin_checks import (
    RESERVED_CLAIMS,
    AdminError,
    check_client_id,
    check_client_keys,
    check_scopes,
)
from ._federation_admin import Federation
from ._trust import Trust

MASKED = "**********"
"""What Keycloak writes in place of a secret it does not export."""

KEYCLOAK_CLIENTS = frozenset(
    {
        "account",
        "account-console",
        "admin-cli",
        "broker",
        "realm-management",
        "security-admin-console",
    }
)
"""The clients Keycloak makes in every realm for itself."""

# Keycloak's own client scopes and whether it writes their name into a token's scope
# (include.in.token.scope), for exports that leave out the realm's clientScopes.
_BUILT_IN_SCOPES = {
    "acr": False,
    "address": True,
    "basic": False,
    "email": True,
    "microprofile-jwt": True,
    "offline_access": True,
    "organization": True,
    "phone": True,
    "profile": True,
    "roles": False,
    "service_account": False,
    "web-origins": False,
}
_AUDIENCE_MAPPER = "oidc-audience-mapper"
_CLAIM_MAPPER = "oidc-hardcoded-claim-mapper"
_FEDERATED = "federated-jwt"  # Keycloak's federated client authentication (26.4+)
# What a federated-jwt client sent to the admin API may not carry: keys, or Keycloak's own
# naming of its credential (an identity provider's alias and a subject).
_NOT_FEDERATED = (
    "jwks.url",
    "jwks.string",
    "use.jwks.url",
    "use.jwks.string",
    "jwt.credential.issuer",
    "jwt.credential.sub",
)
_DEFAULT_REFRESH = 1800  # Keycloak's default ssoSessionIdleTimeout
_DEFAULT_SESSION_MAX = 36000  # Keycloak's default ssoSessionMaxLifespan


@dataclass(frozen=True)
class ClientPlan:
    """One client to create, as :meth:`Admin.create_client` takes it."""

    client_id: str
    enabled: bool
    secret: str | None = field(repr=False)
    """The secret to keep; None for private_key_jwt, or when the export masked it (a new one
    is generated)."""
    masked: bool
    options: dict[str, Any]

    @property
    def authentication(self) -> str:
        """``client_secret``, ``private_key_jwt`` or ``federated`` (a platform's token only)."""
        if self.options.get("federated_only"):
            return "federated"
        keys = self.options.get("jwks") is not None or self.options.get("jwks_url") is not None
        return "private_key_jwt" if keys else "client_secret"


@dataclass(frozen=True)
class Skipped:
    """Something of the export that is not carried over, and why."""

    what: str
    name: str
    reason: str


@dataclass(frozen=True)
class ImportPlan:
    """What importing an export creates, what it leaves out and where behaviour differs."""

    source_realm: str
    realm: str
    realm_options: dict[str, Any]
    clients: tuple[ClientPlan, ...]
    skipped: tuple[Skipped, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Imported:
    """An import carried out: the plan, and each created client with its new secret, if one was
    generated (the export masked it)."""

    plan: ImportPlan
    clients: tuple[NewClient, ...]


def plan_keycloak_import(export: object, name: str | None = None) -> ImportPlan:
    """Read a Keycloak realm export; ``name`` renames the realm.

    Raises:
        AdminError: it is not a realm export, or the realm's name is not one tokensmith allows
            (and ``name`` was not given).
    """
    if not isinstance(export, dict) or not isinstance(export.get("realm"), str):
        raise AdminError(
            'not a Keycloak realm export: expected a JSON object with "realm" (the name), as '
            "kc.sh export or the admin console's Partial export writes"
        )
    if "realms" in export or isinstance(export.get("clients"), dict):
        raise AdminError("not a Keycloak realm export")
    source = str(export["realm"])
    realm = name or source
    if not REALM_NAME.fullmatch(realm):
        raise AdminError(
            f"the Keycloak realm {source!r} cannot keep its name here (realm names are 1-64 "
            "letters, digits, '.', '_' or '-'); give another with --name"
        )
    skipped: list[Skipped] = []
    notes: list[str] = []
    options = _realm_options(export, notes)
    token_scopes = _token_scopes(export)
    clients: list[ClientPlan] = []
    service_accounts: dict[str, str] = {}
    for user in _list(export.get("users")):
        owner = user.get("serviceAccountClientId")
        if isinstance(owner, str):
            service_accounts[owner] = str(user.get("username", ""))
    builtin: list[str] = []
    for rep in _list(export.get("clients")):
        client_id = rep.get("clientId")
        if not isinstance(client_id, str):
            skipped.append(Skipped("client", str(rep.get("id", "?")), "it has no clientId"))
            continue
        if client_id in KEYCLOAK_CLIENTS:
            builtin.append(client_id)
            continue
        reason = _unsupported_client(rep)
        if reason is not None:
            skipped.append(Skipped("client", client_id, reason))
            continue
        try:
            clients.append(_client_plan(export, rep, client_id, token_scopes, skipped, notes))
            if clients[-1].options.get("federated_only"):
                skipped.append(_federated_credential(rep, client_id))
        except AdminError as exc:
            skipped.append(Skipped("client", client_id, str(exc)))
    if builtin:
        skipped.append(
            Skipped(
                "clients",
                ", ".join(sorted(builtin)),
                "Keycloak's own clients (its console, account pages and admin CLI)",
            )
        )
    _realm_leftovers(export, service_accounts, skipped)
    if export.get("enabled") is False:
        notes.append(
            "the realm is disabled in Keycloak; tokensmith has no disabled realms, so its "
            "clients are imported disabled"
        )
        clients = [_disabled(c) for c in clients]
    return ImportPlan(
        source_realm=source,
        realm=realm,
        realm_options=options,
        clients=tuple(clients),
        skipped=tuple(skipped),
        notes=tuple(notes),
    )


async def import_keycloak_realm(admin: Admin, plan: ImportPlan) -> Imported:
    """Create the realm and the clients of ``plan``; all of them or, when one fails, none (the
    realm made is deleted again).

    Raises:
        Conflict: a realm of that name exists already.
        AdminError: a client's settings are refused.
    """
    await admin.create_realm(plan.realm, **plan.realm_options)
    made: list[NewClient] = []
    try:
        for client in plan.clients:
            new = await admin.create_client(
                plan.realm, client.client_id, secret=client.secret, **client.options
            )
            if not client.enabled:
                await admin.set_client_enabled(plan.realm, client.client_id, False)
            made.append(new)
    except BaseException:
        await admin.delete_realm(plan.realm)
        raise
    return Imported(plan, tuple(made))


async def keycloak_export(admin: Admin, name: str) -> tuple[dict[str, Any], list[Skipped]]:
    """Realm ``name`` as a Keycloak realm export (no secrets: tokensmith holds only their
    digests, and Keycloak generates a secret for a client imported without one), and what of
    the realm Keycloak's format cannot say.

    Raises:
        NotFound: there is no such realm.
    """
    realm = await admin.realm(name)
    clients = await admin.list_clients(name)
    left_out: list[Skipped] = []
    for what, value in (
        ("token paths", " ".join(realm.token_paths)),
        ("response style", "" if realm.response_style == "standard" else realm.response_style),
        ("CORS origins", " ".join(realm.cors_origins)),
        ("client authentication limit", realm.client_auth_limit or ""),
        ("address authentication limit", realm.address_auth_limit or ""),
        ("audience", realm.audience or ""),
        ("refresh reuse grace", _unless(realm.refresh_reuse_grace)),
        ("longest client assertion", _unless(realm.max_assertion_lifetime)),
        ("trusted issuers", " ".join(t.issuer for t in await Trust(admin).issuers(name))),
    ):
        if value:
            left_out.append(Skipped(what, value, "Keycloak has no such setting"))
    federated: dict[str, list[str]] = {}
    for credential in await Federation(admin).credentials(name):
        federated.setdefault(credential.client_id, []).append(
            f"{credential.name} ({credential.issuer})"
        )
    for client_id, names in sorted(federated.items()):
        left_out.append(
            Skipped(
                f"client {client_id}'s federated credentials",
                ", ".join(names),
                "Keycloak ties federated client authentication to identity providers, not to "
                "trusted issuers and conditions; add them again with tokensmith client federate",
            )
        )
    scopes = sorted({s for c in clients for s in c.scopes} - {"openid"})
    export: dict[str, Any] = {
        **realm_representation(realm),
        "clientScopes": [
            {
                "name": scope,
                "protocol": "openid-connect",
                "attributes": {"include.in.token.scope": "true"},
            }
            for scope in scopes
        ],
        "defaultDefaultClientScopes": [],
        "defaultOptionalClientScopes": [],
        "clients": [_client_rep(realm, c, left_out) for c in clients],
    }
    return export, left_out


def client_from_representation(rep: object) -> ClientPlan:
    """A client to create from a Keycloak ``ClientRepresentation`` sent to the admin API, read
    as an import reads one, except that nothing may be left out: a client tokensmith cannot
    serve, or a mapper without an equivalent, is refused. ``serviceAccountsEnabled`` may be left
    out (every tokensmith client is a service account); every scope named is one the client
    gets.

    Raises:
        AdminError: the representation is not one tokensmith can create; the message says why.
    """
    if not isinstance(rep, dict):
        raise AdminError("the body must be a JSON object (a ClientRepresentation)")
    client_id = rep.get("clientId")
    if not isinstance(client_id, str):
        raise AdminError("clientId is missing")
    rep = {"serviceAccountsEnabled": True, **rep}
    reason = _unsupported_client(rep)
    if reason is not None:
        raise AdminError(f"client {client_id}: {reason}")
    skipped: list[Skipped] = []
    named = [*rep.get("defaultClientScopes", []), *rep.get("optionalClientScopes", [])]
    everything = {str(s): True for s in named}
    plan = _client_plan({}, rep, client_id, everything, skipped, [])
    if skipped:
        raise AdminError(f"protocol mapper {skipped[0].name}: {skipped[0].reason}")
    secret = rep.get("secret")
    if isinstance(secret, str) and secret == MASKED:
        raise AdminError("the secret is the masked placeholder; leave it out to have one generated")
    if plan.options.get("federated_only"):
        attributes = rep.get("attributes") or {}
        given = [k for k in _NOT_FEDERATED if attributes.get(k) not in (None, "", "false")]
        if isinstance(secret, str) and secret:
            given.insert(0, "secret")
        if given:
            raise AdminError(
                f"client {client_id}: a federated-jwt client has no secret and no keys, and its "
                f"federated credentials are added at …/clients/{{id}}/federated-credentials; "
                f"leave out {', '.join(given)}"
            )
    return plan


def client_representation(realm: Realm, client: Client) -> dict[str, Any]:
    """The client as a Keycloak ``ClientRepresentation``, without its secret, with ``id`` and
    tokensmith's ``lastUsed``: when it last got a token (epoch milliseconds, written by each
    service process at most a minute late), or null; and tokensmith's ``grantTypes`` (read-only):
    the grants it may use (see :func:`client_grants`)."""
    used = None if client.last_used_at is None else client.last_used_at * 1000
    return {
        "id": str(client.id),
        **_client_rep(realm, client, []),
        "lastUsed": used,
        "grantTypes": client_grants(client),
    }


def client_grants(client: Client) -> list[str]:
    """The grants ``client`` may use: ``client_credentials``, ``refresh_token`` when it gets
    refresh tokens, then its extension grants by tokensmith's short names (``id_auth``, …)."""
    base = (
        ["client_credentials", "refresh_token"] if client.refresh_tokens else ["client_credentials"]
    )
    return [*base, *sorted(client.grant_types)]


def realm_representation(realm: Realm) -> dict[str, Any]:
    """The realm as a Keycloak ``RealmRepresentation`` (its token settings)."""
    return {
        "id": realm.name,
        "realm": realm.name,
        "enabled": True,
        "accessTokenLifespan": realm.access_token_ttl,
        "ssoSessionIdleTimeout": realm.refresh_token_ttl,
        "ssoSessionMaxLifespan": max(_DEFAULT_SESSION_MAX, realm.refresh_token_ttl),
        "clientSessionIdleTimeout": 0,
        "clientSessionMaxLifespan": 0,
        "defaultSignatureAlgorithm": realm.alg,
        "revokeRefreshToken": True,
        "refreshTokenMaxReuse": 0,
    }


def realm_options(rep: object) -> tuple[str, dict[str, Any]]:
    """The name and settings of a realm to create from a ``RealmRepresentation`` sent to the
    admin API.

    Raises:
        AdminError: it has no realm name, or one tokensmith does not allow.
    """
    if not isinstance(rep, dict) or not isinstance(rep.get("realm"), str):
        raise AdminError('the body must be a JSON object with "realm" (a RealmRepresentation)')
    name = str(rep["realm"])
    if not REALM_NAME.fullmatch(name):
        raise AdminError(f"realm name {name!r} must be 1-64 letters, digits, '.', '_' or '-'")
    given = rep.get("defaultSignatureAlgorithm")
    if given is not None and given not in ("RS256", "ES256"):
        raise AdminError("defaultSignatureAlgorithm must be RS256 or ES256")
    options = _realm_options({"defaultSignatureAlgorithm": "ES256", **rep}, [])
    return name, options


# --- reading an export --------------------------------------------------------------------------


def _list(value: object) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _seconds(value: object) -> int | None:
    """A positive number of seconds, or None for Keycloak's "unset" (absent, 0, -1, "")."""
    try:
        seconds = int(str(value))
    except ValueError:
        return None
    return seconds if seconds > 0 else None


def _true(value: object) -> bool:
    return value is True or str(value).lower() == "true"


def _realm_options(export: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    access = _seconds(export.get("accessTokenLifespan")) or 300
    refresh = _seconds(export.get("clientSessionIdleTimeout")) or _seconds(
        export.get("ssoSessionIdleTimeout")
    )
    refresh = refresh or _DEFAULT_REFRESH
    for cap in ("clientSessionMaxLifespan", "ssoSessionMaxLifespan"):
        most = _seconds(export.get(cap))
        if most is not None and most < refresh:
            refresh = most
    given = _realm_alg(export)
    alg = given if given in ("RS256", "ES256") else ("ES256" if given.startswith("ES") else "RS256")
    if alg != given:
        notes.append(f"tokensmith signs with RS256 or ES256: the realm's {given} became {alg}")
    notes.append(
        "signing keys: the realm gets new ones (Keycloak's private keys are not in an export), "
        "so tokens Keycloak issued do not verify here; verifiers that read the JWKS need no change"
    )
    if not _true(export.get("revokeRefreshToken", False)):
        notes.append(
            "refresh tokens: Keycloak let one be used again (revokeRefreshToken is off); "
            "tokensmith rotates them, so a client must keep the refresh token of each answer "
            "(python-keycloak and the tokensmith client do)"
        )
    return {"access_token_ttl": access, "refresh_token_ttl": refresh, "alg": alg}


def _token_scopes(export: Mapping[str, Any]) -> dict[str, bool]:
    """Each client scope of the realm, and whether Keycloak writes its name into a token's
    scope; Keycloak's own scopes when the export leaves the realm's out. A scope a client names
    that the realm does not have is one Keycloak ignores, and so is it here."""
    if "clientScopes" not in export:
        return dict(_BUILT_IN_SCOPES)
    scopes: dict[str, bool] = {}
    for rep in _list(export.get("clientScopes")):
        name = rep.get("name")
        if isinstance(name, str):
            attributes = rep.get("attributes") or {}
            scopes[name] = _true(attributes.get("include.in.token.scope", "true"))
    return scopes


def _unsupported_client(rep: Mapping[str, Any]) -> str | None:
    if _true(rep.get("bearerOnly")):
        return "bearer-only: it asks for no tokens"
    if _true(rep.get("publicClient")):
        return "a public client (no credentials): tokensmith serves confidential machine clients"
    if rep.get("protocol", "openid-connect") != "openid-connect":
        return f"protocol {rep.get('protocol')}: tokensmith speaks OpenID Connect/OAuth only"
    if not _true(rep.get("serviceAccountsEnabled")):
        return (
            "no service account, so no client credentials grant (it signs users in, which "
            "tokensmith does not do)"
        )
    method = rep.get("clientAuthenticatorType", "client-secret")
    if method == "client-secret-jwt":
        return (
            "client-secret-jwt (assertions signed with the secret) is not supported; switch it "
            "to client-secret or client-jwt (private_key_jwt) first"
        )
    if method not in ("client-secret", "client-jwt", _FEDERATED):
        return f"client authenticator {method} is not supported"
    return None


def _client_plan(
    export: Mapping[str, Any],
    rep: Mapping[str, Any],
    client_id: str,
    token_scopes: Mapping[str, bool],
    skipped: list[Skipped],
    notes: list[str],
) -> ClientPlan:
    check_client_id(client_id)
    attributes: Mapping[str, Any] = rep.get("attributes") or {}
    options: dict[str, Any] = {}
    secret: str | None = None
    masked = False
    method = rep.get("clientAuthenticatorType", "client-secret")
    if method == _FEDERATED:
        # No secret to keep or make: the client authenticates with a platform's token only.
        options["federated_only"] = True
    elif method == "client-jwt":
        if _true(attributes.get("use.jwks.string")) or (
            attributes.get("jwks.string") and not _true(attributes.get("use.jwks.url"))
        ):
            try:
                options["jwks"] = json.loads(str(attributes.get("jwks.string")))
            except ValueError:
                raise AdminError("its jwks.string is not JSON") from None
        elif attributes.get("jwks.url"):
            options["jwks_url"] = str(attributes["jwks.url"])
        else:
            raise AdminError(
                "client-jwt without keys: Keycloak kept its certificate, which an export does "
                "not hold; set jwks.url or jwks.string"
            )
    else:
        value = rep.get("secret")
        if isinstance(value, str) and value and value != MASKED:
            secret = value
        else:
            masked = True
    lifespan = _seconds(attributes.get("access.token.lifespan"))
    if lifespan is not None:
        options["access_token_ttl"] = lifespan
    options["refresh_tokens"] = (
        _true(attributes.get("client_credentials.use_refresh_token", False))
        and attributes.get("use.refresh.tokens", "true") != "false"
    )
    if _true(attributes.get("dpop.bound.access.tokens", False)):
        options["dpop_required"] = True
    defaults = rep.get("defaultClientScopes", export.get("defaultDefaultClientScopes", []))
    optional = rep.get("optionalClientScopes", export.get("defaultOptionalClientScopes", []))
    in_token = [
        s for s in [*defaults, *optional] if isinstance(s, str) and token_scopes.get(s, False)
    ]
    options["scopes"], options["default_scopes"] = check_scopes(
        format_scope(frozenset(in_token)),
        format_scope(frozenset(s for s in defaults if isinstance(s, str) and s in in_token)),
    )
    if not options.get("federated_only"):
        check_client_keys(secret, options.get("jwks"), options.get("jwks_url"))
    _mappers(rep, client_id, options, skipped)
    alg = attributes.get("access.token.signed.response.alg")
    if alg and alg != _realm_alg(export):
        notes.append(
            f"client {client_id}: its tokens were signed with {alg}; tokensmith signs every "
            "token of a realm with the realm's algorithm"
        )
    if _true(rep.get("directAccessGrantsEnabled")) or _true(rep.get("standardFlowEnabled")):
        notes.append(
            f"client {client_id}: only its client credentials (and refresh) grants are carried "
            "over; its user sign-in flows are not"
        )
    return ClientPlan(client_id, rep.get("enabled", True) is not False, secret, masked, options)


def _federated_credential(rep: Mapping[str, Any], client_id: str) -> Skipped:
    """What an import leaves of a client of Keycloak's federated authenticator: Keycloak names
    an identity provider and a subject; tokensmith trusts issuers and matches subjects or
    conditions, so the credential is added again after the import."""
    attributes: Mapping[str, Any] = rep.get("attributes") or {}
    issuer = attributes.get("jwt.credential.issuer")
    subject = attributes.get("jwt.credential.sub")
    named = (
        f"identity provider {issuer or '(none)'}, subject {subject or '(none)'}"
        if issuer or subject
        else "none named in the export"
    )
    return Skipped(
        f"client {client_id}'s federated credential",
        named,
        "tokensmith trusts issuers, not identity providers: add the issuer (tokensmith issuer "
        "add) and the credential (tokensmith client federate); until then the client, which "
        "has no secret, cannot authenticate",
    )


def _realm_alg(export: Mapping[str, Any]) -> str:
    return str(export.get("defaultSignatureAlgorithm") or "RS256")


def _mappers(
    rep: Mapping[str, Any], client_id: str, options: dict[str, Any], skipped: list[Skipped]
) -> None:
    """The client's audience and hard-coded claim mappers as its ``audience`` and
    ``extra_claims``; any other mapper is reported."""
    claims: dict[str, Any] = {}
    for mapper in _list(rep.get("protocolMappers")):
        kind = mapper.get("protocolMapper")
        config: Mapping[str, Any] = mapper.get("config") or {}
        label = f"{client_id}: {mapper.get('name', kind)}"
        in_access = _true(config.get("access.token.claim", "true"))
        if kind == _AUDIENCE_MAPPER and in_access and "audience" not in options:
            audience = config.get("included.custom.audience") or config.get(
                "included.client.audience"
            )
            if audience:
                options["audience"] = str(audience)
                continue
        name = str(config.get("claim.name") or "")
        if kind == _CLAIM_MAPPER and in_access and name and name not in RESERVED_CLAIMS:
            claims[name] = _claim_value(config)
            continue
        if kind == _CLAIM_MAPPER and name in RESERVED_CLAIMS:
            reason = f"claim {name!r} is set by tokensmith itself"
        elif not in_access:
            reason = "it adds nothing to access tokens"
        else:
            reason = f"{kind} has no tokensmith equivalent"
        skipped.append(Skipped("protocol mapper", label, reason))
    if claims:
        options["extra_claims"] = claims


def _claim_value(config: Mapping[str, Any]) -> object:
    value = config.get("claim.value", "")
    kind = str(config.get("jsonType.label", "String")).lower()
    try:
        if kind in ("long", "int"):
            return int(value)
        if kind == "boolean":
            return _true(value)
        if kind == "json":
            return json.loads(value)
    except ValueError:
        pass
    return value


def _realm_leftovers(
    export: Mapping[str, Any], service_accounts: Mapping[str, str], skipped: list[Skipped]
) -> None:
    everyone = _list(export.get("users"))
    users = [u.get("username", "?") for u in everyone if "serviceAccountClientId" not in u]
    if users:
        skipped.append(Skipped("users", _names(users), "tokensmith has no users"))
    for client_id in sorted(service_accounts):
        user = next(u for u in everyone if u.get("serviceAccountClientId") == client_id)
        roles = [*user.get("realmRoles", [])]
        for owner, names in (user.get("clientRoles") or {}).items():
            roles += [f"{owner}/{n}" for n in names]
        roles = [r for r in roles if not _built_in_role(r)]
        if roles:
            skipped.append(
                Skipped(
                    "roles of the service account of",
                    client_id,
                    f"{_names(roles)}: tokensmith puts scopes, not roles, in tokens",
                )
            )
    all_roles = export.get("roles") or {}
    realm_roles = [
        r.get("name", "?")
        for r in _list(all_roles.get("realm") if isinstance(all_roles, dict) else None)
        if not _built_in_role(r.get("name"))
    ]
    if realm_roles:
        skipped.append(Skipped("realm roles", _names(realm_roles), "tokensmith has no roles"))
    for key, what, label, reason in (
        ("groups", "groups", "name", "tokensmith has no users or groups"),
        (
            "identityProviders",
            "identity providers",
            "alias",
            "to accept their tokens, add them as trusted issuers (tokensmith issuer add)",
        ),
        ("authenticationFlows", "authentication flows", "alias", "tokensmith signs no users in"),
    ):
        items = [i for i in _list(export.get(key)) if not i.get("builtIn")]
        if items:
            skipped.append(Skipped(what, _names([i.get(label, "?") for i in items]), reason))


def _built_in_role(name: object) -> bool:
    return str(name).startswith("default-roles-") or name in ("offline_access", "uma_authorization")


def _names(names: Sequence[object], most: int = 10) -> str:
    shown = ", ".join(map(str, names[:most]))
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _disabled(client: ClientPlan) -> ClientPlan:
    return ClientPlan(client.client_id, False, client.secret, client.masked, client.options)


# --- writing an export --------------------------------------------------------------------------


def _client_rep(realm: Realm, client: Client, left_out: list[Skipped]) -> dict[str, Any]:
    attributes: dict[str, str] = {
        "client_credentials.use_refresh_token": str(client.refresh_tokens).lower(),
        "use.refresh.tokens": str(client.refresh_tokens).lower(),
        "dpop.bound.access.tokens": str(client.dpop_required).lower(),
    }
    if client.access_token_ttl is not None:
        attributes["access.token.lifespan"] = str(client.access_token_ttl)
    authenticator = "client-secret"
    if not client.secrets and not client.jwks and not client.jwks_url:
        # Federated only: Keycloak's federated authenticator, so that neither Keycloak nor a
        # tokensmith import gives it a secret it never had.
        authenticator = _FEDERATED
    elif client.jwks_url:
        authenticator = "client-jwt"
        attributes.update({"use.jwks.url": "true", "jwks.url": client.jwks_url})
    elif client.jwks:
        authenticator = "client-jwt"
        attributes.update(
            {"use.jwks.url": "false", "use.jwks.string": "true", "jwks.string": client.jwks}
        )
    mappers: list[dict[str, Any]] = []
    if client.audience:
        mappers.append(
            {
                "name": "audience",
                "protocol": "openid-connect",
                "protocolMapper": _AUDIENCE_MAPPER,
                "config": {
                    "included.custom.audience": client.audience,
                    "access.token.claim": "true",
                    "id.token.claim": "false",
                },
            }
        )
    for name, value in client.static_claims.items():
        mappers.append(
            {
                "name": name,
                "protocol": "openid-connect",
                "protocolMapper": _CLAIM_MAPPER,
                "config": {
                    "claim.name": name,
                    "claim.value": value if isinstance(value, str) else json.dumps(value),
                    "jsonType.label": _json_type(value),
                    "access.token.claim": "true",
                },
            }
        )
    for what, value in (
        ("response style", client.response_style or ""),
        ("grant types", " ".join(sorted(client.grant_types))),
        ("resources", " ".join(sorted(client.resources))),
    ):
        if value:
            left_out.append(
                Skipped(
                    f"client {client.client_id}'s {what}", value, "Keycloak has no such setting"
                )
            )
    scopes = client.scopes - {"openid"}
    return {
        "clientId": client.client_id,
        "enabled": client.enabled,
        "protocol": "openid-connect",
        "publicClient": False,
        "bearerOnly": False,
        "serviceAccountsEnabled": True,
        "standardFlowEnabled": False,
        "implicitFlowEnabled": False,
        "directAccessGrantsEnabled": False,
        "clientAuthenticatorType": authenticator,
        "attributes": attributes,
        "defaultClientScopes": sorted(client.default_scopes & scopes),
        "optionalClientScopes": sorted(scopes - client.default_scopes),
        "protocolMappers": mappers,
    }


def _unless(seconds: int | None) -> str:
    return "" if seconds is None else f"{seconds} s"


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, str):
        return "String"
    return "JSON"


def describe_import(plan: ImportPlan, made: Sequence[NewClient] = ()) -> list[str]:
    """The plan (and, once carried out, the secrets generated) as lines for a person."""
    renamed = "" if plan.realm == plan.source_realm else f" (Keycloak realm {plan.source_realm})"
    options = plan.realm_options
    lines = [
        f"realm {plan.realm}{renamed}: access tokens {options['access_token_ttl']} s, refresh "
        f"tokens {options['refresh_token_ttl']} s, {options['alg']}",
        f"clients ({len(plan.clients)}):",
    ]
    secrets = {m.client.client_id: m.secret for m in made if m.secret}
    for client in plan.clients:
        o = client.options
        what = [client.authentication]
        if client.masked:
            new = secrets.get(client.client_id)
            what.append(
                "the export masked its secret: new secret "
                + (new if new else "generated on import")
            )
        elif client.secret is not None:
            what.append("secret kept")
        if not client.enabled:
            what.append("disabled")
        what.append(
            f"scopes: {o['scopes'] or '(none)'} (by default: {o['default_scopes'] or 'none'})"
        )
        if o.get("refresh_tokens"):
            what.append("refresh tokens")
        if "access_token_ttl" in o:
            what.append(f"access tokens {o['access_token_ttl']} s")
        if "audience" in o:
            what.append(f"aud {o['audience']}")
        if "extra_claims" in o:
            what.append("claims " + ", ".join(sorted(o["extra_claims"])))
        lines.append(f"  {client.client_id}: " + "; ".join(what))
    if plan.skipped:
        lines.append(f"not imported ({len(plan.skipped)}):")
        lines += [f"  {s.what} {s.name}: {s.reason}" for s in plan.skipped]
    if plan.notes:
        lines.append("differences:")
        lines += [f"  {note}" for note in plan.notes]
    return lines


def import_json(plan: ImportPlan, made: Sequence[NewClient] = ()) -> dict[str, Any]:
    """The plan (and the secrets generated) as JSON for scripts."""
    secrets = {m.client.client_id: m.secret for m in made if m.secret}
    return {
        "realm": plan.realm,
        "source_realm": plan.source_realm,
        **plan.realm_options,
        "clients": [
            {
                "client_id": c.client_id,
                "enabled": c.enabled,
                "authentication": c.authentication,
                "secret_kept": c.secret is not None,
                "new_secret": secrets.get(c.client_id),
                "scope": c.options["scopes"],
                "default_scope": c.options["default_scopes"],
                "refresh_tokens": c.options["refresh_tokens"],
                "access_token_ttl": c.options.get("access_token_ttl"),
                "audience": c.options.get("audience"),
                "extra_claims": c.options.get("extra_claims", {}),
            }
            for c in plan.clients
        ],
        "not_imported": [
            {"what": s.what, "name": s.name, "reason": s.reason} for s in plan.skipped
        ],
        "differences": list(plan.notes),
    }
