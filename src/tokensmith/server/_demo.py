"""Demo mode: realms that mirror the three vendors' documentation, with the documented credentials,
so that their curl examples work unchanged against a local service."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from ..store import Conflict
from ._admin import Admin
from ._trust import Trust

SED = 'sed \'s/.*access_token":"\\([^"]*\\).*/\\1/\''


@dataclass(frozen=True)
class DemoRealm:
    """A demo realm and its one client."""

    realm: str
    client_id: str
    secret: str
    access_token_ttl: int = 300
    refresh_token_ttl: int = 1800
    token_paths: tuple[str, ...] = ()
    response_style: str = "standard"
    scopes: str = ""
    refresh_tokens: bool = False
    grant_types: tuple[str, ...] = ()
    demo_issuer: bool = False


DEMO_REALMS = (
    # Truphone / 1GLOBAL Connect: Keycloak realm, 5-minute tokens, 30-minute refresh tokens.
    DemoRealm("tru-staff", "truphone", "xxxxxx-xxxx-43f3-9fba-85686d72c1c0", refresh_tokens=True),
    # Trulioo: /connect/token, PascalCase answer, one-hour tokens.
    DemoRealm(
        "trulioo",
        "12345x2e0",
        "12345;",
        access_token_ttl=3600,
        token_paths=("/connect/token",),
        response_style="pascal",
        scopes="workflow.studio.api",
    ),
    # GBG: /authenticate/v1/connect/token, scopes api and api2.
    DemoRealm(
        "gbg",
        "ro.client",
        "secret",
        token_paths=("/authenticate/v1/connect/token",),
        scopes="api api2",
        grant_types=("id_auth",),
        demo_issuer=True,
    ),
)


async def ensure_demo(admin: Admin) -> list[str]:
    """Create the demo realms and clients that are missing; returns the names created."""
    created: list[str] = []
    for demo in DEMO_REALMS:
        try:
            await admin.create_realm(
                demo.realm,
                access_token_ttl=demo.access_token_ttl,
                refresh_token_ttl=demo.refresh_token_ttl,
                token_paths=demo.token_paths,
                response_style=demo.response_style,
            )
            created.append(demo.realm)
        except Conflict:
            pass
        with contextlib.suppress(Conflict):
            await admin.create_client(
                demo.realm,
                demo.client_id,
                secret=demo.secret,
                scopes=demo.scopes,
                refresh_tokens=demo.refresh_tokens,
                grant_types=demo.grant_types,
            )
        if demo.demo_issuer:
            with contextlib.suppress(Conflict):
                await Trust(admin).add_demo(demo.realm)
    return created


def demo_instructions(base_url: str) -> str:
    """Ready-to-paste commands for the demo realms at ``base_url``."""
    tru, trulioo, gbg = DEMO_REALMS
    token_url = f"{base_url}/auth/realms/{tru.realm}/protocol/openid-connect/token"
    creds = f"client_id={tru.client_id}&client_secret={tru.secret}"
    return f"""\
Demo realms are ready (the vendors' documented credentials work as written):

  # Truphone / 1GLOBAL: get a token (realm {tru.realm}, {tru.access_token_ttl} s)
  export ACCESS_TOKEN=`curl -s --data "grant_type=client_credentials&{creds}" \\
    {token_url} | {SED}`
  echo $ACCESS_TOKEN

  # ... refresh it with the refresh token of the first answer
  REFRESH=`curl -s --data "grant_type=client_credentials&{creds}" {token_url} \\
    | sed 's/.*refresh_token":"\\([^"]*\\).*/\\1/'`
  curl -s --data "grant_type=refresh_token&refresh_token=$REFRESH&{creds}" {token_url}

  # ... and check it against the realm's JWKS
  curl -s {base_url}/realms/{tru.realm}/protocol/openid-connect/certs

  # Trulioo (PascalCase answer at /connect/token)
  curl -s --data "grant_type=client_credentials&scope={trulioo.scopes}" \\
    --data "client_id={trulioo.client_id}&client_secret=12345%3B" {base_url}{trulioo.token_paths[0]}

  # GBG: the seed's id_auth request, with an id_token from the realm's demo SSO issuer
  export ID_TOKEN=`tokensmith issuer demo-token {gbg.realm} --sub alice`
  curl -s -X POST -H 'Content-Type: application/x-www-form-urlencoded' \\
    -d 'client_id={gbg.client_id}' -d 'grant_type=id_auth' -d 'client_secret={gbg.secret}' \\
    -d 'scope={gbg.scopes}' -d "id_token=$ID_TOKEN" {base_url}{gbg.token_paths[0]}
"""
