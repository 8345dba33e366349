"""The arguments of ``tokensmith realm|client|key …`` (and, through ``_issuer_commands``,
``issuer …``): parser building only; ``_admin_commands`` carries the commands out."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..oauth import ALGORITHMS, EXTRA_GRANTS, ResponseStyle
from ._args import JSON_HELP, duration
from ._federation_commands import add_parsers as add_federation_parsers
from ._issuer_commands import add_parsers as add_issuer_parsers


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register the realm, client and key commands; ``common`` holds the options all share."""
    realm = sub.add_parser(
        "realm", help="create, update, list, show, delete, import and export realms"
    )
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
        "--require-dpop",
        action="store_true",
        help="every access token of the realm must be DPoP-bound (RFC 9449)",
    )
    create.add_argument(
        "--dpop-nonce",
        action="store_true",
        help="DPoP proofs at the token endpoint must carry the service's nonce (RFC 9449 §8)",
    )
    create.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="origin whose web pages may call the token endpoint, e.g. https://app.example.com "
        "(exact, no '*'; repeatable; default none: no CORS there)",
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
        "--max-assertion-lifetime",
        type=duration,
        metavar="S",
        help="how long a private_key_jwt client assertion may live at most; its jti is kept "
        "that long to refuse replays; 60 s to 24 h (default 1 h, which Authlib's assertions "
        "need)",
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
    update = rsub.add_parser(
        parents=[common],
        name="update",
        help="change a realm's token lifetimes",
        description="Change a realm's token lifetimes. Tokens already issued keep theirs; "
        "running instances use the new ones within the poll interval.",
    )
    update.add_argument("name")
    update.add_argument(
        "--access-token-ttl", type=duration, metavar="S", help="new access token lifetime"
    )
    update.add_argument(
        "--refresh-token-ttl", type=duration, metavar="S", help="new refresh token lifetime"
    )
    rlist = rsub.add_parser(parents=[common], name="list", help="list realms")
    rlist.add_argument("--json", action="store_true", help=JSON_HELP)
    show = rsub.add_parser(parents=[common], name="show", help="show a realm, its clients and keys")
    show.add_argument("name")
    show.add_argument("--json", action="store_true", help=JSON_HELP)
    delete = rsub.add_parser(
        parents=[common],
        name="delete",
        help="delete a realm with all its clients, keys and tokens",
        description="Delete a realm with all its clients, keys and tokens. A realm that has "
        "clients is deleted only after you confirm at the terminal, or with --force; without a "
        "terminal and without --force it is refused (exit 1) and nothing is deleted.",
    )
    delete.add_argument("name")
    delete.add_argument(
        "--force",
        action="store_true",
        help="delete the realm even if it has clients, without asking",
    )

    rimport = rsub.add_parser(
        parents=[common],
        name="import",
        help="create a realm from a Keycloak realm export (kc.sh export JSON)",
        description="Create a realm, with its confidential clients that can do client "
        "credentials, from a Keycloak realm export (kc.sh export, or the admin console's partial "
        "export). Secrets in the export are kept, so the clients' code keeps working; a secret "
        "the export masked (**********) is replaced by a new one, printed once. Everything not "
        "carried over (users, roles, flows, other clients, mappers without an equivalent) is "
        "listed, and so is where tokensmith behaves differently. All or nothing: when one client "
        "is refused, no realm is left behind.",
    )
    rimport.add_argument("file", type=Path, help="the export's JSON file ('-' for standard input)")
    rimport.add_argument("--name", help="the realm's name here (default: Keycloak's)")
    rimport.add_argument(
        "--dry-run", action="store_true", help="print what would be imported; write nothing"
    )
    rimport.add_argument("--json", action="store_true", help=JSON_HELP)
    rexport = rsub.add_parser(
        parents=[common],
        name="export",
        help="write a realm as a Keycloak realm export (without secrets)",
        description="Write a realm and its clients in Keycloak's realm export format, which "
        "Keycloak's import and 'tokensmith realm import' read. Secrets are not written "
        "(tokensmith keeps only their digests): Keycloak generates new ones on import. What the "
        "format cannot say (token paths, PascalCase answers, extra grants…) is listed on "
        "standard error.",
    )
    rexport.add_argument("name")
    rexport.add_argument(
        "--output", "-o", type=Path, help="write to this file (default: standard output)"
    )

    admin = sub.add_parser("admin", help="clients of the admin API (the master realm)")
    asub = admin.add_subparsers(dest="action", required=True, metavar="ACTION")
    acreate = asub.add_parser(
        parents=[common],
        name="create-client",
        help="create a client that may use the admin API; prints its secret once",
        description="Create a client of the master realm (made if missing) that may use the "
        "admin API under /admin/realms: with the scope admin (every operation) or, with "
        "--read-only, admin.read (reading only). It gets its access token from "
        "/realms/master/protocol/openid-connect/token with client credentials, as Keycloak's "
        "admin clients do.",
    )
    acreate.add_argument("client_id")
    acreate.add_argument(
        "--read-only", action="store_true", help="the admin.read scope only: no changes"
    )
    acreate.add_argument("--json", action="store_true", help="print the new client as JSON")

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
        "--require-dpop",
        action="store_true",
        help="refuse token requests without a DPoP proof: every access token is bound to the "
        "client's key (RFC 9449)",
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
        "--resource",
        action="append",
        default=[],
        metavar="URI",
        help="an absolute URI the client may name as an RFC 8707 resource indicator, which "
        "then becomes its tokens' aud (repeatable; its --audience is always allowed)",
    )
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
    keys.add_argument(
        "--federated-only",
        action="store_true",
        help="no secret and no keys: the client authenticates only with its platform's token "
        "(add a credential with 'tokensmith client federate')",
    )
    ccreate.add_argument("--json", action="store_true", help="print a JSON object")
    clist = csub.add_parser(parents=[common], name="list", help="list a realm's clients")
    clist.add_argument("realm")
    clist.add_argument("--json", action="store_true", help=JSON_HELP)
    for action, text in (
        ("show", "show a client and its secrets' expiry"),
        ("disable", "refuse the client's requests from now on"),
        ("enable", "accept the client's requests again"),
        ("delete", "delete the client, its secrets and refresh tokens"),
    ):
        p = csub.add_parser(action, parents=[common], help=text)
        p.add_argument("realm")
        p.add_argument("client_id")
        if action == "show":
            p.add_argument("--json", action="store_true", help=JSON_HELP)
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
    klist = ksub.add_parser(
        parents=[common],
        name="list",
        help="list the realm's signing keys: retired, previous, current, next",
    )
    klist.add_argument("realm")
    klist.add_argument("--json", action="store_true", help=JSON_HELP)
    krotate = ksub.add_parser(
        parents=[common],
        name="rotate",
        help="promote the next key to current and make a new next key",
    )
    krotate.add_argument("realm")
    add_federation_parsers(csub, common)
    add_issuer_parsers(sub, common)
