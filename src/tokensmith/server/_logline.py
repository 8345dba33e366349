"""One log line as ``--log-format json`` writes it, on ``json`` and ``time`` alone: the supervisor
of ``serve --workers N`` writes its lines with it without importing ``logging`` (~1 MB of a
process that lives as long as the service), and :class:`~._events.JsonFormatter` stamps its
lines with the same clock format."""

from __future__ import annotations

import json
import time


def json_line(level: str, logger_name: str, message: str) -> str:
    """A log line as :class:`~._events.JsonFormatter` writes it, for a process without
    ``logging`` set up (the supervisor)."""
    line = {"time": utc_stamp(time.time()), "level": level, "logger": logger_name, "event": message}
    return json.dumps(line, separators=(",", ":"))


def utc_stamp(created: float) -> str:
    """``created`` (seconds since the epoch) in UTC as ISO 8601 with milliseconds."""
    seconds = int(created)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{stamp}.{int((created - seconds) * 1000):03d}Z"
