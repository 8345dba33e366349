"""The SQLite database, its -wal and -shm files and the master key file are readable by their
owner only, whatever the umask, after ``serve`` starts and after an admin command."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx

_CHILD_ENV = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSMITH_")}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _tokensmith(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tokensmith", *args],
        cwd=cwd,
        env=_CHILD_ENV,
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=lambda: os.umask(0o022),  # the usual umask, set in the child
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_admin_commands_create_the_database_and_key_file_0600(tmp_path: Path) -> None:
    """Guards item 11: `db upgrade` making a new SQLite file, then `realm create` making the key
    file, leave both 0600."""
    upgraded = _tokensmith("db", "upgrade", cwd=tmp_path)
    result = _tokensmith("realm", "create", "acme", cwd=tmp_path)

    assert upgraded.returncode == 0, upgraded.stderr
    assert result.returncode == 0, result.stderr
    assert _mode(tmp_path / "tokensmith.db") == 0o600
    assert _mode(tmp_path / "tokensmith.db.key") == 0o600
    for leftover in ("tokensmith.db-wal", "tokensmith.db-shm"):
        if (tmp_path / leftover).exists():
            assert _mode(tmp_path / leftover) == 0o600


def test_existing_world_readable_database_is_narrowed_to_0600(tmp_path: Path) -> None:
    """Guards item 11: a database file made 0644 by an older version is made 0600 on next use."""
    assert _tokensmith("db", "upgrade", cwd=tmp_path).returncode == 0
    assert _tokensmith("realm", "create", "acme", cwd=tmp_path).returncode == 0
    (tmp_path / "tokensmith.db").chmod(0o644)

    result = _tokensmith("realm", "list", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert _mode(tmp_path / "tokensmith.db") == 0o600


def test_serve_keeps_database_wal_and_shm_files_0600(tmp_path: Path) -> None:
    """Guards item 11: while `serve` runs, the database, -wal, -shm and key files are 0600."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tokensmith", "serve", "--demo", "--port", str(port)],
        cwd=tmp_path,
        env=_CHILD_ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: os.umask(0o022),  # the usual umask, set in the child
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "serve did not start in 30 s"
                time.sleep(0.1)
        token_url = f"http://127.0.0.1:{port}/realms/tru-staff/protocol/openid-connect/token"
        credentials = {
            "client_id": "truphone",
            "client_secret": "xxxxxx-xxxx-43f3-9fba-85686d72c1c0",
        }
        response = httpx.post(token_url, data={"grant_type": "client_credentials", **credentials})
        assert response.status_code == 200  # a refresh token was written: -wal and -shm exist

        modes = {
            name: _mode(tmp_path / name)
            for name in (
                "tokensmith.db",
                "tokensmith.db-wal",
                "tokensmith.db-shm",
                "tokensmith.db.key",
            )
        }
    finally:
        proc.terminate()
        proc.communicate(timeout=10)

    assert modes == dict.fromkeys(modes, 0o600)
