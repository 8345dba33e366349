"""A client-only install (``pip install tokensmith``, no ``[server]``): `tokensmith token` works,
and every command that needs the service says in one line which extra to install, never a
traceback.

The install is simulated here, fast: the real command runs in a process where every package that
only ``[server]`` brings (read from pyproject.toml and the installed packages' metadata) fails to
import, as it would if it were absent. ``tests/test_packaging.py`` does the same with a real
client-only install of the built wheel in a fresh venv.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tokensmith.cli._main import SERVER_PACKAGES

from .conftest import FakeOAuth

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
INSTALL = "pip install 'tokensmith[server]'"

_BLOCKER = """\
import importlib.abc, sys

BLOCKED = {blocked!r}


class _Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, _Absent())
"""


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(requirements: list[Requirement]) -> set[str]:
    """The distributions ``requirements`` need, themselves included, with the extras they name."""
    todo, seen = list(requirements), set()
    while todo:
        req = todo.pop()
        key = (_canonical(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        for text in importlib.metadata.requires(req.name) or []:
            needed = Requirement(text)
            if needed.marker is None or any(
                needed.marker.evaluate({"extra": extra}) for extra in {"", *req.extras}
            ):
                todo.append(needed)
    return {name for name, _ in seen}


def _import_names(dists: set[str]) -> set[str]:
    """The top-level modules the installed distributions ``dists`` provide."""
    return {
        module
        for module, owners in importlib.metadata.packages_distributions().items()
        if any(_canonical(owner) in dists for owner in owners)
    }


def _extras() -> tuple[list[Requirement], list[Requirement]]:
    """What the base install requires, and what [server] adds (for this platform)."""
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    base = [Requirement(r) for r in project["dependencies"]]
    server = [
        req
        for req in map(Requirement, project["optional-dependencies"]["server"])
        if req.marker is None or req.marker.evaluate()
    ]
    return base, server


def server_only_modules() -> set[str]:
    """Top-level modules that a [server] install has and a client-only install lacks."""
    base, server = _extras()
    return _import_names(_closure(server) - _closure(base))


@pytest.fixture(scope="module")
def client_only_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment whose Python cannot import anything that only [server] installs."""
    site = tmp_path_factory.mktemp("client-only")
    (site / "sitecustomize.py").write_text(_BLOCKER.format(blocked=sorted(server_only_modules())))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSMITH_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    return env


def tokensmith(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tokensmith", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
    )


def test_the_cli_names_every_package_only_server_brings() -> None:
    """Each module of a direct [server] dependency that the base install lacks is one the CLI
    recognises as missing [server]."""
    base, server = _extras()

    missing = _import_names({_canonical(r.name) for r in server} - _closure(base))

    assert missing <= SERVER_PACKAGES
    assert {"sqlalchemy", "alembic", "uvicorn"} <= missing


def test_the_simulated_install_lacks_the_server_packages(
    client_only_env: dict[str, str], tmp_path: Path
) -> None:
    """The environment is what it stands for: sqlalchemy and uvicorn cannot be imported there,
    httpx and joserfc can."""
    probe = (
        "import httpx, joserfc\n"
        "for name in ('sqlalchemy', 'uvicorn', 'alembic'):\n"
        "    try:\n        __import__(name)\n    except ModuleNotFoundError:\n        pass\n"
        "    else:\n        raise SystemExit(name + ' imported')\n"
    )

    done = subprocess.run(
        [sys.executable, "-c", probe], env=client_only_env, capture_output=True, text=True
    )

    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("serve",),
        ("serve", "--demo", "--port", "0"),
        ("db", "upgrade"),
        ("db", "current"),
        ("realm", "list"),
        ("realm", "create", "acme"),
        ("client", "list", "acme"),
        ("key", "rotate", "acme"),
        ("issuer", "list", "acme"),
    ],
    ids=" ".join,
)
def test_service_commands_name_the_extra_in_one_line(
    client_only_env: dict[str, str], tmp_path: Path, args: tuple[str, ...]
) -> None:
    """A command that needs the service exits 1 with one line naming itself, the missing module
    and the extra to install, and creates no database."""
    done = tokensmith(client_only_env, tmp_path, *args)

    command = " ".join(a for a in args[:2] if not a.startswith("-"))
    assert (done.returncode, done.stdout) == (1, ""), done.stderr
    assert done.stderr.startswith(f"error: `tokensmith {command}` needs the token service's ")
    assert done.stderr.endswith(f"install them with: {INSTALL}\n")
    assert "no module named '" in done.stderr
    assert done.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_help_works_without_the_server(client_only_env: dict[str, str], tmp_path: Path) -> None:
    """`tokensmith --help` and `tokensmith serve --help` need no server package."""
    top = tokensmith(client_only_env, tmp_path, "--help")
    serve = tokensmith(client_only_env, tmp_path, "serve", "--help")

    assert top.returncode == 0, top.stderr
    assert "serve" in top.stdout
    assert serve.returncode == 0, serve.stderr
    assert "--public-url" in serve.stdout


def test_token_works_without_the_server(
    client_only_env: dict[str, str], tmp_path: Path, fake: FakeOAuth
) -> None:
    """`tokensmith token` fetches and prints a token in a client-only install."""
    env = {**client_only_env, "ONLY_SECRET": "s3cret-client-only"}

    done = tokensmith(
        env,
        tmp_path,
        "token",
        "--token-url",
        fake.token_url,
        "--client-id",
        "svc",
        "--client-secret-env",
        "ONLY_SECRET",
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() in fake.valid
    assert len(fake.token_requests) == 1
