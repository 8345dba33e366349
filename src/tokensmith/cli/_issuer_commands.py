"""``tokensmith issuer …``: the external issuers a realm trusts (id_auth, token exchange,
jwt-bearer, federated client authentication), and demo id_tokens."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..oauth import DEFAULT_EXTERNAL_ALGORITHMS
from ..server._profiles import PROFILE_NAMES
from ._admin_output import issuer_json, print_json
from ._args import JSON_HELP, duration, read_jwks

if TYPE_CHECKING:
    from ..server import Admin


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register the issuer commands."""
    issuer = sub.add_parser("issuer", help="trust external token issuers (SSO providers)")
    isub = issuer.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = isub.add_parser("add", parents=[common], help="trust tokens signed by an issuer")
    add.add_argument("realm")
    add.add_argument(
        "issuer",
        nargs="?",
        help="the issuer URL, as in the tokens' iss claim (a SPIFFE trust domain, "
        "spiffe://example.org, for --profile spiffe; default: the profile's, for "
        "github-actions and gitlab-ci)",
    )
    add.add_argument(
        "--profile",
        choices=PROFILE_NAMES,
        default="oidc",
        help="the platform, whose quirks apply: kubernetes (keys at /openid/v1/jwks, tokens "
        "reused), github-actions, gitlab-ci, spiffe (trust bundle, SPIFFE ID subjects) or oidc "
        "(default)",
    )
    add.add_argument(
        "--client-audience",
        metavar="AUD",
        help="the aud its tokens must name to authenticate a client, e.g. "
        "api://AzureADTokenExchange (default: this service's token endpoint or issuer URL)",
    )
    add.add_argument(
        "--ca-file",
        metavar="PEM",
        type=lambda path: str(Path(path).resolve()),
        help="fetch its keys trusting this CA bundle (e.g. the Kubernetes cluster's ca.crt)",
    )
    keys = add.add_mutually_exclusive_group()
    keys.add_argument("--jwks-url", metavar="URL", help="where its keys are (default: discovery)")
    keys.add_argument("--jwks-file", metavar="FILE", type=Path, help="its keys, a JWKS JSON file")
    add.add_argument(
        "--audience",
        action="append",
        default=[],
        metavar="AUD",
        help="an accepted aud of its tokens (repeatable; default: any)",
    )
    add.add_argument(
        "--alg",
        action="append",
        default=[],
        metavar="ALG",
        help="an accepted algorithm (repeatable; default: the profile's, "
        + " and ".join(DEFAULT_EXTERNAL_ALGORITHMS)
        + " for oidc)",
    )
    add.add_argument(
        "--max-age",
        type=duration,
        default=None,
        metavar="S",
        help="refuse tokens issued longer ago than this (default: the profile's, 1h for oidc)",
    )
    add.add_argument(
        "--claim",
        action="append",
        default=[],
        metavar="NAME",
        help="copy this claim of its tokens into the access token (repeatable)",
    )
    lst = isub.add_parser("list", parents=[common], help="list the issuers a realm trusts")
    lst.add_argument("realm")
    lst.add_argument("--json", action="store_true", help=JSON_HELP)
    rm = isub.add_parser("remove", parents=[common], help="stop trusting an issuer")
    rm.add_argument("realm")
    rm.add_argument("issuer")
    demo = isub.add_parser(
        "add-demo", parents=[common], help="add a demo issuer whose key tokensmith holds"
    )
    demo.add_argument("realm")
    token = isub.add_parser(
        "demo-token", parents=[common], help="print an id_token from the realm's demo issuer"
    )
    token.add_argument("realm")
    token.add_argument("--sub", required=True, help="the subject (user) of the id_token")
    token.add_argument(
        "--ttl", type=duration, default=300, metavar="S", help="lifetime (default 300 s)"
    )
    token.add_argument("--email", help="an email claim to include")


async def _add(admin: Admin, args: argparse.Namespace) -> int:
    from ..server import AdminError, Trust
    from ..server._profiles import PROFILES

    profile = PROFILES[args.profile]
    issuer = args.issuer or profile.issuer
    if issuer is None:
        raise AdminError(f"give the issuer URL of the {profile.name} issuer")
    await Trust(admin).add(
        args.realm,
        issuer,
        jwks_url=args.jwks_url,
        jwks=read_jwks(args.jwks_file),
        audiences=args.audience,
        algorithms=args.alg or profile.algorithms,
        max_age=args.max_age if args.max_age is not None else profile.max_age,
        claims=args.claim,
        profile=profile.name,
        client_audience=args.client_audience,
        ca_file=args.ca_file,
    )
    print(f"realm {args.realm} now trusts {issuer} ({profile.name})")
    return 0


async def _list(admin: Admin, args: argparse.Namespace) -> int:
    from ..server import Trust

    trusted = await Trust(admin).issuers(args.realm)
    if args.json:
        print_json([issuer_json(t) for t in trusted])
        return 0
    if not trusted:
        print(f"realm {args.realm} trusts no external issuer")
        return 0
    for t in trusted:
        keys = t.jwks_url or ("inline keys" if t.jwks else "keys by discovery")
        demo = "  (demo: tokensmith holds its key)" if t.private_key else ""
        if t.client_audience:
            demo += f"  client-aud={t.client_audience}"
        if t.ca_file:
            demo += f"  ca-file={t.ca_file}"
        print(
            f"{t.issuer}  {t.profile}  {keys}  aud={' '.join(sorted(t.audiences)) or 'any'}  "
            f"algs={' '.join(t.algorithms)}  max-age={t.max_age}s  "
            f"claims={' '.join(t.claims) or '-'}{demo}"
        )
    return 0


async def _remove(admin: Admin, args: argparse.Namespace) -> int:
    from ..server import Trust

    await Trust(admin).remove(args.realm, args.issuer)
    print(f"realm {args.realm} no longer trusts {args.issuer}")
    return 0


async def _add_demo(admin: Admin, args: argparse.Namespace) -> int:
    from ..server import DEMO_ISSUER, Trust

    await Trust(admin).add_demo(args.realm)
    print(
        f"realm {args.realm} now trusts the demo issuer {DEMO_ISSUER}; "
        f"make an id_token with: tokensmith issuer demo-token {args.realm} --sub alice"
    )
    return 0


async def _demo_token(admin: Admin, args: argparse.Namespace) -> int:
    from ..server import Trust

    claims = {"email": args.email} if args.email else None
    print(await Trust(admin).demo_token(args.realm, sub=args.sub, ttl=args.ttl, claims=claims))
    return 0


HANDLERS: dict[tuple[str, str], Any] = {
    ("issuer", "add"): _add,
    ("issuer", "list"): _list,
    ("issuer", "remove"): _remove,
    ("issuer", "add-demo"): _add_demo,
    ("issuer", "demo-token"): _demo_token,
}
