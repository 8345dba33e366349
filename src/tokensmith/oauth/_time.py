"""Clocks. Everything that checks expiry takes a clock so that tests can freeze time."""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]
"""A function returning the current time in seconds since the epoch."""

system_clock: Clock = time.time
