"""``tokensmith realm|client|key …``: administration against the database, also while the service
runs (running services notice changes within a few seconds)."""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..oauth import ALGORITHMS, EXTRA_GRANTS, ResponseStyle
from ._args import duration
from ._issuer_commands import HANDLERS as ISSUER_HANDLERS
from ._issuer_commands import add_parsers as add_issuer_parsers

if TYPE_CHECKING:  # the server's dependencies load only when an admin command runs
    from ..server import Admin, NewClient, Settings
    from ..store import Client, Realm


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register the realm, client and key commands; ``common`` holds the options all share."""
    realm = sub.add_parser("realm", help="create, list, show and delete realms")
    rsub = realm.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = rsub.add_parser(
        parents=[common], name="create", help="create a realm with fresh signing keys"
    )
    create.add_argument("name")
    create.add_argument(
        "--access-token-ttl",
        type=duration,
        default=300,
        metavar="S",
        help="access token lifetime (default 300 s)",
    )
    create.add_argument(
        "--refresh-token-ttl",
        type=duration,
        default=1800,
        metavar="S",
        help="refresh token lifetime (default 1800 s)",
    )
    create.add_argument(
        "--alg",
        choices=ALGORITHMS,
        default="ES256",
        help="signing algorithm (default ES256; RS256 costs ~10x more per token)",
    )
    create.add_argument(
        "--token-path",
        action="append",
        default=[],
        metavar="PATH",
        help="extra path answering this realm's token endpoint, e.g. /connect/token (repeatable)",
    )
    create.add_argument(
        "--response-style",
        choices=[style.value for style in ResponseStyle],
        default="standard",
        help="token response field names (default standard, RFC 6749)",
    )
    create.add_argument(
        "--audience", help="aud of the realm's access tokens (default: the realm name)"
    )
    create.add_argument(
        "--refresh-reuse-grace",
        type=duration,
        metavar="S",
        help="how long a client may present a just-rotated refresh token again (after a lost "
        "answer) and get a new pair; later reuse revokes every token of its family; 0 turns it "
        "off, at most 300 s (default 30 s)",
    )
    create.add_argument(
        "--client-auth-limit",
        metavar="LIMIT",
        help="failed authentications of one client id before it is refused (HTTP 429) to the "
        "addresses that failed, e.g. '20/minute;200/hour' (default: the service's, "
        "$TOKENSMITH_CLIENT_AUTH_LIMIT)",
    )
    create.add_argument(
        "--address-auth-limit",
        metavar="LIMIT",
        help="failed client authentications from one source address before it is refused "
        "(HTTP 429), e.g. '20/minute;200/hour' (default: the service's, "
        "$TOKENSMITH_ADDRESS_AUTH_LIMIT)",
    )
    rsub.add_parser(parents=[common], name="list", help="list realms")
    show = rsub.add_parser(parents=[common], name="show", help="show a realm, its clients and keys")
    show.add_argument("name")
    delete = rsub.add_parser(
        parents=[common], name="delete", help="delete a realm with all its clients, keys and tokens"
    )
    delete.add_argument("name")

    client = sub.add_parser("client", help="create, list, show, disable, enable, delete clients")
    csub = client.add_subparsers(dest="action", required=True, metavar="ACTION")
    ccreate = csub.add_parser(
        parents=[common], name="create", help="create a client; prints its generated secret once"
    )
    ccreate.add_argument("realm")
    ccreate.add_argument("client_id")
    ccreate.add_argument(
        "--secret",
        help="use this secret instead of generating one (stored with argon2id; weaker than a "
        "generated 256-bit secret, and slower to check: prefer the default)",
    )
    ccreate.add_argument(
        "--scope", default="", help='allowed scopes, space-separated, e.g. "api api2"'
    )
    ccreate.add_argument(
        "--default-scope",
        default=None,
        help="scopes granted when a request names none (default: all allowed)",
    )
    ccreate.add_argument(
        "--refresh-tokens",
        action="store_true",
        help="answer client_credentials with a refresh token too",
    )
    ccreate.add_argument(
        "--access-token-ttl",
        type=duration,
        metavar="S",
        help="this client's access token lifetime (default: the realm's)",
    )
    ccreate.add_argument(
        "--response-style",
        choices=[style.value for style in ResponseStyle],
        help="override the realm's response style",
    )
    ccreate.add_argument(
        "--grant",
        action="append",
        default=[],
        metavar="GRANT",
        choices=EXTRA_GRANTS,
        help="also allow this grant (repeatable): " + ", ".join(EXTRA_GRANTS),
    )
    ccreate.add_argument("--audience", help="aud of this client's tokens (default: the realm's)")
    ccreate.add_argument(
        "--claim",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a static claim for every token of the client (repeatable)",
    )
    keys = ccreate.add_mutually_exclusive_group()
    keys.add_argument(
        "--jwks-file",
        type=Path,
        metavar="FILE",
        help="private_key_jwt: the client's public keys (a JWKS file); no secret",
    )
    keys.add_argument(
        "--jwks-url",
        metavar="URL",
        help="private_key_jwt: where the client's public keys are; no secret",
    )
    ccreate.add_argument("--json", action="store_true", help="print a JSON object")
    clist = csub.add_parser(parents=[common], name="list", help="list a realm's clients")
    clist.add_argument("realm")
    for action, text in (
        ("show", "show a client and its secrets' expiry"),
        ("disable", "refuse the client's requests from now on"),
        ("enable", "accept the client's requests again"),
        ("delete", "delete the client, its secrets and refresh tokens"),
    ):
        p = csub.add_parser(action, parents=[common], help=text)
        p.add_argument("realm")
        p.add_argument("client_id")
    rotate = csub.add_parser(
        parents=[common], name="rotate-secret", help="issue a new secret; old ones work for --grace"
    )
    rotate.add_argument("realm")
    rotate.add_argument("client_id")
    rotate.add_argument(
        "--grace",
        type=duration,
        default=0,
        metavar="S",
        help="how long the old secrets keep working, e.g. 24h (default 0)",
    )
    rotate.add_argument("--secret", help="use this secret instead of generating one")
    rotate.add_argument("--json", action="store_true", help="print a JSON object")

    key = sub.add_parser("key", help="list and rotate a realm's signing keys")
    ksub = key.add_subparsers(dest="action", required=True, metavar="ACTION")
    klist = ksub.add_parser(parents=[common], name="list", help="list the realm's signing keys")
    klist.add_argument("realm")
    krotate = ksub.add_parser(
        parents=[common],
        name="rotate",
        help="promote the next key to current and make a new next key",
    )
    krotate.add_argument("realm")
    add_issuer_parsers(sub, common)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Carry out one administration command; returns the exit status."""
    from ..server import Admin, MasterKey, MasterKeyError, open_master_key
    from ..store import Database

    db = Database(settings.database_url)
    try:
        await db.migrate()
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
    )
    print(f"created realm {realm.name}")
    _print_realm(realm)
    return 0


async def _realm_list(admin: Admin, args: argparse.Namespace) -> int:
    realms = await admin.list_realms()
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
    _table(rows)
    return 0


async def _realm_show(admin: Admin, args: argparse.Namespace) -> int:
    realm = await admin.realm(args.name)
    _print_realm(realm)
    clients = await admin.list_clients(args.name)
    print(f"clients:           {', '.join(c.client_id for c in clients) or '-'}")
    keys = await admin.list_keys(args.name)
    print("keys:")
    for k in keys:
        if k.state != "retired":
            print(f"  {k.state:<9} {k.kid}  {k.alg}  created {_when(k.created_at)}")
    return 0


async def _realm_delete(admin: Admin, args: argparse.Namespace) -> int:
    await admin.delete_realm(args.name)
    print(f"deleted realm {args.name}")
    return 0


async def _client_create(admin: Admin, args: argparse.Namespace) -> int:
    new = await admin.create_client(
        args.realm,
        args.client_id,
        secret=args.secret,
        scopes=args.scope,
        default_scopes=args.default_scope,
        refresh_tokens=args.refresh_tokens,
        access_token_ttl=args.access_token_ttl,
        response_style=args.response_style,
        grant_types=args.grant,
        audience=args.audience,
        extra_claims=_claims(args.claim),
        jwks=_jwks_file(args.jwks_file),
        jwks_url=args.jwks_url,
    )
    _print_new_secret(args, new, "created client")
    return 0


async def _client_list(admin: Admin, args: argparse.Namespace) -> int:
    clients = await admin.list_clients(args.realm)
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
    _table(rows)
    return 0


async def _client_show(admin: Admin, args: argparse.Namespace) -> int:
    _print_client(await admin.client(args.realm, args.client_id))
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
    _print_new_secret(args, new, "new secret for client")
    return 0


async def _key_list(admin: Admin, args: argparse.Namespace) -> int:
    rows = [("STATE", "KID", "ALG", "CREATED")]
    rows += [
        (k.state, k.kid, k.alg, _when(k.created_at)) for k in await admin.list_keys(args.realm)
    ]
    _table(rows)
    return 0


async def _key_rotate(admin: Admin, args: argparse.Namespace) -> int:
    keys = await admin.rotate_keys(args.realm)
    current = next(k for k in keys if k.state == "current")
    print(f"rotated keys of realm {args.realm}; now signing with {current.kid}")
    return 0


# Commands that encrypt or decrypt with the master key.
_NEEDS_MASTER_KEY = {
    ("realm", "create"),
    ("key", "rotate"),
    ("issuer", "add-demo"),
    ("issuer", "demo-token"),
}

_HANDLERS: dict[tuple[str, str], Any] = {
    ("realm", "create"): _realm_create,
    ("realm", "list"): _realm_list,
    ("realm", "show"): _realm_show,
    ("realm", "delete"): _realm_delete,
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
}


def _jwks_file(path: Path | None) -> dict[str, object] | None:
    from ..server import AdminError

    if path is None:
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise AdminError(f"cannot read JWKS file {path}: {exc}") from None
    if not isinstance(data, dict):
        raise AdminError(f"{path} is not a JWKS document")
    return data


def _claims(pairs: list[str]) -> dict[str, object]:
    from ..server import AdminError

    claims: dict[str, object] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise AdminError(f"--claim {pair!r} must be NAME=VALUE")
        try:
            claims[name] = json.loads(value)  # numbers, booleans, lists, objects
        except ValueError:
            claims[name] = value
    return claims


SHORT_SECRET = 20
"""Person-chosen secrets shorter than this get a warning: guessable offline from a leaked hash."""


def _print_new_secret(args: argparse.Namespace, new: NewClient, what: str) -> None:
    c = new.client
    chosen = getattr(args, "secret", None)
    if chosen is not None and len(chosen) < SHORT_SECRET:
        print(
            f"warning: the secret you chose has {len(chosen)} characters. A secret a person "
            "chooses is the weaker option: online guessing is rate-limited, but a leaked "
            "database lets it be guessed offline. Without --secret, tokensmith generates a "
            f"256-bit secret; if you must choose one, use {SHORT_SECRET} or more random "
            "characters.",
            file=sys.stderr,
        )
    if args.json:
        data: dict[str, Any] = {
            "realm": args.realm,
            "client_id": c.client_id,
            "client_secret": new.secret,
            "scope": " ".join(sorted(c.scopes)),
            "default_scope": " ".join(sorted(c.default_scopes)),
            "refresh_tokens": c.refresh_tokens,
        }
        print(json.dumps(data))
        return
    print(f"{what} {c.client_id} in realm {args.realm}")
    if new.secret is not None:
        print(f"client_secret: {new.secret}")
        print(
            "This secret is shown once and stored only as a digest; keep it now.", file=sys.stderr
        )
    elif c.jwks or c.jwks_url:
        print("authentication: private_key_jwt (no secret)")
    else:
        print("client_secret: (the one you gave, stored with argon2id)")


def _print_realm(realm: Realm) -> None:
    print(f"realm:             {realm.name}")
    print(f"algorithm:         {realm.alg}")
    print(f"access token ttl:  {realm.access_token_ttl}s")
    print(f"refresh token ttl: {realm.refresh_token_ttl}s")
    print(f"response style:    {realm.response_style}")
    print(f"audience:          {realm.audience or realm.name}")
    print(f"token paths:       {' '.join(realm.token_paths) or '-'}")
    default = " (service default)" if realm.refresh_reuse_grace is None else ""
    print(f"refresh grace:     {realm.reuse_grace}s{default}")
    print(f"client limit:      {realm.client_auth_limit or 'service default'}")
    print(f"address limit:     {realm.address_auth_limit or 'service default'}")


def _print_client(c: Client) -> None:
    print(f"client id:       {c.client_id}")
    print(f"enabled:         {'yes' if c.enabled else 'no'}")
    print(f"scopes:          {' '.join(sorted(c.scopes)) or '-'}")
    print(f"default scopes:  {' '.join(sorted(c.default_scopes)) or '-'}")
    print(f"refresh tokens:  {'yes' if c.refresh_tokens else 'no'}")
    print(f"extra grants:    {' '.join(sorted(c.grant_types)) or '-'}")
    print(f"audience:        {c.audience or 'realm default'}")
    print(f"extra claims:    {c.extra_claims or '-'}")
    print(f"access ttl:      {f'{c.access_token_ttl}s' if c.access_token_ttl else 'realm default'}")
    print(f"response style:  {c.response_style or 'realm default'}")
    print("secrets:")
    for s in c.secrets:
        kind = "generated, sha256" if s.digest.startswith("sha256$") else "chosen, argon2id"
        expiry = f"expires {_when(s.expires_at)}" if s.expires_at else "no expiry"
        print(f"  #{s.id}  created {_when(s.created_at)}  {expiry}  ({kind})")


def _when(ts: int) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
