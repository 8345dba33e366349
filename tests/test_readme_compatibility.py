"""The README's compatibility table cannot drift from what the tests run: every test file it
names exists, every Python package version it names is the dev group's pin, and every Node
package version is the one its lock file installs."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = [
    "client or server",
    "version",
    "direction",
    "what works",
    "settings needed",
    "proved by",
]
PYTHON_PIN = re.compile(r"`([A-Za-z0-9][A-Za-z0-9._-]*)==([^`]+)`")
NODE_PIN = re.compile(r"`(@?[A-Za-z0-9][A-Za-z0-9._/-]*)@([0-9][^`]*)`")
TEST_FILE = re.compile(r"`(tests/[^`]+\.py)`")


def cells(line: str) -> list[str]:
    """The cells of a Markdown table row; ``\\|`` inside a cell is text, not a separator."""
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def compatibility_rows() -> list[dict[str, str]]:
    """The rows of the table in the README's "Compatibility" section, by column name.

    Raises AssertionError when the section, its table or a column is missing.
    """
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Compatibility\n", 1)
    assert len(section) == 2, "README.md has no '## Compatibility' section"
    body = section[1].split("\n## ", 1)[0]
    table = [line for line in body.splitlines() if line.startswith("|")]
    assert table, "the Compatibility section has no table"
    assert [cell.lower() for cell in cells(table[0])] == COLUMNS
    rows = [dict(zip(COLUMNS, cells(line), strict=True)) for line in table[2:]]
    assert rows, "the compatibility table has no rows"
    return rows


def dev_pins() -> dict[str, str]:
    """The dev group's ``name==version`` pins, by canonical package name."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = {}
    for line in project["dependency-groups"]["dev"]:
        requirement = Requirement(line)
        versions = [spec.version for spec in requirement.specifier if spec.operator == "=="]
        if versions:
            pins[canonicalize_name(requirement.name)] = versions[0]
    return pins


def node_locked() -> dict[str, set[str]]:
    """The versions each Node package is installed at by the lock files under tests/."""
    locked: dict[str, set[str]] = {}
    for lock in ROOT.glob("tests/*/package-lock.json"):
        for path, package in json.loads(lock.read_text())["packages"].items():
            if path.startswith("node_modules/") and "version" in package:
                name = path.rsplit("node_modules/", 1)[1]
                locked.setdefault(name, set()).add(package["version"])
    return locked


def test_every_row_names_test_files_that_exist() -> None:
    """Each row names at least one test file, and every file named is in the repository."""
    named = {
        row["client or server"]: TEST_FILE.findall(row["proved by"]) for row in compatibility_rows()
    }

    assert all(named.values()), [who for who, files in named.items() if not files]
    missing = [f for files in named.values() for f in files if not (ROOT / f).is_file()]
    assert missing == []


def test_python_versions_are_the_dev_group_pins() -> None:
    """Every ``name==version`` in the version column is pinned exactly so in the dev group."""
    pins = dev_pins()
    table = [
        (canonicalize_name(name), version)
        for row in compatibility_rows()
        for name, version in PYTHON_PIN.findall(row["version"])
    ]

    assert table
    assert [(name, pins.get(name)) for name, _ in table] == table


def test_node_versions_are_the_locked_ones() -> None:
    """Every ``name@version`` in the version column is what a lock file under tests/ installs."""
    locked = node_locked()
    table = [
        (name, version)
        for row in compatibility_rows()
        for name, version in NODE_PIN.findall(row["version"])
    ]

    assert table
    assert [(name, version) for name, version in table if version not in locked.get(name, ())] == []


def test_every_version_is_checked_or_from_debian() -> None:
    """A version the two tests above cannot check is one a Debian package provides."""
    unchecked = [
        row["client or server"]
        for row in compatibility_rows()
        if not PYTHON_PIN.search(row["version"])
        and not NODE_PIN.search(row["version"])
        and "Debian" not in row["version"]
    ]

    assert unchecked == []
