"""What the admin commands print: realms, clients, keys, new secrets and tables, and the JSON
objects of ``--json`` (their keys are documented in the README and kept stable). Secrets are
printed only by :func:`print_new_secret`, once, when tokensmith generated them; no JSON object
holds a secret, a digest or a private key."""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..server import NewClient
    from ..store import Client, Realm, SigningKeyRecord, TrustedIssuer


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
    elif new.secret is None and getattr(args, "federated_only", False):
        print(
            "authentication: federated only (no secret); add a credential with: "
            f"tokensmith client federate {args.realm} {c.client_id} --issuer URL --subject SUB"
        )
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
    if not c.secrets and not (c.jwks or c.jwks_url):
        print(
            "authentication:  federated credentials only (tokensmith client federations "
            f"REALM {c.client_id})"
        )
        return
    print("secrets:")
    for s in c.secrets:
        kind = "generated, sha256" if s.digest.startswith("sha256$") else "chosen, argon2id"
        expiry = f"expires {when(s.expires_at)}" if s.expires_at else "no expiry"
        print(f"  #{s.id}  created {when(s.created_at)}  {expiry}  ({kind})")


KEY_ROLES = ("retired", "previous", "current", "next")
"""The states of a signing key in the order of its life, the order keys are listed in."""


def in_role_order(keys: Sequence[SigningKeyRecord]) -> list[SigningKeyRecord]:
    """``keys`` by role (retired, previous, current, next), then by date: when a key stopped
    signing (previous and retired keys; keys made together stop one rotation apart), else when
    it was made."""

    def order(k: SigningKeyRecord) -> tuple[int, int, int, str]:
        role = KEY_ROLES.index(k.state) if k.state in KEY_ROLES else len(KEY_ROLES)
        return role, k.stopped_at or k.created_at, k.created_at, k.kid

    return sorted(keys, key=order)


def print_json(data: object) -> None:
    """Print ``data`` as indented JSON."""
    print(json.dumps(data, indent=2))


def realm_json(realm: Realm) -> dict[str, Any]:
    """The realm's settings as ``realm list --json`` and ``realm show --json`` print them: the
    values in effect; null for a rate limit means the service's."""
    return {
        "name": realm.name,
        "alg": realm.alg,
        "access_token_ttl": realm.access_token_ttl,
        "refresh_token_ttl": realm.refresh_token_ttl,
        "response_style": realm.response_style,
        "audience": realm.audience or realm.name,
        "token_paths": list(realm.token_paths),
        "cors_origins": list(realm.cors_origins),
        "refresh_reuse_grace": realm.reuse_grace,
        "client_auth_limit": realm.client_auth_limit,
        "address_auth_limit": realm.address_auth_limit,
        "max_assertion_lifetime": realm.assertion_lifetime,
        "created_at": iso(realm.created_at),
    }


def client_json(realm: str, c: Client) -> dict[str, Any]:
    """The client as ``client list --json`` and ``client show --json`` print it: its settings
    (null: the realm's) and when each secret was made and expires, never a secret or digest."""
    return {
        "realm": realm,
        "client_id": c.client_id,
        "enabled": c.enabled,
        "scope": " ".join(sorted(c.scopes)),
        "default_scope": " ".join(sorted(c.default_scopes)),
        "refresh_tokens": c.refresh_tokens,
        "grant_types": sorted(c.grant_types),
        "audience": c.audience,
        "resources": sorted(c.resources),
        "extra_claims": c.static_claims,
        "access_token_ttl": c.access_token_ttl,
        "response_style": c.response_style,
        "authentication": "private_key_jwt"
        if c.jwks or c.jwks_url
        else "client_secret"
        if c.secrets
        else "federated",
        "jwks_url": c.jwks_url,
        "secrets": [
            {
                "id": s.id,
                "kind": "generated" if s.digest.startswith("sha256$") else "chosen",
                "created_at": iso(s.created_at),
                "expires_at": iso(s.expires_at) if s.expires_at else None,
            }
            for s in c.secrets
        ],
    }


def key_json(k: SigningKeyRecord) -> dict[str, Any]:
    """A signing key as ``key list --json`` prints it (its public part only: the kid)."""
    return {
        "kid": k.kid,
        "state": k.state,
        "alg": k.alg,
        "created_at": iso(k.created_at),
        "stopped_at": iso(k.stopped_at) if k.stopped_at else None,
    }


def issuer_json(t: TrustedIssuer) -> dict[str, Any]:
    """A trusted issuer as ``issuer list --json`` prints it (never the demo issuer's key)."""
    return {
        "issuer": t.issuer,
        "keys": "url" if t.jwks_url else "inline" if t.jwks else "discovery",
        "jwks_url": t.jwks_url,
        "audiences": sorted(t.audiences),
        "algorithms": list(t.algorithms),
        "max_age": t.max_age,
        "claims": list(t.claims),
        "demo": t.private_key is not None,
        "profile": t.profile,
        "client_audience": t.client_audience,
        "ca_file": t.ca_file,
    }


def iso(ts: int) -> str:
    """``ts`` (Unix seconds) as an RFC 3339 UTC time, ``2026-11-25T09:30:00Z``."""
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def when(ts: int) -> str:
    """``ts`` (Unix seconds) as a UTC date and time."""
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def table(rows: Sequence[Sequence[str]]) -> None:
    """Print ``rows`` (the first is the heading) in columns two spaces apart."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
