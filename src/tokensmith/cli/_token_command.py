"""``tokensmith token``: get an access token, replacing the vendors' ``curl … | sed …``."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any

from ..oauth import ConfigurationError


def add_parser(sub: Any) -> None:
    """Register ``tokensmith token``."""
    p = sub.add_parser(
        "token",
        help="get an access token from any OAuth 2.0 token endpoint",
        description="Print an access token (by default the bare token, for $(…) in scripts).",
    )
    p.add_argument("--profile", metavar="NAME", help="read the settings below from a profile")
    p.add_argument("--token-url", metavar="URL", help="the token endpoint")
    p.add_argument("--client-id", metavar="ID")
    secret = p.add_mutually_exclusive_group()
    secret.add_argument(
        "--client-secret-env",
        metavar="VAR",
        help="read the client secret from this environment variable "
        "(without this or --client-secret-stdin, and without a profile secret, you are "
        "prompted at a terminal)",
    )
    secret.add_argument(
        "--client-secret-stdin",
        action="store_true",
        help="read the client secret from standard input: one line, e.g. from a secrets "
        "manager's command through a pipe, or a file with < (at a terminal: a prompt that "
        "does not echo)",
    )
    secret.add_argument(
        "--federated",
        metavar="SOURCE",
        help="no secret: authenticate with this platform's token (a client with a federated "
        "credential): kubernetes (the projected token at /var/run/secrets/tokens/tokensmith), "
        "github-actions (the job's OIDC token, for --audience or the token URL), file:PATH or "
        "spiffe:PATH",
    )
    p.add_argument(
        "--audience",
        metavar="AUD",
        help="with --federated github-actions: the aud to ask GitHub for (default: the token URL)",
    )
    p.add_argument("--scope", help='scopes, space-separated, e.g. "api api2"')
    p.add_argument(
        "--grant",
        default=None,
        help="client_credentials (default), refresh_token, or another grant type",
    )
    p.add_argument("--basic", action="store_true", help="send the credentials with HTTP Basic")
    p.add_argument("--pascal", action="store_true", help="read a PascalCase answer (Trulioo)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--header", action="store_true", help="print 'Authorization: Bearer …'")
    out.add_argument("--json", action="store_true", help="print the whole token response")
    out.add_argument("--decode", action="store_true", help="print the JWT's claims (unverified)")


def run(args: argparse.Namespace) -> int:
    """Get and print the token; returns the exit status."""
    # Imported here, not above: `tokensmith --help` and the other commands need no client.
    from ..client import (
        PASCAL,
        STANDARD,
        Secret,
        TokenSource,
        grant_named,
        load_profile,
        platform_token,
        secret_from_env,
    )
    from ..oauth import jwt_claims

    given = bool(args.client_secret_env or args.client_secret_stdin or args.federated)
    options: dict[str, Any] = load_profile(args.profile, secret=not given) if args.profile else {}
    if args.token_url:
        options["token_url"] = args.token_url
    if args.client_id:
        options["client_id"] = args.client_id
    if "token_url" not in options:
        raise ConfigurationError("give --token-url or --profile")
    if args.client_secret_env:
        options["client_secret"] = secret_from_env(args.client_secret_env)
    elif args.client_secret_stdin:
        options["client_secret"] = Secret(_secret_from_stdin())
    elif args.federated:
        options.pop("client_secret", None)
        options["platform_token"] = platform_token(
            args.federated, audience=args.audience or options["token_url"]
        )
    elif "client_secret" not in options and options.get("client_id"):
        if not sys.stdin.isatty():
            raise ConfigurationError(
                "no client secret: use --client-secret-env VAR, --client-secret-stdin or a "
                "profile (there is no terminal to prompt on)"
            )
        options["client_secret"] = Secret(getpass.getpass("client secret: "))
    if args.grant or args.scope or "grant" not in options:
        options["grant"] = grant_named(args.grant or "client_credentials", args.scope)
    if args.basic:
        options["auth_method"] = "client_secret_basic"
    if args.pascal:
        options["dialect"] = PASCAL
    options.setdefault("dialect", STANDARD)
    if options.get("platform_token") is not None:
        options["auth_method"] = "federated"
    elif options.get("client_secret") is None:
        options["auth_method"] = "none"
    with TokenSource(retry_unauthorized=False, **options) as source:
        token = source.token()
    if args.json:
        print(json.dumps(token.raw, indent=2))
    elif args.header:
        print(f"Authorization: {token.authorization}")
    elif args.decode:
        claims = jwt_claims(token.access_token)
        if claims is None:
            raise ConfigurationError("the access token is not a JWT; nothing to decode")
        print(json.dumps(claims, indent=2))
    else:
        print(token.access_token)
    return 0


MAX_SECRET = 4096
"""The longest client secret read from standard input, in characters."""


def _secret_from_stdin() -> str:
    """The client secret on standard input: its one line, without the line ending; at a
    terminal, typed at a prompt that does not echo it.

    Raises:
        ConfigurationError: standard input is empty, holds more than one line, or more than
            :data:`MAX_SECRET` characters (never quoting what it holds).
    """
    if sys.stdin.isatty():
        return getpass.getpass("client secret: ")
    text = sys.stdin.read(MAX_SECRET + 3)
    value = text.removesuffix("\n").removesuffix("\r")
    if not value:
        raise ConfigurationError("--client-secret-stdin: standard input holds no client secret")
    if "\n" in value or "\r" in value:
        raise ConfigurationError(
            "--client-secret-stdin: standard input holds more than one line; give the client "
            "secret alone, on one line"
        )
    if len(value) > MAX_SECRET:
        raise ConfigurationError(
            f"--client-secret-stdin: standard input holds more than {MAX_SECRET} characters; "
            "give the client secret alone"
        )
    return value
