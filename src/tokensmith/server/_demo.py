"""Demo mode: realms that mirror the three vendors' documentation, with the documented credentials,
so that their curl examples work unchanged against a local service."""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from ..store import Conflict
from ._admin import Admin
from ._settings import Settings
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


def tokensmith_command() -> list[str]:
    """How a shell without this virtual environment on its PATH runs this very tokensmith: the
    absolute path of the ``tokensmith`` script this process was started as, else this
    interpreter with ``-m tokensmith``."""
    script = sys.argv[0] if sys.argv else ""
    if os.path.basename(script) == "tokensmith" and os.access(script, os.X_OK):
        return [os.path.abspath(script)]
    return [sys.executable, "-m", "tokensmith"]


def admin_command(settings: Settings, *args: str) -> tuple[str, list[str]]:
    """The shell command that runs ``tokensmith ARGS`` on the database and master key of
    ``settings`` from any directory, and notes on what it cannot carry (a password or a master
    key given in the environment are never printed: the shell must have them too)."""
    notes = []
    env = []
    words = [*tokensmith_command(), *args]
    url = make_url(settings.database_url)
    if url.password is not None:
        database = '"$TOKENSMITH_DATABASE_URL"'
        notes.append("this shell needs TOKENSMITH_DATABASE_URL, as the service has it")
    else:
        db_file = (
            Path(url.database) if url.get_backend_name() == "sqlite" and url.database else None
        )
        if db_file is not None and db_file.name != ":memory:":
            url = url.set(database=str(db_file.absolute()))
        database = shlex.quote(url.render_as_string(hide_password=False))
    if settings.master_key:
        notes.append("this shell needs TOKENSMITH_MASTER_KEY, as the service has it")
    elif settings.master_key_file is not None or url.get_backend_name() != "sqlite":
        # Beside an absolute SQLite path the default key file is found; elsewhere name it.
        env.append(f"TOKENSMITH_MASTER_KEY_FILE={shlex.quote(str(settings.key_file().absolute()))}")
    command = " ".join([*env, *map(shlex.quote, words), "--database", database])
    return command, notes


def demo_instructions(base_url: str, settings: Settings | None = None) -> str:
    """Ready-to-paste commands for the demo realms at ``base_url``, which work in a fresh shell:
    the one that runs tokensmith names it by its path and the database of ``settings`` (by
    default, the default settings) by an absolute path."""
    tru, trulioo, gbg = DEMO_REALMS
    token_url = f"{base_url}/auth/realms/{tru.realm}/protocol/openid-connect/token"
    creds = f"client_id={tru.client_id}&client_secret={tru.secret}"
    demo_token, notes = admin_command(
        settings or Settings(), "issuer", "demo-token", gbg.realm, "--sub", "alice"
    )
    needs = "".join(f"\n  # ({note})" for note in notes)
    settings = settings or Settings()
    make_admin, _ = admin_command(settings, "admin", "create-client", "ops")
    console = (
        f"\n  The admin console: {base_url}/console/ (sign in with an admin client: {make_admin})"
        if settings.console
        else ""
    )
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

  # GBG: the seed's id_auth request, with an id_token from the realm's demo SSO issuer{needs}
  export ID_TOKEN=`{demo_token}`
  curl -s -X POST -H 'Content-Type: application/x-www-form-urlencoded' \\
    -d 'client_id={gbg.client_id}' -d 'grant_type=id_auth' -d 'client_secret={gbg.secret}' \\
    -d 'scope={gbg.scopes}' -d "id_token=$ID_TOKEN" {base_url}{gbg.token_paths[0]}

  The API reference: {base_url}/docs (OpenAPI 3.1 at {base_url}/openapi.json){console}
"""
