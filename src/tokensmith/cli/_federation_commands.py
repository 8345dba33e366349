"""``tokensmith client federate|federations|unfederate``: the federated credentials that let a
client authenticate with its platform's token (Kubernetes, GitHub Actions, GitLab CI, SPIFFE)
instead of a secret."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ._admin_output import print_json
from ._args import JSON_HELP

if TYPE_CHECKING:
    from ..server import Admin
    from ..store import FederatedCredential


def add_parsers(csub: Any, common: argparse.ArgumentParser) -> None:
    """Register the federation commands under ``client``."""
    federate = csub.add_parser(
        "federate",
        parents=[common],
        help="let the client authenticate with a trusted issuer's token (no secret)",
    )
    federate.add_argument("realm")
    federate.add_argument("client_id")
    federate.add_argument(
        "--issuer",
        required=True,
        metavar="URL",
        help="a trusted issuer of the realm (tokensmith issuer add … --profile …)",
    )
    match = federate.add_mutually_exclusive_group(required=True)
    match.add_argument("--subject", metavar="SUB", help="the exact sub its tokens must have")
    match.add_argument(
        "--condition",
        metavar="CEL",
        help="a CEL condition over the token's claims, e.g. "
        '\'claims.sub.startsWith("repo:acme/deploy:") && claims.ref == "refs/heads/main"\'',
    )
    federate.add_argument(
        "--name", help="the credential's name (default: the issuer's profile and a number)"
    )
    lst = csub.add_parser(
        "federations", parents=[common], help="list the federated credentials of a realm's clients"
    )
    lst.add_argument("realm")
    lst.add_argument("client_id", nargs="?", help="only this client's")
    lst.add_argument("--json", action="store_true", help=JSON_HELP)
    rm = csub.add_parser(
        "unfederate", parents=[common], help="remove a federated credential of a client"
    )
    rm.add_argument("realm")
    rm.add_argument("client_id")
    rm.add_argument("name", help="the credential's name (see 'tokensmith client federations')")


def _json(c: FederatedCredential) -> dict[str, Any]:
    return {
        "client_id": c.client_id,
        "name": c.name,
        "issuer": c.issuer,
        "subject": c.subject,
        "condition": c.condition,
        "created_at": c.created_at,
    }


async def _federate(admin: Admin, args: argparse.Namespace) -> int:
    from ..server import Federation

    added = await Federation(admin).add(
        args.realm,
        args.client_id,
        args.issuer,
        subject=args.subject,
        condition=args.condition,
        name=args.name,
    )
    print(
        f"client {args.client_id} of realm {args.realm} now authenticates with tokens of "
        f"{args.issuer} (credential {added.name})"
    )
    return 0


async def _federations(admin: Admin, args: argparse.Namespace) -> int:
    from ..server import Federation

    found = await Federation(admin).credentials(args.realm, args.client_id)
    if args.json:
        print_json([_json(c) for c in found])
        return 0
    if not found:
        print("no federated credentials")
        return 0
    for c in found:
        match = f"sub={c.subject}" if c.subject is not None else f"condition={c.condition}"
        print(f"{c.client_id}  {c.name}  {c.issuer}  {match}")
    return 0


async def _unfederate(admin: Admin, args: argparse.Namespace) -> int:
    from ..server import Federation

    await Federation(admin).remove(args.realm, args.client_id, args.name)
    print(f"removed federated credential {args.name} of client {args.client_id}")
    return 0


HANDLERS: dict[tuple[str, str], Any] = {
    ("client", "federate"): _federate,
    ("client", "federations"): _federations,
    ("client", "unfederate"): _unfederate,
}
