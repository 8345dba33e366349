"""The one error tree, drawn at the top of ``tokensmith.oauth._errors``; RFC JSON rendering."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

from tokensmith.oauth import (
    ConfigurationError,
    MalformedJWT,
    ServerError,
    TokensmithError,
    _errors,
    error_body,
)

PACKAGES = ("client", "cli", "core", "oauth", "resource", "server", "store")


def drawn_tree() -> dict[str, str | None]:
    """Each class the drawing names, with the class drawn as its parent (None for the root)."""
    lines = _errors.__doc__.split("::\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    parents: dict[str, str | None] = {}
    stack: list[str] = []
    for line in lines:
        match = re.match(r"[\s│├└─]*", line)
        assert match is not None
        depth = (match.end() - 4) // 4
        name = line[match.end() :].split()[0]
        del stack[depth:]
        parents[name] = stack[-1] if stack else None
        stack.append(name)
    return parents


def public_error_classes() -> dict[str, type[TokensmithError]]:
    # Every module, not only each package: the packages import some of theirs lazily.
    for package in PACKAGES:
        module = importlib.import_module(f"tokensmith.{package}")
        for info in pkgutil.walk_packages(module.__path__, f"{module.__name__}."):
            if ".migrations" not in info.name:
                importlib.import_module(info.name)
    found: dict[str, type[TokensmithError]] = {}
    todo: list[type[TokensmithError]] = [TokensmithError]
    while todo:
        cls = todo.pop()
        if not cls.__name__.startswith("_") and cls.__module__.startswith("tokensmith."):
            found[cls.__name__] = cls
        todo.extend(cls.__subclasses__())
    return found


def test_the_drawing_names_every_error_class_under_its_parent() -> None:
    """Every public subclass of TokensmithError is drawn, under the class it derives from."""
    classes = public_error_classes()

    drawn = drawn_tree()

    assert set(drawn) == set(classes)
    for name, parent in drawn.items():
        bases = [b.__name__ for b in classes[name].__bases__ if issubclass(b, TokensmithError)]
        assert bases == ([] if parent is None else [parent]), name


@pytest.mark.parametrize("package", ["server", "store", "client", "resource"])
def test_every_package_raises_only_errors_under_the_root(package: str) -> None:
    """Every exception class a package exports derives from TokensmithError."""
    module = importlib.import_module(f"tokensmith.{package}")

    exported = [getattr(module, name) for name in module.__all__]

    for obj in exported:
        if isinstance(obj, type) and issubclass(obj, BaseException):
            assert issubclass(obj, TokensmithError), obj


def test_argument_errors_are_also_value_errors() -> None:
    """Errors that report a bad argument stay catchable as ValueError."""
    from tokensmith.server import AdminError

    for cls in (AdminError, ConfigurationError, MalformedJWT):
        assert issubclass(cls, TokensmithError)
        assert issubclass(cls, ValueError)


def test_server_error_renders_as_the_rfc_code() -> None:
    """A service fault is answered 500 with the RFC 6749 §4.1.2.1 code and no description."""
    err = ServerError()

    assert (err.status_code, error_body(err)) == (500, b'{"error":"server_error"}')
