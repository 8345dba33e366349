"""Argument types for the command line."""

from __future__ import annotations

import argparse
import re

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
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is not between 0 and 65535")
    return value


def positive(text: str) -> int:
    """A positive integer.

    Raises:
        argparse.ArgumentTypeError: not an integer of at least 1.
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value
