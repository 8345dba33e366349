"""Names a package serves from its submodules on first use (PEP 562), so that importing the
package does not import what only some of its names need (joserfc, httpx, the server's stack)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


def lazy_getattr(package: str, modules: Mapping[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``package`` serving each name in ``modules`` from the
    submodule it maps to (relative, e.g. ``"._source"``); the value is then kept in the package.

    The returned function raises AttributeError for any other name.
    """

    def __getattr__(name: str) -> object:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        setattr(importlib.import_module(package), name, value)
        return value

    return __getattr__
