"""Scope values (RFC 6749 §3.3)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from ._errors import InvalidScope

_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


def parse_scope(value: str | None) -> frozenset[str]:
    """Split a space-delimited scope string into a set of scope tokens.

    Raises:
        InvalidScope: a scope token holds a character RFC 6749 §3.3 does not allow.
    """
    if not value:
        return frozenset()
    tokens = value.split(" ")
    for token in tokens:
        if token and not _SCOPE_TOKEN.fullmatch(token):
            raise InvalidScope("the scope holds a character that RFC 6749 §3.3 does not allow")
    return frozenset(t for t in tokens if t)


def format_scope(scopes: Iterable[str]) -> str:
    """Join scope tokens into the space-delimited form, sorted so that equal sets print equally."""
    return " ".join(sorted(scopes))
