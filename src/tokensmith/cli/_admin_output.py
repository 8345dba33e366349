"""What the admin commands print: realms, clients, new secrets and tables. Secrets are printed
only by :func:`print_new_secret`, once, when tokensmith generated them."""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..server import NewClient
    from ..store import Client, Realm


SHORT_SECRET = 20
"""Person-chosen secrets shorter than this get a warning: guessable offline from a leaked hash."""


def print_new_secret(args: argparse.Namespace, new: NewClient, what: str) -> None:
    """Print a created or re-secreted client: its generated secret (once), as JSON with
    ``--json``; warn on stderr when a person chose a short secret."""
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


def print_realm(realm: Realm) -> None:
    """Print the realm's settings, one per line."""
    print(f"realm:             {realm.name}")
    print(f"algorithm:         {realm.alg}")
    print(f"access token ttl:  {realm.access_token_ttl}s")
    print(f"refresh token ttl: {realm.refresh_token_ttl}s")
    print(f"response style:    {realm.response_style}")
    print(f"audience:          {realm.audience or realm.name}")
    print(f"token paths:       {' '.join(realm.token_paths) or '-'}")
    print(f"cors origins:      {' '.join(realm.cors_origins) or '-'}")
    default = " (service default)" if realm.refresh_reuse_grace is None else ""
    print(f"refresh grace:     {realm.reuse_grace}s{default}")
    print(f"client limit:      {realm.client_auth_limit or 'service default'}")
    print(f"address limit:     {realm.address_auth_limit or 'service default'}")
    default = " (service default)" if realm.max_assertion_lifetime is None else ""
    print(f"assertion life:    {realm.assertion_lifetime}s{default}")


def print_client(c: Client) -> None:
    """Print the client's settings and when its secrets were made and expire (never a digest)."""
    print(f"client id:       {c.client_id}")
    print(f"enabled:         {'yes' if c.enabled else 'no'}")
    print(f"scopes:          {' '.join(sorted(c.scopes)) or '-'}")
    print(f"default scopes:  {' '.join(sorted(c.default_scopes)) or '-'}")
    print(f"refresh tokens:  {'yes' if c.refresh_tokens else 'no'}")
    print(f"extra grants:    {' '.join(sorted(c.grant_types)) or '-'}")
    print(f"audience:        {c.audience or 'realm default'}")
    print(f"resources:       {' '.join(sorted(c.resources)) or '-'}")
    print(f"extra claims:    {c.extra_claims or '-'}")
    print(f"access ttl:      {f'{c.access_token_ttl}s' if c.access_token_ttl else 'realm default'}")
    print(f"response style:  {c.response_style or 'realm default'}")
    print("secrets:")
    for s in c.secrets:
        kind = "generated, sha256" if s.digest.startswith("sha256$") else "chosen, argon2id"
        expiry = f"expires {when(s.expires_at)}" if s.expires_at else "no expiry"
        print(f"  #{s.id}  created {when(s.created_at)}  {expiry}  ({kind})")


def when(ts: int) -> str:
    """``ts`` (Unix seconds) as a UTC date and time."""
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def table(rows: Sequence[Sequence[str]]) -> None:
    """Print ``rows`` (the first is the heading) in columns two spaces apart."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
