"""The package as users get it: ``python -m build`` makes the sdist, and the wheel from the sdist;
the archives hold what they should; each installs into a fresh venv where `tokensmith --help` and
a real `tokensmith serve` (answering /health, issuing a token) work, and a client-only install of
the wheel runs `tokensmith token` and names the extra for `serve`.

It builds with hatchling and installs the dependencies through pip, from the package index pip is
configured with: about 20 s with a warm pip cache. The tests that build are marked
``packaging``: ``-m "not packaging"`` leaves them out.
"""

from __future__ import annotations

import email
import os
import signal
import subprocess
import sys
import tarfile
import time
import tomllib
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from .client.conftest import FakeOAuth

ROOT = Path(__file__).resolve().parent.parent
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
SOURCES = sorted(
    p.relative_to(ROOT / "src").as_posix()
    for p in (ROOT / "src" / "tokensmith").rglob("*")
    if p.is_file() and "__pycache__" not in p.parts
)
"""Every file of the package in this checkout, as the wheel names it."""
DEMO_SECRET = "xxxxxx-xxxx-43f3-9fba-85686d72c1c0"
"""The secret of the demo's `truphone` client (the Truphone documentation's)."""

_ENV = {
    k: v
    for k, v in os.environ.items()
    if not k.startswith("TOKENSMITH_") and k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
}
"""What the installed commands run with: nothing pointing at this checkout's sources."""


def _run(
    *args: str | Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 240,
) -> str:
    """Run a command to success; its standard output."""
    done = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=_ENV if env is None else env,
    )
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The sdist and the wheel built from it, as ``python -m build`` makes them."""
    out = tmp_path_factory.mktemp("dist")

    _run(sys.executable, "-m", "build", "--outdir", out, ROOT, env=dict(os.environ))

    return out / f"tokensmith-{VERSION}.tar.gz", out / f"tokensmith-{VERSION}-py3-none-any.whl"


def venv(where: Path) -> Path:
    """A fresh venv without pip (pip is run from outside with ``--python``); its bin folder."""
    _run(sys.executable, "-m", "venv", "--without-pip", where)
    return where / "bin"


def pip_install(bin_dir: Path, *requirements: str) -> None:
    _run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        bin_dir / "python",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        *requirements,
    )


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serving(bin_dir: Path, workdir: Path) -> Iterator[str]:
    """The venv's `tokensmith serve --demo` on a free port, in ``workdir``; its base URL."""
    port = free_port()
    log = workdir / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [bin_dir / "tokensmith", "serve", "--demo", "--port", str(port)],
            cwd=workdir,
            env=_ENV,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/health", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, (
                    "serve did not answer in 30 s\n" + log.read_text()
                )
                time.sleep(0.1)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
    assert "Traceback" not in log.read_text()


def check_installed_service(bin_dir: Path, workdir: Path) -> None:
    """`--help`, then `serve --demo` answering /health, and the venv's `tokensmith token`
    getting a token from it."""
    located = _run(bin_dir / "python", "-c", "import tokensmith; print(tokensmith.__file__)")
    assert located.startswith(str(bin_dir.parent)), located
    assert "serve" in _run(bin_dir / "tokensmith", "--help", cwd=workdir)

    with serving(bin_dir, workdir) as url:
        health = httpx.get(url + "/health", timeout=5)
        token = _run(
            bin_dir / "tokensmith",
            "token",
            "--token-url",
            f"{url}/realms/tru-staff/protocol/openid-connect/token",
            "--client-id",
            "truphone",
            "--client-secret-env",
            "DEMO_SECRET",
            cwd=workdir,
            env={**_ENV, "DEMO_SECRET": DEMO_SECRET},
        )

    assert health.status_code == 200
    assert token.count(".") == 2  # a JWT


@pytest.mark.packaging
def test_the_sdist_holds_the_sources_and_documents_only(dist: tuple[Path, Path]) -> None:
    """The sdist has every package file, the migrations included, pyproject, README, CHANGELOG,
    LICENSE and the examples; no tests, benches, caches, databases or keys."""
    sdist, _ = dist
    prefix = f"tokensmith-{VERSION}/"

    with tarfile.open(sdist) as tar:
        names = {m.name.removeprefix(prefix) for m in tar.getmembers() if m.isfile()}

    assert {f"src/{s}" for s in SOURCES} <= names
    assert {"pyproject.toml", "README.md", "CHANGELOG.md", "LICENSE", "PKG-INFO"} <= names
    assert "src/tokensmith/store/migrations/versions/0001_initial.py" in names
    assert "examples/truphone_client.py" in names
    unwanted = [
        n
        for n in names
        if n.split("/")[0] in ("tests", "bench", ".ci", ".venv", "dist", "build")
        or "__pycache__" in n
        or n.endswith((".pyc", ".db", ".key", "-wal", "-shm"))
    ]
    assert unwanted == []


@pytest.mark.packaging
def test_the_wheel_holds_the_package_migrations_license_and_command(
    dist: tuple[Path, Path],
) -> None:
    """The wheel has every package file (migrations, their template, py.typed, the console's
    pages), the license file and expression, the extras and the `tokensmith` command."""
    _, wheel = dist

    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = f"tokensmith-{VERSION}.dist-info"
        metadata = email.message_from_bytes(archive.read(f"{info}/METADATA"))
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
        license_text = archive.read(f"{info}/licenses/LICENSE")

    assert set(SOURCES) <= names
    assert "tokensmith/store/migrations/script.py.mako" in names
    assert {"tokensmith/server/console/index.html", "tokensmith/server/console/js/app.js"} <= names
    assert not [n for n in names if n.startswith("tests/") or n.endswith(".pyc")]
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert license_text == (ROOT / "LICENSE").read_bytes()
    assert {"server", "requests", "resource", "redis"} <= set(metadata.get_all("Provides-Extra"))
    assert "tokensmith = tokensmith.cli:main" in entry_points


@pytest.mark.packaging
def test_the_wheel_installs_client_only_then_with_the_server(
    dist: tuple[Path, Path], tmp_path: Path
) -> None:
    """Installed alone, the wheel's `tokensmith token` works and `tokensmith serve` names the
    extra in one line; with [server] added, the service runs."""
    _, wheel = dist
    bin_dir = venv(tmp_path / "venv")
    workdir = tmp_path / "work"
    workdir.mkdir()

    pip_install(bin_dir, str(wheel))
    no_sqlalchemy = subprocess.run(
        [bin_dir / "python", "-c", "import sqlalchemy"], capture_output=True, env=_ENV
    )
    serve = subprocess.run(
        [bin_dir / "tokensmith", "serve"],
        capture_output=True,
        text=True,
        cwd=workdir,
        env=_ENV,
        timeout=60,
    )
    with FakeOAuth() as fake:
        token = _run(
            bin_dir / "tokensmith",
            "token",
            "--token-url",
            fake.token_url,
            "--client-id",
            "svc",
            "--client-secret-env",
            "SVC_SECRET",
            cwd=workdir,
            env={**_ENV, "SVC_SECRET": "s3cret-packaged"},
        )

    assert no_sqlalchemy.returncode == 1
    assert (serve.returncode, serve.stdout) == (1, "")
    assert serve.stderr.endswith("install them with: pip install 'tokensmith[server]'\n")
    assert serve.stderr.count("\n") == 1
    assert token.strip() in fake.valid

    pip_install(bin_dir, f"tokensmith[server] @ {wheel.as_uri()}")
    check_installed_service(bin_dir, workdir)


@pytest.mark.packaging
def test_the_sdist_installs_with_the_server(dist: tuple[Path, Path], tmp_path: Path) -> None:
    """pip builds the sdist (the migrations and all) into a package whose service runs."""
    sdist, _ = dist
    bin_dir = venv(tmp_path / "venv")
    workdir = tmp_path / "work"
    workdir.mkdir()

    pip_install(bin_dir, f"tokensmith[server] @ {sdist.as_uri()}")

    check_installed_service(bin_dir, workdir)


def test_the_changelog_names_this_version_first() -> None:
    """CHANGELOG.md's newest entry is pyproject.toml's version (Keep a Changelog headings)."""
    headings = [
        line.removeprefix("## [").split("]")[0]
        for line in (ROOT / "CHANGELOG.md").read_text().splitlines()
        if line.startswith("## [")
    ]

    assert next(h for h in headings if h != "Unreleased") == VERSION


def test_the_license_is_the_apache_license_2_0() -> None:
    """LICENSE is the Apache License 2.0 text, unmodified, as pyproject.toml's license says."""
    import hashlib

    text = (ROOT / "LICENSE").read_bytes()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    assert project["license"] == "Apache-2.0"
    # The SHA-256 of https://www.apache.org/licenses/LICENSE-2.0.txt.
    assert hashlib.sha256(text).hexdigest() == (
        "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
    )
