"""Argument types for the command line, and readers of the arguments that name files or claims."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from ..server import _options as options

JSON_HELP = "print JSON (keys as documented in the README) instead of text; never a secret"

_DURATION = re.compile(r"(\d+)\s*(s|m|h|d)?")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def duration(text: str) -> int:
    """Seconds from ``300``, ``30s``, ``5m``, ``24h`` or ``7d``.

    Raises:
        argparse.ArgumentTypeError: the text is not a duration.
    """
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration; write seconds (300) or 30s, 5m, 24h, 7d"
        )
    return int(match.group(1)) * _UNITS[match.group(2)]


def port(text: str) -> int:
    """A TCP port number.

    Raises:
        argparse.ArgumentTypeError: not an integer between 0 and 65535.
    """
    try:
        return options.port(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive(text: str) -> int:
    """A positive integer.

    Raises:
        argparse.ArgumentTypeError: not an integer of at least 1.
    """
    try:
        return options.positive(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def read_jwks(path: Path | None) -> dict[str, object] | None:
    """The JWKS document in the file at ``path`` (None for None).

    Raises:
        AdminError: the file cannot be read, is not JSON, or holds no JSON object.
    """
    from ..server import AdminError  # the server's dependencies load only when a command runs

    if path is None:
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise AdminError(f"cannot read JWKS file {path}: {exc}") from None
    if not isinstance(data, dict):
        raise AdminError(f"{path} is not a JWKS document")
    return data


def static_claims(pairs: list[str]) -> dict[str, object]:
    """Claims from ``NAME=VALUE`` arguments; a VALUE that is JSON (a number, a boolean, a list,
    an object) is that value, any other is the string.

    Raises:
        AdminError: an argument has no ``=`` or no name.
    """
    from ..server import AdminError

    claims: dict[str, object] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise AdminError(f"--claim {pair!r} must be NAME=VALUE")
        try:
            claims[name] = json.loads(value)
        except ValueError:
            claims[name] = value
    return claims
