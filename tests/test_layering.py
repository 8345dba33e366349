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
    other than the top-level helper modules (``tokensmith/_*.py``), which import none."""
    found: set[str] = set()
    paths = (SRC / package).rglob("*.py") if (SRC / package).is_dir() else [SRC / f"{package}.py"]
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 2 and node.module:
                found.add(node.module.split(".")[0])
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tokensmith."):
                found.add((node.module or "").split(".")[1])
            elif isinstance(node, ast.Import):
                found.update(
                    a.name.split(".")[1] for a in node.names if a.name.startswith("tokensmith.")
                )
    return found - {package} - HELPERS


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
