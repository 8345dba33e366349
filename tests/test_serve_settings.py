"""How an operator configures the service: ``--version``, every ``serve`` option from its
``TOKENSMITH_*`` variable (the command line winning), one README table of the variables, and
``make run PORT=…``."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tokensmith.cli import _main as cli
from tokensmith.server import Settings
from tokensmith.server import _serve as serve_module
from tokensmith.server._settings import ENV_PREFIX, SERVE_VARIABLES, SETTINGS_VARIABLES

from .cli_run import run_cli
from .serve_process import free_port

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "tokensmith"
VARIABLE = re.compile(r"TOKENSMITH_[A-Z][A-Z_]*[A-Z]")


def every_variable() -> set[str]:
    """The variables the service reads, from the settings' two tables."""
    return {ENV_PREFIX + name for name in (*SETTINGS_VARIABLES, *SERVE_VARIABLES)}


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What `tokensmith serve` would have served with: the settings and options of each call."""
    calls: list[dict[str, Any]] = []

    def record(settings: Settings, **options: Any) -> None:
        calls.append({"settings": settings, **options})

    monkeypatch.setattr(serve_module, "serve", record)
    return calls


# --- --version ---------------------------------------------------------------------------------


def test_version_is_the_installed_packages() -> None:
    """`tokensmith --version` prints the version the installed package's metadata gives."""
    result = subprocess.run(
        [sys.executable, "-m", "tokensmith", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"tokensmith {importlib.metadata.version('tokensmith')}\n"


# --- serve's options from the environment ------------------------------------------------------


def test_every_serve_option_reads_its_variable(
    tmp_path: Path, served: list[dict[str, Any]]
) -> None:
    """Each variable of the README's table reaches serve: the process options as serve()'s
    keywords, the others as Settings."""
    env = {
        "TOKENSMITH_DATABASE_URL": f"sqlite:///{tmp_path / 'env.db'}",
        "TOKENSMITH_HOST": "::1",
        "TOKENSMITH_PORT": "9000",
        "TOKENSMITH_WORKERS": "3",
        "TOKENSMITH_DEMO": "yes",
        "TOKENSMITH_ACCESS_LOG": "on",
        "TOKENSMITH_LOG_LEVEL": "debug",
        "TOKENSMITH_LOG_FORMAT": "json",
        "TOKENSMITH_METRICS": "off",
        "TOKENSMITH_MANAGEMENT_PORT": "9001",
        "TOKENSMITH_LOOP": "asyncio",
        "TOKENSMITH_HTTP": "h11",
        "TOKENSMITH_PUBLIC_URL": "https://auth.example.com",
        "TOKENSMITH_ALLOWED_HOSTS": "a.example, b.example:8443",
        "TOKENSMITH_TRUSTED_PROXIES": "10.0.0.0/8 192.168.1.1",
        "TOKENSMITH_RATE_LIMIT_STORAGE": "redis://127.0.0.1:6379/3",
        "TOKENSMITH_MASTER_KEY_FILE": str(tmp_path / "env.key"),
        "TOKENSMITH_POLL_INTERVAL": "0.5",
        "TOKENSMITH_REALM_CACHE_SIZE": "50",
        "TOKENSMITH_CLIENT_AUTH_LIMIT": "5/minute",
        "TOKENSMITH_ADDRESS_AUTH_LIMIT": "7/minute",
        "TOKENSMITH_MASTER_KEY": "x" * 43,
        "TOKENSMITH_TRACING": "on",
        "TOKENSMITH_ADMIN_EVENTS_DAYS": "30",
        "TOKENSMITH_LAST_USED_INTERVAL": "15",
        "TOKENSMITH_CONSOLE": "false",
    }

    result = run_cli("serve", cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    [call] = served
    settings = call.pop("settings")
    assert call == {
        "host": "::1",
        "port": 9000,
        "workers": 3,
        "demo": True,
        "access_log": True,
        "log_level": "debug",
        "log_format": "json",
        "loop": "asyncio",
        "http": "h11",
    }
    assert settings == Settings(
        database_url=f"sqlite:///{tmp_path / 'env.db'}",
        public_url="https://auth.example.com",
        master_key="x" * 43,
        master_key_file=tmp_path / "env.key",
        poll_interval=0.5,
        realm_cache_size=50,
        rate_limit_storage="redis://127.0.0.1:6379/3",
        client_auth_limit="5/minute",
        address_auth_limit="7/minute",
        trusted_proxies=("10.0.0.0/8", "192.168.1.1"),
        allowed_hosts=("a.example", "b.example:8443"),
        metrics=False,
        management_port=9001,
        tracing=True,
        admin_events_days=30,
        last_used_interval=15.0,
        console=False,
    )
    assert set(env) == every_variable()  # the test sets each variable there is


def test_the_command_line_wins_over_the_environment(
    tmp_path: Path, served: list[dict[str, Any]]
) -> None:
    """An option given on the command line is used, and its variable is not read, not even to
    be refused; variables of the options not given still count."""
    env = {
        "TOKENSMITH_PORT": "abc",
        "TOKENSMITH_ACCESS_LOG": "yes",
        "TOKENSMITH_PUBLIC_URL": "ftp://refused.example",
        "TOKENSMITH_TRUSTED_PROXIES": "not-a-network",
        "TOKENSMITH_DATABASE_URL": "mysql://refused/db",
        "TOKENSMITH_LOG_LEVEL": "warning",
    }
    args = [
        "--port=9001",
        "--no-access-log",
        "--public-url=https://auth.example.com",
        "--trusted-proxy=10.0.0.1",
        f"--database=sqlite:///{tmp_path / 'cli.db'}",
    ]

    result = run_cli("serve", *args, cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    [call] = served
    settings = call.pop("settings")
    assert call == {"port": 9001, "access_log": False, "log_level": "warning"}
    assert settings.public_url == "https://auth.example.com"
    assert settings.trusted_proxies == ("10.0.0.1",)
    assert settings.database_url == f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.mark.parametrize(
    ("text", "value"),
    [(t, True) for t in ("1", "true", "TRUE", "yes", "On")]
    + [(t, False) for t in ("0", "false", "False", "no", "OFF")],
)
def test_booleans_take_the_usual_spellings(
    tmp_path: Path, served: list[dict[str, Any]], text: str, value: bool
) -> None:
    """TOKENSMITH_ACCESS_LOG and TOKENSMITH_DEMO read 1/0, true/false, yes/no and on/off, in
    any case."""
    env = {"TOKENSMITH_ACCESS_LOG": text, "TOKENSMITH_DEMO": text}

    result = run_cli("serve", cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    assert (served[0]["access_log"], served[0]["demo"]) == (value, value)


def test_an_empty_variable_counts_as_unset(tmp_path: Path, served: list[dict[str, Any]]) -> None:
    """A variable set to the empty string (as an env file's `NAME=` line sets it) gives the
    default instead of being refused."""
    env = {name: "" for name in every_variable()}

    result = run_cli("serve", cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    assert served == [{"settings": Settings()}]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("PORT", "abc", "'abc' is not a port number"),
        ("PORT", "70000", "port 70000 is not between 0 and 65535"),
        ("WORKERS", "0", "0 must be at least 1"),
        ("WORKERS", "two", "'two' is not a whole number"),
        ("ACCESS_LOG", "maybe", "'maybe' is not a boolean; use 1/0, true/false, yes/no or on/off"),
        ("DEMO", "2", "'2' is not a boolean; use 1/0, true/false, yes/no or on/off"),
        ("LOG_LEVEL", "verbose", "'verbose' is not one of critical, error, warning, info, "),
        ("LOOP", "tokio", "'tokio' is not one of auto, asyncio, uvloop"),
        ("HTTP", "h2", "'h2' is not one of auto, h11, httptools"),
        ("POLL_INTERVAL", "abc", "'abc' is not a positive number of seconds"),
        ("PUBLIC_URL", "ftp://x", "the public URL 'ftp://x' must be http(s)://"),
        ("TRUSTED_PROXIES", "proxy.example", "trusted proxy 'proxy.example' is not an IP address"),
    ],
)
def test_a_malformed_variable_is_refused_by_name(
    tmp_path: Path, served: list[dict[str, Any]], name: str, text: str, message: str
) -> None:
    """A malformed value stops serve before it starts, exit status 2, in one line that begins
    with the variable's name and quotes what was wrong."""
    result = run_cli("serve", cwd=tmp_path, env={ENV_PREFIX + name: text})

    assert result.returncode == 2
    assert result.stderr.startswith(f"error: TOKENSMITH_{name}: {message}")
    assert result.stderr.count("\n") == 1
    assert served == []


def test_a_malformed_variable_through_the_real_command(tmp_path: Path) -> None:
    """`TOKENSMITH_PORT=abc tokensmith serve` as a process: one line naming the variable, exit
    status 2, no traceback, nothing created."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}

    result = subprocess.run(
        [sys.executable, "-m", "tokensmith", "serve"],
        capture_output=True,
        text=True,
        env={**env, "TOKENSMITH_PORT": "abc"},
        cwd=tmp_path,
        timeout=60,
    )

    assert (result.returncode, result.stderr) == (
        2,
        "error: TOKENSMITH_PORT: 'abc' is not a port number\n",
    )
    assert list(tmp_path.iterdir()) == []


def test_serve_variables_are_read_by_serve_only(tmp_path: Path) -> None:
    """A malformed TOKENSMITH_PORT does not stop an admin command, which has no port."""
    env = {"TOKENSMITH_PORT": "abc", "TOKENSMITH_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"}

    result = run_cli("db", "upgrade", cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr


# --- the help and the README name every variable -----------------------------------------------


def serve_parser() -> argparse.ArgumentParser:
    """The parser of `tokensmith serve`."""
    subparsers = next(a for a in cli.build_parser()._actions if a.dest == "command")
    parser: argparse.ArgumentParser = subparsers.choices["serve"]  # type: ignore[index]
    return parser


def serve_actions() -> dict[str, argparse.Action]:
    """serve's options by destination (without --help)."""
    return {a.dest: a for a in serve_parser()._actions if a.dest != "help"}


def test_each_serve_option_has_a_variable_its_help_names() -> None:
    """Every option of serve has a TOKENSMITH_* variable the service reads, and its --help text
    names it; the help's closing note names every variable that has no option."""
    actions = serve_actions()
    epilog = serve_parser().epilog or ""

    assert set(actions) == set(cli.OPTION_VARIABLES)
    for dest, action in actions.items():
        assert f"${cli.OPTION_VARIABLES[dest]}" in (action.help or ""), action.option_strings
    assert set(cli.OPTION_VARIABLES.values()) <= every_variable()
    for name in every_variable() - set(cli.OPTION_VARIABLES.values()):
        assert f"${name}" in epilog


def readme_variables() -> dict[str, str]:
    """The README's table of variables: each variable's option cell."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n### Settings\n", 1)[1].split("\n### ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `TOKENSMITH_")]
    table = {}
    for row in rows:
        variable, option = (cell.strip() for cell in row.split("|")[1:3])
        table[variable.strip("`")] = option
    assert len(table) == len(rows), "a variable is in the table twice"
    return table


def test_the_readme_table_lists_exactly_the_variables_the_service_reads() -> None:
    """The README's Settings table has one row per variable of the settings' tables, and every
    TOKENSMITH_* name in the service's code (server, store, cli) is one of them."""
    table = readme_variables()
    in_code = {
        name
        for package in ("server", "store", "cli")
        for path in (SRC / package).rglob("*.py")
        for name in VARIABLE.findall(path.read_text())
    }

    assert set(table) == every_variable()
    assert in_code <= set(table), in_code - set(table)


def test_the_readme_table_gives_each_variable_its_option() -> None:
    """Each row's option is the option serve reads that variable for, and a row without an
    option is a variable no option sets."""
    options = {
        var: next(f for f in serve_actions()[dest].option_strings if not f.startswith("--no-"))
        for dest, var in cli.OPTION_VARIABLES.items()
    }

    for variable, cell in readme_variables().items():
        named = re.findall(r"`(--[a-z-]+)`", cell)
        if variable in options:
            assert options[variable] in named, variable
        else:
            assert named == [], variable


def test_no_other_readme_section_lists_variables_of_its_own() -> None:
    """Outside the Settings table, the README names no TOKENSMITH_* variable the table lacks
    (the client's TOKENSMITH_PROFILES and the tests' TOKENSMITH_FUZZ_EXAMPLES aside)."""
    named = set(VARIABLE.findall((ROOT / "README.md").read_text()))

    assert named - every_variable() == {"TOKENSMITH_PROFILES", "TOKENSMITH_FUZZ_EXAMPLES"}


# --- make run PORT=… ---------------------------------------------------------------------------


MAKE_RUN = ["make", "-f", str(ROOT / "Makefile"), "-o", ".venv/.installed", "run"]
"""`make run` from another directory, the venv taken as installed."""


def make_run(tmp_path: Path, *assignments: str, env: dict[str, str] | None = None) -> str:
    """The command `make run ASSIGNMENTS` runs (make -n), the venv taken as installed. Under
    `make test` the outer make's variables are dropped: with them this make is a sub-make, which
    prints "Entering directory" lines and inherits the outer command line's assignments."""
    outer = ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")
    clean = {k: v for k, v in (os.environ if env is None else env).items() if k not in outer}
    result = subprocess.run(
        [*MAKE_RUN, "-n", *assignments],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=clean,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_passes_port_and_host_only_when_given(tmp_path: Path) -> None:
    """`make run` is `tokensmith serve --demo` as before; PORT and HOST given to make become
    --port and --host, but not the same names in the environment (tcsh exports HOST)."""
    quiet = {**os.environ, "HOST": "somehost", "PORT": "1234"}

    assert make_run(tmp_path, env=quiet) == ".venv/bin/tokensmith serve --demo"
    assert make_run(tmp_path, "PORT=9000") == ".venv/bin/tokensmith serve --demo --port 9000"
    assert make_run(tmp_path, "PORT=9000", "HOST=::") == (
        ".venv/bin/tokensmith serve --demo --host :: --port 9000"
    )


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_port_serves_the_demo_on_that_port(tmp_path: Path) -> None:
    """`make run PORT=N` starts the demo service answering on port N."""
    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "tokensmith").exists(), "the tokensmith script is beside this python"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    log = tmp_path / "make-run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*MAKE_RUN, f"PORT={port}", f"BIN={bin_dir}"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"{base}/realms/gbg/.well-known/openid-configuration")
                break
            except httpx.TransportError:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)

    assert response.status_code == 200
    assert response.json()["issuer"] == f"{base}/realms/gbg"
    assert f"{base}/" in log.read_text()  # the demo's commands name the port
