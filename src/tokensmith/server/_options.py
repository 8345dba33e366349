"""What ``tokensmith serve``'s process options may be, and how their text reads.

The standard library only: the command line's parser takes its choices from here without loading
the service, and :mod:`._settings` reads the same options from ``TOKENSMITH_*`` variables with the
same readers. Each reader raises :class:`ValueError` with a message that quotes the text and says
what was expected; the caller names where the text came from (an option or a variable).
"""

from __future__ import annotations

from collections.abc import Callable

LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
LOG_FORMATS = ("text", "json")
LOOPS = ("auto", "asyncio", "uvloop")
HTTP_PARSERS = ("auto", "h11", "httptools")

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def port(text: str) -> int:
    """A TCP port number, 0 to 65535 (0: any free port).

    Raises:
        ValueError: not such a number.
    """
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise ValueError(f"port {value} is not between 0 and 65535")
    return value


def positive(text: str) -> int:
    """A whole number of at least 1.

    Raises:
        ValueError: not such a number.
    """
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise ValueError(f"{value} must be at least 1")
    return value


def boolean(text: str) -> bool:
    """True for ``1``, ``true``, ``yes`` or ``on``, False for ``0``, ``false``, ``no`` or ``off``,
    in any case.

    Raises:
        ValueError: any other text.
    """
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f"{text!r} is not a boolean; use 1/0, true/false, yes/no or on/off")


def one_of(choices: tuple[str, ...]) -> Callable[[str], str]:
    """A reader of one of ``choices`` (exactly as written there)."""

    def read(text: str) -> str:
        if text not in choices:
            raise ValueError(f"{text!r} is not one of {', '.join(choices)}")
        return text

    return read
