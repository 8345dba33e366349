"""The tokensmith command line, run as a user runs it: ``python -m tokensmith`` as a process for
the entry point, the commands in this process (``run_cli``) with the same arguments, directory
and environment, since a new interpreter costs two seconds a command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .cli_run import CliRun, run_cli


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSMITH_")}
    env["TOKENSMITH_DATABASE_URL"] = f"sqlite:///{tmp_path / 'cli.db'}"
    return env


def tokensmith(tmp_path: Path, *args: str) -> CliRun:
    return run_cli(*args, cwd=tmp_path, env=_env(tmp_path))


def upgrade(tmp_path: Path) -> None:
    """Create the schema in the directory's database, as an operator does before admin commands."""
    done = tokensmith(tmp_path, "db", "upgrade")
    assert done.returncode == 0, done.stderr


def tokensmith_process(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tokensmith", *args],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        cwd=tmp_path,
        timeout=60,
    )


def test_realm_client_and_key_lifecycle(tmp_path: Path) -> None:
    """Create a realm and a client, list and show them, rotate secret and keys, delete."""
    upgrade(tmp_path)
    created = tokensmith(
        tmp_path,
        "realm",
        "create",
        "acme",
        "--access-token-ttl",
        "5m",
        "--token-path",
        "/connect/token",
        "--response-style",
        "pascal",
    )
    client = tokensmith(
        tmp_path,
        "client",
        "create",
        "acme",
        "svc",
        "--scope",
        "a b",
        "--default-scope",
        "a",
        "--refresh-tokens",
        "--json",
    )
    listed = tokensmith(tmp_path, "realm", "list")
    shown = tokensmith(tmp_path, "client", "show", "acme", "svc")
    rotated = tokensmith(tmp_path, "client", "rotate-secret", "acme", "svc", "--grace", "24h")
    shown_after = tokensmith(tmp_path, "client", "show", "acme", "svc")
    keys_before = tokensmith(tmp_path, "key", "list", "acme")
    key_rotated = tokensmith(tmp_path, "key", "rotate", "acme")
    keys_after = tokensmith(tmp_path, "key", "list", "acme")
    deleted = tokensmith(tmp_path, "realm", "delete", "acme", "--force")

    assert created.returncode == 0, created.stderr
    assert "access token ttl:  300s" in created.stdout
    data = json.loads(client.stdout)
    assert len(data["client_secret"]) == 43
    assert data["scope"] == "a b"
    assert data["default_scope"] == "a"
    assert "acme" in listed.stdout
    assert "/connect/token" in listed.stdout
    assert data["client_secret"] not in shown.stdout
    assert "no expiry" in shown.stdout
    assert "client_secret: " in rotated.stdout
    assert shown_after.stdout.count("#") == 2
    assert "expires" in shown_after.stdout
    assert keys_before.stdout.count("current") == 1
    assert "now signing with" in key_rotated.stdout
    assert "previous" in keys_after.stdout
    assert deleted.returncode == 0
    assert "no realms yet" in tokensmith(tmp_path, "realm", "list").stdout


def test_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    """Unknown realms, duplicates and bad arguments print a message and exit non-zero."""
    upgrade(tmp_path)
    tokensmith(tmp_path, "realm", "create", "acme")
    cases = [
        tokensmith(tmp_path, "realm", "create", "acme"),
        tokensmith(tmp_path, "client", "list", "nope"),
        tokensmith(tmp_path, "realm", "create", "bad name"),
        tokensmith(
            tmp_path, "client", "create", "acme", "c", "--scope", "a", "--default-scope", "b"
        ),
        tokensmith(tmp_path, "realm", "create", "x", "--access-token-ttl", "soon"),
        tokensmith(tmp_path, "realm", "show", "acme", "--database", "mysql://x/y"),
    ]

    for result in cases:
        assert result.returncode != 0
        assert "Traceback" not in result.stderr
        assert "error" in result.stderr


def test_help_explains_every_command(tmp_path: Path) -> None:
    """`python -m tokensmith --help` lists the commands; no command prints help with exit 2."""
    top = tokensmith_process(tmp_path, "--help")
    bare = tokensmith_process(tmp_path)

    for command in ("serve", "realm", "client", "key"):
        assert command in top.stdout
    assert bare.returncode == 2


def test_master_key_file_is_private(tmp_path: Path) -> None:
    """The master key file created beside the database is readable by its owner only."""
    upgrade(tmp_path)
    tokensmith(tmp_path, "realm", "create", "acme")

    mode = (tmp_path / "cli.db.key").stat().st_mode & 0o777

    assert mode == 0o600


def test_issuer_commands_and_demo_token(tmp_path: Path) -> None:
    """issuer add/list/remove manage trust; add-demo and demo-token make usable id_tokens."""
    upgrade(tmp_path)
    tokensmith(tmp_path, "realm", "create", "gbg")
    jwks = tmp_path / "jwks.json"
    jwks.write_text('{"keys": []}')

    added = tokensmith(
        tmp_path,
        "issuer",
        "add",
        "gbg",
        "https://sso.example",
        "--jwks-file",
        str(jwks),
        "--audience",
        "gbg-api",
        "--claim",
        "email",
    )
    demo = tokensmith(tmp_path, "issuer", "add-demo", "gbg")
    listed = tokensmith(tmp_path, "issuer", "list", "gbg")
    token = tokensmith(tmp_path, "issuer", "demo-token", "gbg", "--sub", "alice")
    removed = tokensmith(tmp_path, "issuer", "remove", "gbg", "https://sso.example")
    again = tokensmith(tmp_path, "issuer", "remove", "gbg", "https://sso.example")
    client = tokensmith(
        tmp_path,
        "client",
        "create",
        "gbg",
        "ro.client",
        "--grant",
        "id_auth",
        "--claim",
        "tenant=acme",
        "--audience",
        "gbg-api",
    )
    shown = tokensmith(tmp_path, "client", "show", "gbg", "ro.client")

    assert added.returncode == 0, added.stderr
    assert demo.returncode == 0, demo.stderr
    assert "https://sso.example" in listed.stdout
    assert "demo" in listed.stdout
    assert token.stdout.count(".") == 2
    assert removed.returncode == 0
    assert again.returncode == 1
    assert "does not trust" in again.stderr
    assert client.returncode == 0, client.stderr
    assert "id_auth" in shown.stdout
    assert '"tenant": "acme"' in shown.stdout


def test_short_chosen_secret_is_warned_about(tmp_path: Path) -> None:
    """A short person-chosen secret is accepted with a warning that says why generated secrets
    are the default; a long one, and a generated one, get no warning."""
    upgrade(tmp_path)
    tokensmith(tmp_path, "realm", "create", "acme")

    short = tokensmith(tmp_path, "client", "create", "acme", "a", "--secret", "x")
    long = tokensmith(tmp_path, "client", "create", "acme", "b", "--secret", "k" * 24)
    generated = tokensmith(tmp_path, "client", "create", "acme", "c")
    rotated = tokensmith(tmp_path, "client", "rotate-secret", "acme", "c", "--secret", "short")

    assert short.returncode == 0, short.stderr
    assert "warning: the secret you chose has 1 characters" in short.stderr
    assert "256-bit" in short.stderr
    assert "warning" not in long.stderr
    assert "warning" not in generated.stderr
    assert "warning: the secret you chose has 5 characters" in rotated.stderr


def test_a_jwks_file_that_is_not_an_object_is_a_one_line_error(tmp_path: Path) -> None:
    """`issuer add --jwks-file` and `client create --jwks-file` refuse a JSON array alike."""
    upgrade(tmp_path)
    tokensmith(tmp_path, "realm", "create", "gbg")
    jwks = tmp_path / "jwks.json"
    jwks.write_text("[1]")

    issuer = tokensmith(
        tmp_path, "issuer", "add", "gbg", "https://sso.example", "--jwks-file", str(jwks)
    )
    client = tokensmith(tmp_path, "client", "create", "gbg", "svc", "--jwks-file", str(jwks))

    for result in (issuer, client):
        assert (result.returncode, result.stderr) == (1, f"error: {jwks} is not a JWKS document\n")


def test_a_malformed_environment_variable_exits_2_naming_it(tmp_path: Path) -> None:
    """A TOKENSMITH_* setting that is not a number is named in one line, with exit status 2."""
    env = {**os.environ, "TOKENSMITH_POLL_INTERVAL": "often"}

    result = subprocess.run(
        [sys.executable, "-m", "tokensmith", "realm", "list"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )

    assert (result.returncode, result.stderr) == (
        2,
        "error: TOKENSMITH_POLL_INTERVAL: 'often' is not a positive number of seconds\n",
    )
