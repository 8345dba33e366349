"""Event logs: what happened to the service, one event per line, for operators.

:func:`emit` writes an event (a name and its fields) to the logger ``tokensmith.events`` and
hands it to every observer registered with :func:`observe` (the metrics count from there, so
that a call site reports once). Events that concern security or the operator are logged at INFO
(failed client authentication, refresh-token reuse, rate-limit refusals, key and secret
rotation, realm and client changes, startup) or WARNING (the database became unavailable); the
per-request ones (``token_issued``, ``database_error``) at DEBUG, so that they cost a level check
unless asked for.

The standard library's ``logging`` and a JSON formatter of our own rather than structlog: the
service already logs through ``logging`` (uvicorn's lines, ours), which structlog would have
to be bridged into for both to come out in one format; the formatter is ~60 lines; and the
supervisor of ``serve --workers N`` (the standard library only) writes its lines with it too.
A record of an event carries an :class:`Event` as its message, so any ``logging`` formatter
prints it as ``event=NAME key=value ...`` (``--log-format text``), and :class:`JsonFormatter`
prints one JSON object per line with ``time``, ``level``, ``logger``, ``event`` and the fields
(``--log-format json``), uvicorn's own lines included.

Field values are never secrets or tokens (no call site passes one). Text that a caller chose
(a presented client id) is cut at :data:`MAX_TEXT` characters and written so that it stays on
one line: control characters, quotes and anything outside printable ASCII are escaped.

The standard library only: ``_supervisor`` imports this module.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TextIO

LOGGER_NAME = "tokensmith.events"
logger = logging.getLogger(LOGGER_NAME)

MAX_TEXT = 128
"""Characters of a text field kept (a client id as presented is attacker-controlled)."""

DEBUG_EVENTS = frozenset({"token_issued", "database_error"})
WARNING_EVENTS = frozenset({"database_unavailable"})

Fields = Mapping[str, object]
Observer = Callable[[str, Fields], None]

_observers: list[Observer] = []
_PLAIN = re.compile(r"[A-Za-z0-9._:/@+\-\[\]]+")


class Event:
    """An event as a log record's message: its name and fields; ``str()`` is its text form."""

    __slots__ = ("fields", "name")

    def __init__(self, name: str, fields: Fields) -> None:
        self.name = name
        self.fields = fields

    def __str__(self) -> str:
        parts = [f"event={self.name}"]
        parts += [f"{key}={_text_value(value)}" for key, value in self.fields.items()]
        return " ".join(parts)


def clip(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` cut to ``limit`` characters (marked with ``…`` when cut)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def observe(observer: Observer) -> Callable[[], None]:
    """Call ``observer(name, fields)`` for every event from now on; returns the function that
    stops it. An observer must be quick and must not raise (the hot path calls it)."""
    _observers.append(observer)

    def stop() -> None:
        if observer in _observers:
            _observers.remove(observer)

    return stop


_actor: contextvars.ContextVar[Fields | None] = contextvars.ContextVar("actor", default=None)


@contextlib.contextmanager
def acting(**who: str) -> Iterator[None]:
    """While the block runs (in this task or thread), every event also names who caused it:
    ``via`` (``admin-api``, ``cli``), ``by`` (the admin client or the system user) and, over
    HTTP, ``address``, as Keycloak's admin events keep their authentication details."""
    token = _actor.set(who)
    try:
        yield
    finally:
        _actor.reset(token)


def actor() -> Fields | None:
    """Who causes what happens now: the fields of the innermost :func:`acting` block, or None
    outside one (the service itself, or a program using :class:`~tokensmith.server.Admin`)."""
    return _actor.get()


def emit(name: str, /, **fields: object) -> None:
    """Report event ``name`` with ``fields``: to every observer, and to the ``tokensmith.events``
    logger at the event's level (DEBUG for per-request events, WARNING for the database going
    away, else INFO). String fields are cut at :data:`MAX_TEXT` characters. Inside
    :func:`acting`, the actor's fields follow."""
    who = _actor.get()
    if who is not None:
        fields.update(who)
    for key, value in fields.items():
        if isinstance(value, str) and len(value) > MAX_TEXT:
            fields[key] = clip(value)
    for observer in _observers:
        observer(name, fields)
    if name in DEBUG_EVENTS:
        level = logging.DEBUG
    else:
        level = logging.WARNING if name in WARNING_EVENTS else logging.INFO
    if logger.isEnabledFor(level):
        logger.log(level, Event(name, fields))


def _text_value(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if _PLAIN.fullmatch(text):
        return text
    return json.dumps(text)  # quoted, escaped, ASCII: stays one line, unambiguous


class JsonFormatter(logging.Formatter):
    """One JSON object per line (ASCII, so no control or line-separator character survives):
    ``time`` (UTC, ISO 8601 with milliseconds), ``level``, ``logger``, ``event``, then the event's
    fields. A record that is not an event has its message as ``event``; uvicorn's access-log
    records become ``event: "http_request"`` with ``client``, ``method``, ``path``, ``http`` and
    ``status``; an exception's traceback goes in ``exception``."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        line: dict[str, Any] = {
            "time": _utc(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        message = record.msg
        if isinstance(message, Event):
            line["event"] = message.name
            for key, value in message.fields.items():
                line.setdefault(key, value)
        elif record.name == "uvicorn.access" and isinstance(record.args, tuple):
            line["event"] = "http_request"
            if len(record.args) == 5:
                client, method, path, version, status = record.args
                line.update(client=client, method=method, path=path, http=version)
                line["status"] = status
        else:
            line["event"] = record.getMessage()
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, separators=(",", ":"))


def json_line(level: str, logger_name: str, message: str) -> str:
    """A log line as :class:`JsonFormatter` writes it, for a process without ``logging`` set up
    (the supervisor)."""
    line = {"time": _utc(time.time()), "level": level, "logger": logger_name, "event": message}
    return json.dumps(line, separators=(",", ":"))


def _utc(created: float) -> str:
    seconds = int(created)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{stamp}.{int((created - seconds) * 1000):03d}Z"


class TextFormatter(logging.Formatter):
    """``LEVEL:`` padded as uvicorn pads it, then the message (an event's ``event=NAME
    key=value ...``): the admin commands' lines look like the service's."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of text."""
        return f"{(record.levelname + ':').ljust(9)} {record.getMessage()}"


class _Stderr(logging.StreamHandler[TextIO]):
    """A handler writing to whatever ``sys.stderr`` is at the time of each record."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


@contextlib.contextmanager
def log_to_stderr(log_format: str = "text", level: str = "info") -> Iterator[None]:
    """While the block runs, write this process's events (a CLI command's) to standard error in
    ``log_format`` (``text``: as :class:`TextFormatter`; ``json``: as :class:`JsonFormatter`),
    from ``level`` up."""
    handler = _Stderr()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if level == "trace" else level.upper())
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
