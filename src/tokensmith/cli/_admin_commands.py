"""``tokensmith realm|client|key …``: administration against the database, also while the service
runs (running services notice changes within a few seconds). A database without tokensmith's
schema at the newest revision is refused before anything is written (``tokensmith db upgrade``
makes it so). The parsers are built in ``_admin_parsers``; what is printed is shaped in
``_admin_output``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from ._admin_output import (
    client_json,
    in_role_order,
    key_json,
    print_client,
    print_json,
    print_new_secret,
    print_realm,
    realm_json,
    table,
    when,
)
from ._args import read_jwks, static_claims
from ._federation_commands import HANDLERS as FEDERATION_HANDLERS
from ._issuer_commands import HANDLERS as ISSUER_HANDLERS

if TYPE_CHECKING:  # the server's dependencies load only when an admin command runs
    from ..server import Admin, Settings


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Carry out one administration command; returns the exit status."""
    from ..server import Admin, MasterKey, MasterKeyError, open_master_key
    from ..store import Database

    db = Database(settings.database_url, create=False)
    try:
        await db.check_schema()
        if (args.command, args.action) not in _READS_ONLY:
            await db.check_writable()  # a read-only file is named as such, not "unavailable"
        # A given or existing master key is checked against the database before any command
        # writes; only commands that encrypt or decrypt keys make a key file for a new database.
        needs_key = (args.command, args.action) in _NEEDS_MASTER_KEY
        master = await open_master_key(
            db, settings.master_key, settings.key_file(), required=needs_key
        )

        def no_key() -> MasterKey:
            raise MasterKeyError("this command has no master key")

        admin = Admin(db, master or no_key)
        handler = _HANDLERS[(args.command, args.action)]
        status: int = await handler(admin, args)
        return status
    finally:
        await db.close()


async def _realm_create(admin: Admin, args: argparse.Namespace) -> int:
    realm = await admin.create_realm(
        args.name,
        access_token_ttl=args.access_token_ttl,
        refresh_token_ttl=args.refresh_token_ttl,
        alg=args.alg,
        token_paths=args.token_path,
        response_style=args.response_style,
        audience=args.audience,
        client_auth_limit=args.client_auth_limit,
        address_auth_limit=args.address_auth_limit,
        refresh_reuse_grace=args.refresh_reuse_grace,
        max_assertion_lifetime=args.max_assertion_lifetime,
        cors_origins=args.cors_origin,
        dpop_required=args.require_dpop,
        dpop_nonce=args.dpop_nonce,
    )
    print(f"created realm {realm.name}")
    print_realm(realm)
    return 0


async def _realm_update(admin: Admin, args: argparse.Namespace) -> int:
    if args.access_token_ttl is None and args.refresh_token_ttl is None:
        print(
            "tokensmith: error: nothing to change; give --access-token-ttl and/or "
            "--refresh-token-ttl",
            file=sys.stderr,
        )
        return 2
    realm = await admin.update_realm(
        args.name,
        access_token_ttl=args.access_token_ttl,
        refresh_token_ttl=args.refresh_token_ttl,
    )
    print(f"updated realm {realm.name}")
    print_realm(realm)
    return 0


async def _realm_list(admin: Admin, args: argparse.Namespace) -> int:
    realms = await admin.list_realms()
    if args.json:
        print_json([realm_json(r) for r in realms])
        return 0
    if not realms:
        print("no realms yet; create one with: tokensmith realm create NAME")
        return 0
    rows = [("NAME", "ALG", "ACCESS", "REFRESH", "STYLE", "TOKEN PATHS")]
    rows += [
        (
            r.name,
            r.alg,
            f"{r.access_token_ttl}s",
            f"{r.refresh_token_ttl}s",
            r.response_style,
            " ".join(r.token_paths) or "-",
        )
        for r in realms
    ]
    table(rows)
    return 0


async def _realm_show(admin: Admin, args: argparse.Namespace) -> int:
    realm = await admin.realm(args.name)
    clients = await admin.list_clients(args.name)
    keys = [k for k in in_role_order(await admin.list_keys(args.name)) if k.state != "retired"]
    if args.json:
        data = realm_json(realm)
        data["clients"] = [c.client_id for c in clients]
        data["keys"] = [key_json(k) for k in keys]
        print_json(data)
        return 0
    print_realm(realm)
    print(f"clients:           {', '.join(c.client_id for c in clients) or '-'}")
    print("keys:")
    for k in keys:
        print(f"  {k.state:<9} {k.kid}  {k.alg}  created {when(k.created_at)}")
    return 0


async def _realm_delete(admin: Admin, args: argparse.Namespace) -> int:
    from ..server import RealmNotEmpty

    try:
        await admin.delete_realm(args.name, with_clients=args.force)
    except RealmNotEmpty as refused:
        if not sys.stdin.isatty():
            print(
                f"error: {refused}; add --force to delete realm {args.name} and its clients",
                file=sys.stderr,
            )
            return 1
        its, s = ("its", "") if refused.clients == 1 else ("their", "s")
        print(
            f"delete realm {args.name!r} and its {refused.clients} client{s}, with {its} "
            "secrets and tokens? [y/N] ",
            end="",
            file=sys.stderr,
            flush=True,
        )
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            print(f"realm {args.name} was not deleted", file=sys.stderr)
            return 1
        await admin.delete_realm(args.name)
    print(f"deleted realm {args.name}")
    return 0


async def _realm_import(admin: Admin, args: argparse.Namespace) -> int:
    from ..server import (
        AdminError,
        describe_import,
        import_json,
        import_keycloak_realm,
        plan_keycloak_import,
    )

    try:
        text = sys.stdin.read() if str(args.file) == "-" else args.file.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise AdminError(
            f"cannot read {args.file}: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    try:
        export = json.loads(text)
    except ValueError as exc:
        raise AdminError(f"{args.file} is not JSON ({exc})") from None
    plan = plan_keycloak_import(export, args.name)
    made = () if args.dry_run else (await import_keycloak_realm(admin, plan)).clients
    if args.json:
        print_json({"dry_run": args.dry_run, **import_json(plan, made)})
        return 0
    verb = "would import" if args.dry_run else "imported"
    print(f"{verb} realm {plan.realm} from {args.file}")
    for line in describe_import(plan, made):
        print(line)
    return 0


async def _realm_export(admin: Admin, args: argparse.Namespace) -> int:
    from ..server import keycloak_export

    export, left_out = await keycloak_export(admin, args.name)
    text = json.dumps(export, indent=2) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text)
        print(f"wrote realm {args.name} to {args.output}", file=sys.stderr)
    for item in left_out:
        print(f"note: not exported: {item.what} {item.name}: {item.reason}", file=sys.stderr)
    return 0


async def _client_create(admin: Admin, args: argparse.Namespace) -> int:
    new = await admin.create_client(
        args.realm,
        args.client_id,
        secret=args.secret,
        scopes=args.scope,
        default_scopes=args.default_scope,
        refresh_tokens=args.refresh_tokens,
        dpop_required=args.require_dpop,
        access_token_ttl=args.access_token_ttl,
        response_style=args.response_style,
        grant_types=args.grant,
        audience=args.audience,
        extra_claims=static_claims(args.claim),
        jwks=read_jwks(args.jwks_file),
        jwks_url=args.jwks_url,
        resources=args.resource,
        federated_only=args.federated_only,
    )
    print_new_secret(args, new, "created client")
    return 0


async def _admin_create_client(admin: Admin, args: argparse.Namespace) -> int:
    from ..server import ADMIN_READ_SCOPE, ADMIN_SCOPE, MASTER_REALM, ensure_master_realm

    await ensure_master_realm(admin)
    scope = ADMIN_READ_SCOPE if args.read_only else f"{ADMIN_SCOPE} {ADMIN_READ_SCOPE}"
    new = await admin.create_client(MASTER_REALM, args.client_id, scopes=scope)
    args.realm, args.secret = MASTER_REALM, None
    print_new_secret(args, new, "created admin client")
    return 0


async def _client_list(admin: Admin, args: argparse.Namespace) -> int:
    clients = await admin.list_clients(args.realm)
    if args.json:
        print_json([client_json(args.realm, c) for c in clients])
        return 0
    if not clients:
        print(
            f"realm {args.realm} has no clients; "
            f"add one with: tokensmith client create {args.realm} ID"
        )
        return 0
    rows = [("CLIENT ID", "ENABLED", "SCOPES", "DEFAULT SCOPES", "REFRESH", "SECRETS")]
    rows += [
        (
            c.client_id,
            "yes" if c.enabled else "no",
            " ".join(sorted(c.scopes)) or "-",
            " ".join(sorted(c.default_scopes)) or "-",
            "yes" if c.refresh_tokens else "no",
            str(len(c.secrets)),
        )
        for c in clients
    ]
    table(rows)
    return 0


async def _client_show(admin: Admin, args: argparse.Namespace) -> int:
    client = await admin.client(args.realm, args.client_id)
    if args.json:
        print_json(client_json(args.realm, client))
    else:
        print_client(client)
    return 0


async def _client_enable(admin: Admin, args: argparse.Namespace) -> int:
    enabled = args.action == "enable"
    await admin.set_client_enabled(args.realm, args.client_id, enabled)
    print(f"{'enabled' if enabled else 'disabled'} client {args.client_id}")
    return 0


async def _client_delete(admin: Admin, args: argparse.Namespace) -> int:
    await admin.delete_client(args.realm, args.client_id)
    print(f"deleted client {args.client_id}")
    return 0


async def _client_rotate(admin: Admin, args: argparse.Namespace) -> int:
    new = await admin.rotate_secret(
        args.realm, args.client_id, grace=args.grace, secret=args.secret
    )
    print_new_secret(args, new, "new secret for client")
    return 0


async def _key_list(admin: Admin, args: argparse.Namespace) -> int:
    keys = in_role_order(await admin.list_keys(args.realm))
    if args.json:
        print_json([key_json(k) for k in keys])
        return 0
    rows = [("STATE", "KID", "ALG", "CREATED")]
    rows += [(k.state, k.kid, k.alg, when(k.created_at)) for k in keys]
    table(rows)
    return 0


async def _key_rotate(admin: Admin, args: argparse.Namespace) -> int:
    keys = await admin.rotate_keys(args.realm)
    current = next(k for k in keys if k.state == "current")
    print(f"rotated keys of realm {args.realm}; now signing with {current.kid}")
    return 0


# Commands that write nothing.
_READS_ONLY = {
    ("realm", "list"),
    ("realm", "show"),
    ("realm", "export"),
    ("client", "list"),
    ("client", "show"),
    ("key", "list"),
    ("issuer", "list"),
    ("issuer", "demo-token"),
}

# Commands that encrypt or decrypt with the master key.
_NEEDS_MASTER_KEY = {
    ("realm", "create"),
    ("realm", "import"),
    ("admin", "create-client"),
    ("key", "rotate"),
    ("issuer", "add-demo"),
    ("issuer", "demo-token"),
}

_HANDLERS: dict[tuple[str, str], Any] = {
    ("realm", "create"): _realm_create,
    ("realm", "update"): _realm_update,
    ("realm", "list"): _realm_list,
    ("realm", "show"): _realm_show,
    ("realm", "delete"): _realm_delete,
    ("realm", "import"): _realm_import,
    ("realm", "export"): _realm_export,
    ("admin", "create-client"): _admin_create_client,
    ("client", "create"): _client_create,
    ("client", "list"): _client_list,
    ("client", "show"): _client_show,
    ("client", "disable"): _client_enable,
    ("client", "enable"): _client_enable,
    ("client", "delete"): _client_delete,
    ("client", "rotate-secret"): _client_rotate,
    ("key", "list"): _key_list,
    ("key", "rotate"): _key_rotate,
    **ISSUER_HANDLERS,
    **FEDERATION_HANDLERS,
}
