"""What the admin commands tell an operator: ``--json`` on every list and show command, a realm
with clients deleted only when confirmed or forced, realm names unique regardless of case,
suggestions for a mistyped realm, and signing keys listed in the order of their life."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import pytest

from tokensmith.cli._admin_output import in_role_order
from tokensmith.cli._main import build_parser
from tokensmith.server._admin_checks import missing_realm
from tokensmith.store import SigningKeyRecord

from .cli_run import CliRun, run_cli

REALM_KEYS = {
    "name",
    "alg",
    "access_token_ttl",
    "refresh_token_ttl",
    "response_style",
    "audience",
    "token_paths",
    "cors_origins",
    "refresh_reuse_grace",
    "client_auth_limit",
    "address_auth_limit",
    "max_assertion_lifetime",
    "created_at",
}
CLIENT_KEYS = {
    "realm",
    "client_id",
    "enabled",
    "scope",
    "default_scope",
    "refresh_tokens",
    "grant_types",
    "audience",
    "resources",
    "extra_claims",
    "access_token_ttl",
    "response_style",
    "authentication",
    "jwks_url",
    "secrets",
}
SECRET_KEYS = {"id", "kind", "created_at", "expires_at"}
KEY_KEYS = {"kid", "state", "alg", "created_at", "stopped_at"}
ISSUER_KEYS = {
    "issuer",
    "keys",
    "jwks_url",
    "audiences",
    "algorithms",
    "max_age",
    "claims",
    "demo",
    "profile",
    "client_audience",
    "ca_file",
}
"""The keys of the JSON objects, as the README documents them: a change here is a change to
what scripts rely on."""


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSMITH_")}
    env["TOKENSMITH_DATABASE_URL"] = f"sqlite:///{tmp_path / 'cli.db'}"
    return env


def tokensmith(tmp_path: Path, *args: str, stdin: TextIO | None = None) -> CliRun:
    return run_cli(*args, cwd=tmp_path, env=_env(tmp_path), stdin=stdin)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A directory whose database has the schema and a realm ``acme``."""
    for args in (("db", "upgrade"), ("realm", "create", "acme")):
        done = tokensmith(tmp_path, *args)
        assert done.returncode == 0, done.stderr
    return tmp_path


def _table(out: str) -> list[list[str]]:
    """The rows of a table the CLI printed, heading left out, cells split on runs of spaces."""
    return [line.split() for line in out.splitlines()[1:]]


def _subcommands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield name, sub
                for deeper, subsub in _subcommands(sub):
                    yield f"{name} {deeper}", subsub


def test_every_list_and_show_command_takes_json() -> None:
    """Each `… list` and `… show` command of the parser has a --json option."""
    commands = {
        name: sub
        for name, sub in _subcommands(build_parser())
        if name.split()[-1] in ("list", "show")
    }

    assert set(commands) >= {
        "realm list",
        "realm show",
        "client list",
        "client show",
        "key list",
        "issuer list",
    }
    for name, sub in commands.items():
        assert "--json" in sub._option_string_actions, f"{name} has no --json"


def test_json_holds_the_tables_facts_and_no_secret(workdir: Path) -> None:
    """Each list and show command prints, with --json, its documented keys holding what the
    table shows; no secret, digest or private key appears."""
    tokensmith(workdir, "realm", "create", "gbg", "--token-path", "/connect/token")
    created = json.loads(
        tokensmith(workdir, "client", "create", "acme", "svc", "--scope", "a", "--json").stdout
    )
    chosen = "a-person-chose-this-secret-1"
    tokensmith(workdir, "client", "create", "acme", "kept", "--secret", chosen, "--claim", "t=1")
    tokensmith(workdir, "client", "rotate-secret", "acme", "svc", "--grace", "1h")
    tokensmith(workdir, "issuer", "add-demo", "acme")
    runs = {
        args: (tokensmith(workdir, *args), tokensmith(workdir, *args, "--json"))
        for args in (
            ("realm", "list"),
            ("realm", "show", "acme"),
            ("client", "list", "acme"),
            ("client", "show", "acme", "svc"),
            ("key", "list", "acme"),
            ("issuer", "list", "acme"),
        )
    }
    data = {args: json.loads(as_json.stdout) for args, (_, as_json) in runs.items()}
    text = {args: as_text.stdout for args, (as_text, _) in runs.items()}

    for as_text, as_json in runs.values():
        assert (as_text.returncode, as_json.returncode) == (0, 0), as_json.stderr
        assert created["client_secret"] not in as_json.stdout
        assert chosen not in as_json.stdout
        for hidden in ("sha256$", "$argon2", "private_key", "BEGIN"):
            assert hidden not in as_json.stdout
    realms = data[("realm", "list")]
    assert [set(r) for r in realms] == [REALM_KEYS, REALM_KEYS]
    assert [
        [
            r["name"],
            r["alg"],
            f"{r['access_token_ttl']}s",
            f"{r['refresh_token_ttl']}s",
            r["response_style"],
            *(r["token_paths"] or ["-"]),
        ]
        for r in realms
    ] == _table(text[("realm", "list")])
    shown = data[("realm", "show", "acme")]
    assert set(shown) == REALM_KEYS | {"clients", "keys"}
    assert shown["clients"] == ["kept", "svc"]
    assert [k["state"] for k in shown["keys"]] == ["current", "next"]
    clients = data[("client", "list", "acme")]
    assert [set(c) for c in clients] == [CLIENT_KEYS, CLIENT_KEYS]
    assert [
        [
            c["client_id"],
            "yes" if c["enabled"] else "no",
            c["scope"] or "-",
            c["default_scope"] or "-",
            "yes" if c["refresh_tokens"] else "no",
            str(len(c["secrets"])),
        ]
        for c in clients
    ] == _table(text[("client", "list", "acme")])
    assert clients[0]["extra_claims"] == {"t": 1}
    assert [s["kind"] for s in clients[0]["secrets"]] == ["chosen"]
    client = data[("client", "show", "acme", "svc")]
    assert set(client) == CLIENT_KEYS
    assert [set(s) for s in client["secrets"]] == [SECRET_KEYS, SECRET_KEYS]
    old, new = sorted(client["secrets"], key=lambda s: s["id"])
    assert (old["expires_at"] is None, new["expires_at"]) == (False, None)
    assert client["scope"] == "a"
    assert client["authentication"] == "client_secret"
    keys = data[("key", "list", "acme")]
    assert [set(k) for k in keys] == [KEY_KEYS, KEY_KEYS]
    assert [[k["state"], k["kid"], k["alg"]] for k in keys] == [
        row[:3] for row in _table(text[("key", "list", "acme")])
    ]
    (issuer,) = data[("issuer", "list", "acme")]
    assert set(issuer) == ISSUER_KEYS
    assert (issuer["keys"], issuer["demo"]) == ("inline", True)
    assert issuer["issuer"] in text[("issuer", "list", "acme")]


def test_empty_lists_are_empty_json_arrays(tmp_path: Path) -> None:
    """With nothing to list, --json prints [] where the text says how to make one."""
    tokensmith(tmp_path, "db", "upgrade")
    tokensmith(tmp_path, "realm", "create", "acme")
    tokensmith(tmp_path, "realm", "delete", "acme")

    realms = tokensmith(tmp_path, "realm", "list", "--json")

    assert (realms.returncode, json.loads(realms.stdout)) == (0, [])


def test_realm_delete_of_a_realm_with_clients_needs_force_without_a_terminal(
    workdir: Path,
) -> None:
    """Without a terminal to ask on, deleting a realm that has clients is refused, naming how
    many would go, and nothing is deleted; --force deletes it."""
    tokensmith(workdir, "client", "create", "acme", "one")
    tokensmith(workdir, "client", "create", "acme", "two")

    refused = tokensmith(workdir, "realm", "delete", "acme")
    still = tokensmith(workdir, "client", "list", "acme", "--json")
    forced = tokensmith(workdir, "realm", "delete", "acme", "--force")
    gone = tokensmith(workdir, "realm", "list", "--json")

    assert refused.returncode == 1
    assert refused.stderr == (
        "error: realm 'acme' has 2 clients, which deleting the realm deletes too, with their "
        "secrets and tokens; nothing was deleted; add --force to delete realm acme and its "
        "clients\n"
    )
    assert [c["client_id"] for c in json.loads(still.stdout)] == ["one", "two"]
    assert (forced.returncode, forced.stdout) == (0, "deleted realm acme\n")
    assert json.loads(gone.stdout) == []


def test_realm_delete_of_a_realm_without_clients_asks_nothing(workdir: Path) -> None:
    """A realm with no client is deleted without --force and without a question."""
    deleted = tokensmith(workdir, "realm", "delete", "acme")

    assert (deleted.returncode, deleted.stdout) == (0, "deleted realm acme\n")
    user = getpass.getuser()
    assert deleted.stderr == f"INFO:     event=realm_deleted realm=acme via=cli by={user}\n"


@pytest.mark.parametrize(("answer", "kept"), [("n\n", True), ("\n", True), ("y\n", False)])
def test_realm_delete_asks_at_a_terminal(workdir: Path, answer: str, kept: bool) -> None:
    """At a terminal, deleting a realm with clients asks first; only "y" deletes it."""
    tokensmith(workdir, "client", "create", "acme", "one")
    controller, terminal = os.openpty()
    os.write(controller, answer.encode())

    with open(terminal, encoding="utf-8") as tty:
        result = tokensmith(workdir, "realm", "delete", "acme", stdin=tty)
    os.close(controller)
    listed = json.loads(tokensmith(workdir, "realm", "list", "--json").stdout)

    assert result.stderr.startswith(
        "delete realm 'acme' and its 1 client, with its secrets and tokens? [y/N] "
    )
    assert result.returncode == (1 if kept else 0)
    assert [r["name"] for r in listed] == (["acme"] if kept else [])


def test_realm_names_are_unique_regardless_of_case(workdir: Path) -> None:
    """Creating "ACME" beside "acme" is refused, naming the realm that holds the name."""
    refused = tokensmith(workdir, "realm", "create", "ACME")
    listed = json.loads(tokensmith(workdir, "realm", "list", "--json").stdout)

    assert refused.returncode == 1
    assert refused.stderr == (
        "error: realm 'acme' already exists, and realm names are unique regardless of case; "
        "choose a name other than 'ACME'\n"
    )
    assert [r["name"] for r in listed] == ["acme"]


@pytest.mark.parametrize(
    "command",
    [
        ("realm", "show", "{}"),
        ("realm", "delete", "{}"),
        ("client", "list", "{}"),
        ("client", "create", "{}", "svc"),
        ("client", "show", "{}", "svc"),
        ("client", "disable", "{}", "svc"),
        ("client", "rotate-secret", "{}", "svc"),
        ("key", "list", "{}"),
        ("key", "rotate", "{}"),
        ("issuer", "list", "{}"),
        ("issuer", "add-demo", "{}"),
        ("issuer", "demo-token", "{}", "--sub", "alice"),
    ],
)
def test_a_mistyped_realm_gets_a_suggestion(workdir: Path, command: tuple[str, ...]) -> None:
    """Every command taking a realm names the realm meant when the one given is a near miss
    or differs only in case, and only says there is none for a name like no other."""
    tokensmith(workdir, "realm", "create", "globex")

    typo = tokensmith(workdir, *(part.format("acmee") for part in command))
    case = tokensmith(workdir, *(part.format("Acme") for part in command))
    unlike = tokensmith(workdir, *(part.format("zzz") for part in command))

    assert (typo.returncode, typo.stderr) == (1, "error: no realm 'acmee'; did you mean 'acme'?\n")
    assert (case.returncode, case.stderr) == (1, "error: no realm 'Acme'; did you mean 'acme'?\n")
    assert (unlike.returncode, unlike.stderr) == (1, "error: no realm 'zzz'\n")


def test_suggestions_prefer_a_case_match_and_name_up_to_three() -> None:
    """A name differing only in case is the suggestion; otherwise the closest three."""
    known = ["acme", "acme-prod", "acme-test", "acme-dev", "globex", "initech"]

    assert missing_realm("ACME-PROD", known) == "no realm 'ACME-PROD'; did you mean 'acme-prod'?"
    assert missing_realm("acme-pro", known) == (
        "no realm 'acme-pro'; did you mean 'acme-prod', 'acme' or 'acme-dev'?"
    )
    assert missing_realm("anything", []) == "no realm 'anything'"


def test_key_list_orders_keys_previous_current_next(workdir: Path) -> None:
    """After two rotations the keys read previous, previous, current, next, the current key
    being the one the last rotation named."""
    tokensmith(workdir, "key", "rotate", "acme")
    last = tokensmith(workdir, "key", "rotate", "acme").stdout.split()[-1]

    rows = _table(tokensmith(workdir, "key", "list", "acme").stdout)

    assert [row[0] for row in rows] == ["previous", "previous", "current", "next"]
    assert rows[2][1] == last


def _key(kid: str, state: str, created: int, stopped: int | None = None) -> SigningKeyRecord:
    return SigningKeyRecord(kid, 1, "ES256", state, b"", "{}", created, stopped)


def test_keys_are_ordered_by_role_then_by_when_they_stopped_or_were_made() -> None:
    """Retired, previous, current, next; previous keys by when they stopped signing (two made
    together stop one rotation apart), the rest by when they were made."""
    keys = [
        _key("n", "next", 300),
        _key("p2", "previous", 100, stopped=300),
        _key("c", "current", 200),
        _key("r2", "retired", 50, stopped=150),
        _key("p1", "previous", 100, stopped=200),
        _key("r1", "retired", 10, stopped=100),
    ]

    assert [k.kid for k in in_role_order(keys)] == ["r1", "r2", "p1", "p2", "c", "n"]


def test_the_readme_documents_the_json_keys() -> None:
    """The README's table of --json keys names exactly the keys the commands print."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    rows = re.findall(r"^  \| `(\w+) (\w+)`[^|]*\| (.*) \|$", readme, re.M)
    documented = {
        command: set(re.findall(r"`(\w+)`", re.sub(r"\([^()]*(\([^()]*\)[^()]*)*\)", "", keys)))
        for command, _, keys in rows
    }

    assert documented == {
        "realm": REALM_KEYS | {"clients", "keys"},
        "client": CLIENT_KEYS | SECRET_KEYS,
        "key": KEY_KEYS,
        "issuer": ISSUER_KEYS,
    }


def test_realm_update_changes_the_lifetimes_it_is_given(workdir: Path) -> None:
    changed = tokensmith(workdir, "realm", "update", "acme", "--access-token-ttl", "10m")
    shown = json.loads(tokensmith(workdir, "realm", "show", "acme", "--json").stdout)
    nothing = tokensmith(workdir, "realm", "update", "acme")
    zero = tokensmith(workdir, "realm", "update", "acme", "--refresh-token-ttl", "0")
    missing = tokensmith(workdir, "realm", "update", "nope", "--access-token-ttl", "60")

    assert changed.returncode == 0, changed.stderr
    assert (shown["access_token_ttl"], shown["refresh_token_ttl"]) == (600, 1800)
    assert "event=realm_updated realm=acme access_token_ttl=600 via=cli" in changed.stderr
    assert nothing.returncode == 2
    assert "nothing to change" in nothing.stderr
    assert zero.returncode == missing.returncode == 1
    assert "between 1 and" in zero.stderr
    assert "no realm 'nope'" in missing.stderr
