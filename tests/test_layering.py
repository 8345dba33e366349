"""Each package imports only the layers under it (README, Layout)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "tokensmith"
ALLOWED = {
    "oauth": set(),
    "core": {"oauth"},
    "store": {"oauth"},
    "client": {"core", "oauth"},
    "resource": {"core", "oauth"},
    "server": {"core", "oauth", "store"},
    "cli": {"client", "core", "oauth", "resource", "server", "store"},
}


def imported_packages(package: str) -> set[str]:
    """The tokensmith packages that the modules of ``package`` import, other than itself, and
    other than the top-level helper modules (``tokensmith/_*.py``), which import none. Every
    form counts: ``from ..store import x``, ``from .. import store``, ``from ...oauth import x``
    in a nested package, ``from tokensmith import store``, ``import tokensmith.store``."""
    found: set[str] = set()
    paths = (SRC / package).rglob("*.py") if (SRC / package).is_dir() else [SRC / f"{package}.py"]
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                for module in _absolute(path, node):
                    found.update(_top(module))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    found.update(_top(alias.name))
    return found - {package} - HELPERS


def _absolute(path: Path, node: ast.ImportFrom) -> list[str]:
    """The absolute names of what ``node`` in the module at ``path`` imports: the module it
    imports from, and for ``from PACKAGE import NAME`` each NAME as a possible submodule."""
    if node.level == 0:
        base = (node.module or "").split(".")
    else:
        here = ["tokensmith", *path.relative_to(SRC).parent.parts]
        base = here[: len(here) - node.level + 1]
        base += node.module.split(".") if node.module else []
    return [".".join(base)] + [".".join([*base, alias.name]) for alias in node.names]


def _top(module: str) -> set[str]:
    """The tokensmith package or top-level module that ``module`` is in, if any."""
    parts = module.split(".")
    return {parts[1]} if len(parts) > 1 and parts[0] == "tokensmith" else set()


def test_every_import_form_is_seen() -> None:
    """The import forms a layer could use to reach another all name it."""
    here = SRC / "server" / "_app.py"
    forms = {
        "from ..store import x": {"store"},
        "from .. import core": {"core"},
        "from . import _state": {"server"},
        "from tokensmith import oauth": {"oauth"},
        "import tokensmith.client": {"client"},
    }
    for source, packages in forms.items():
        node = ast.parse(source).body[0]
        if isinstance(node, ast.ImportFrom):
            names = _absolute(here, node)
        else:
            assert isinstance(node, ast.Import)
            names = [a.name for a in node.names]
        assert set().union(*map(_top, names)) == packages, source


HELPERS = {p.stem for p in SRC.glob("_*.py") if p.stem not in ("__init__", "__main__")}


def test_every_package_is_in_the_table() -> None:
    """The table names every package under src/tokensmith."""
    packages = {p.name for p in SRC.iterdir() if (p / "__init__.py").exists()}

    assert packages == set(ALLOWED)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_layers_under_it(package: str) -> None:
    """The package's modules import no tokensmith package above it."""
    assert imported_packages(package) <= ALLOWED[package]


@pytest.mark.parametrize("helper", sorted(HELPERS))
def test_top_level_helpers_import_no_package(helper: str) -> None:
    """A top-level helper module (``tokensmith/_lazy.py``) imports no tokensmith package, so
    every layer may use it."""
    assert imported_packages(helper) == set()
