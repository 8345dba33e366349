"""Mistakes an operator makes setting the service up get one line saying what to change, and a
non-zero exit, never a traceback: each is tried through the real command, as a process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from .conftest import PG_ADMIN_DSN, _pg, _require_pg
from .serve_process import free_port

TOKENSMITH = [sys.executable, "-m", "tokensmith"]
RECIPE = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


def tokensmith(
    cwd: Path, *args: str, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    """``tokensmith ARGS`` as a process in ``cwd``, with ``env`` as its only TOKENSMITH_*."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSMITH_")}
    return subprocess.run(
        [*TOKENSMITH, *args],
        capture_output=True,
        text=True,
        env={**clean, **env},
        cwd=cwd,
        timeout=timeout,
    )


def serve(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`tokensmith serve` on a free port; a service that starts instead of refusing runs into
    the timeout and fails the test."""
    try:
        return tokensmith(cwd, "serve", "--port", str(free_port()), *args, timeout=30, **env)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"serve started instead of refusing:\n{exc.stderr!r}") from None


def refused(result: subprocess.CompletedProcess[str], status: int = 1) -> str:
    """The one-line message of a command that refused, checked to be that."""
    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    return result.stderr.removeprefix("error: ").rstrip("\n")


# --- database URLs -----------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["serve"], ["realm", "list"], ["db", "upgrade"]])
def test_a_sqlite_url_with_two_slashes_says_how_many_it_needs(
    tmp_path: Path, command: list[str]
) -> None:
    """`--database sqlite://tokensmith.db` (the file name where a host goes) is refused with the
    URL it meant, and no file is made."""
    result = (
        serve(tmp_path, "--database", "sqlite://tokensmith.db")
        if command == ["serve"]
        else tokensmith(tmp_path, *command, "--database", "sqlite://tokensmith.db")
    )

    message = refused(result)
    assert message.startswith("the database URL 'sqlite://tokensmith.db' names no file")
    assert "did you mean sqlite:///tokensmith.db?" in message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_a_sqlite_database_in_memory_is_refused(tmp_path: Path, url: str) -> None:
    """An in-memory SQLite database, which neither the workers nor the admin commands would
    see, is refused with URLs of files to use instead."""
    message = refused(serve(tmp_path, "--database", url))

    assert message.startswith(f"the database URL {url!r} is a SQLite database in memory")
    assert "sqlite:///tokensmith.db" in message


@pytest.mark.postgres
@pytest.mark.parametrize("command", [["serve"], ["realm", "list"], ["db", "upgrade"]])
def test_a_postgresql_database_that_does_not_exist_says_how_to_create_it(
    tmp_path: Path, command: list[str]
) -> None:
    """On the shared PostgreSQL server, a database name that does not exist is named, with the
    createdb command that makes it; the server is not reported as unavailable."""
    _require_pg()
    name = f"tokensmith_missing_{uuid.uuid4().hex[:12]}"
    server = make_url(PG_ADMIN_DSN)
    url = server.set(database=name).render_as_string(hide_password=False)
    createdb = f"createdb -h {server.host} -p {server.port} -U {server.username} {name}"

    result = (
        serve(tmp_path, "--database", url)
        if command == ["serve"]
        else tokensmith(tmp_path, *command, "--database", url)
    )

    message = refused(result)
    assert message.startswith(
        f"PostgreSQL on {server.host}:{server.port} has no database '{name}'; create it with "
        f"`{createdb}`"
    )
    assert "tokensmith db upgrade" in message


@pytest.mark.postgres
@pytest.mark.parametrize("command", [["serve"], ["realm", "list"]])
def test_a_postgresql_role_that_does_not_exist_is_named(tmp_path: Path, command: list[str]) -> None:
    """A login the server refuses is named as such, not reported as an outage ("the database is
    unavailable") that waiting would mend."""
    _require_pg()
    server = make_url(PG_ADMIN_DSN)
    role = f"tokensmith_nobody_{uuid.uuid4().hex[:8]}"
    url = server.set(username=role).render_as_string(hide_password=False)

    result = (
        serve(tmp_path, "--database", url)
        if command == ["serve"]
        else tokensmith(tmp_path, *command, "--database", url)
    )

    assert refused(result) == (
        f"PostgreSQL on {server.host}:{server.port} refused the login of '{role}': role "
        f'"{role}" does not exist; create the role (createuser) or allow it in pg_hba.conf, or '
        "connect as another user"
    )


def test_a_wrong_postgresql_password_is_named_and_not_shown() -> None:
    """The shared server trusts every login, so the driver's own error for a wrong password
    stands in for it: the message says the password is wrong and shows neither it nor the
    server's text."""
    import asyncpg

    from tokensmith.store._faults import permanent_fault

    url = make_url("postgresql://app:pa55-w0rd@db.internal:5433/tokens")
    error = asyncpg.exceptions.InvalidPasswordError('password authentication failed for user "app"')

    message = permanent_fault(error, url)

    assert message is not None
    assert message.startswith(
        "PostgreSQL on db.internal:5433 refused the login of 'app': the password is wrong"
    )
    assert "pa55-w0rd" not in message


@pytest.mark.postgres
def test_a_postgresql_database_that_takes_no_writes_fails_at_startup(
    tmp_path: Path, postgres_url: str
) -> None:
    """A PostgreSQL database whose transactions are read-only (as on a replica) is refused at
    startup, pointing at the primary, instead of serving 503 to every write."""
    name = make_url(postgres_url).database
    assert tokensmith(tmp_path, "db", "upgrade", "--database", postgres_url).returncode == 0
    asyncio.run(_pg(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))

    message = refused(serve(tmp_path, "--database", postgres_url))

    assert message.startswith(f"the PostgreSQL database '{name}' on ")
    assert "takes no writes" in message
    assert "point --database at the primary" in message


# --- a SQLite file the service may not write ---------------------------------------------------


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """The file or directory ``path`` made read-only to this user for the block. Root ignores
    permission bits, so as root it gets the immutable attribute (chattr +i), which the kernel
    enforces for root too: SQLite then opens a file read-only, as it does a 0444 file for anyone
    else, and can make no -wal or -shm file in a directory, as in a 0555 one."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"as root a file is read-only only when immutable: {made.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.fixture
def database(tmp_path: Path) -> str:
    """The URL of a SQLite database with a realm in it, as a service would have left it."""
    url = f"sqlite:///{tmp_path / 'tokensmith.db'}"
    for command in (["db", "upgrade"], ["realm", "create", "acme"]):
        done = tokensmith(tmp_path, *command, "--database", url)
        assert done.returncode == 0, done.stderr
    return url


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_on_a_read_only_sqlite_file_fails_at_startup(
    tmp_path: Path, database: str, workers: str
) -> None:
    """`serve` on a file it cannot write exits 1 at once, saying so and what to change, instead
    of starting and answering 503 ("retry in a few seconds") to every request that writes."""
    with read_only(tmp_path / "tokensmith.db"):
        result = serve(tmp_path, "--database", database, "--workers", workers)

    message = refused(result)
    assert message.startswith(f"the database file {tmp_path / 'tokensmith.db'} is read-only to")
    assert f"make it writable by the user the service runs as, and its directory {tmp_path}" in (
        message
    )


def test_serve_in_a_read_only_directory_fails_at_startup(tmp_path: Path) -> None:
    """A database file in a directory the service may not write (where SQLite makes its -wal
    and -shm files) is refused at startup naming the directory."""
    directory = tmp_path / "state"
    directory.mkdir()
    url = f"sqlite:///{directory / 'tokensmith.db'}"
    assert tokensmith(tmp_path, "db", "upgrade", "--database", url).returncode == 0

    with read_only(directory):
        result = serve(tmp_path, "--database", url)

    message = refused(result)
    assert message.startswith(f"cannot open the database file {directory / 'tokensmith.db'}: it")
    assert f"and its directory {directory} must be writable by" in message


def test_admin_commands_on_a_read_only_file_say_so(tmp_path: Path, database: str) -> None:
    """A command that writes is refused as `serve` is, naming the file; one that only reads
    still works."""
    with read_only(tmp_path / "tokensmith.db"):
        created = tokensmith(tmp_path, "realm", "create", "beta", "--database", database)
        upgraded = tokensmith(tmp_path, "db", "upgrade", "--database", database)
        listed = tokensmith(tmp_path, "realm", "list", "--database", database)

    for result in (created, upgraded):
        assert "is read-only to" in refused(result)
    assert listed.returncode == 0, listed.stderr
    assert "acme" in listed.stdout


# --- the environment and the master key --------------------------------------------------------


def test_a_malformed_poll_interval_is_named(tmp_path: Path) -> None:
    """`TOKENSMITH_POLL_INTERVAL=abc tokensmith serve` names the variable and the value, exit 2."""
    result = serve(tmp_path, TOKENSMITH_POLL_INTERVAL="abc")

    message = refused(result, status=2)
    assert message == "TOKENSMITH_POLL_INTERVAL: 'abc' is not a positive number of seconds"


def test_a_master_key_from_token_urlsafe_is_accepted(tmp_path: Path) -> None:
    """A master key made with secrets.token_urlsafe(32) (43 characters, no padding) works, and
    is the same key written with its padding."""
    key = secrets.token_urlsafe(32)
    url = f"sqlite:///{tmp_path / 'tokensmith.db'}"

    upgraded = tokensmith(tmp_path, "db", "upgrade", "--database", url)
    created = tokensmith(
        tmp_path, "realm", "create", "acme", "--database", url, TOKENSMITH_MASTER_KEY=key
    )
    rotated = tokensmith(
        tmp_path, "key", "rotate", "acme", "--database", url, TOKENSMITH_MASTER_KEY=key + "="
    )

    assert len(key) == 43
    for result in (upgraded, created, rotated):
        assert result.returncode == 0, result.stderr
    assert not (tmp_path / "tokensmith.db.key").exists()  # the given key, no file made


@pytest.mark.parametrize(
    "key", ["short", secrets.token_urlsafe(16), secrets.token_hex(32), "é" * 43]
)
def test_a_refused_master_key_comes_with_a_recipe(tmp_path: Path, key: str) -> None:
    """A master key that is not 32 bytes of base64url is refused, the message showing a command
    that makes one (and never the key)."""
    result = serve(
        tmp_path, "--database", f"sqlite:///{tmp_path / 'k.db'}", TOKENSMITH_MASTER_KEY=key
    )

    message = refused(result)
    assert message == (
        "the master key from TOKENSMITH_MASTER_KEY is not 32 bytes of base64url; make one with: "
        + RECIPE
    )
    made = subprocess.run(["/bin/sh", "-c", RECIPE], capture_output=True, text=True, check=True)
    assert len(made.stdout.strip()) == 43


def test_a_refused_master_key_file_comes_with_the_recipe(tmp_path: Path) -> None:
    """A key file holding something else than a key is refused the same way, naming the file."""
    key_file = tmp_path / "master.key"
    key_file.write_text("not a key\n")

    result = serve(
        tmp_path,
        "--database",
        f"sqlite:///{tmp_path / 'k.db'}",
        TOKENSMITH_MASTER_KEY_FILE=str(key_file),
    )

    assert refused(result) == (
        f"the master key from {key_file} is not 32 bytes of base64url; make one with: {RECIPE}"
    )
