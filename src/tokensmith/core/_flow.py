"""What a flow yields: instructions for a driver, and the HTTP request and response it trades.

A flow is a generator that decides *what* to do (send this request, sleep, call this function,
wait for another caller's renewal) and receives the results; :func:`run_sync` and
:func:`run_async` only carry the instructions out (httpx's ``Auth.auth_flow`` idea). The logic is
written once, and the sync and async paths cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from ..oauth import TokensmithError

if TYPE_CHECKING:
    from ._flight import Flight, SingleFlight

T = TypeVar("T")


@dataclass(frozen=True)
class HTTPRequest:
    """A request to send; ``repr`` hides the body and headers (they may hold a secret)."""

    url: str
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(repr=False)
    method: str = "POST"


@dataclass(frozen=True)
class HTTPResponse:
    """What came back: status, headers with lower-case names, and the body."""

    status_code: int
    headers: Mapping[str, str]
    body: bytes = field(repr=False)


class TransportFailure(TokensmithError):
    """The request did not get an answer (connection refused, reset, timed out)."""


@dataclass(frozen=True)
class Send:
    """Send this request and resume with its :class:`HTTPResponse` (or throw TransportFailure)."""

    request: HTTPRequest


@dataclass(frozen=True)
class Sleep:
    """Wait this many seconds."""

    seconds: float


@dataclass(frozen=True)
class Call:
    """Call ``fn(*args)`` (a blocking function, or an async one) and resume with its result.

    ``inline`` calls run on the event loop's thread, even while the caller is being cancelled;
    keep them short (giving back a lock: a file unlock, one Redis round trip). ``undo``
    is called with the result of a blocking call whose caller was cancelled before the result
    reached it (say, to give back a lock the call took in a worker thread)."""

    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    inline: bool = False
    undo: Callable[[Any], object] | None = None


@dataclass(frozen=True)
class Join:
    """Join ``flights`` and resume with ``(flight, leader)``: lead a new flight (and finish it),
    or follow the one in progress (and :class:`Wait` for it). The driver says whether the caller
    is a thread or a task, which decides how its followers will wait."""

    flights: SingleFlight


@dataclass(frozen=True)
class Wait:
    """Wait until another caller's :class:`Flight` has finished, then resume (with None).

    A sync driver throws :class:`WouldDeadlock` instead when the leader is a task of the event
    loop on the caller's own thread."""

    flight: Flight


class WouldDeadlock(TokensmithError):
    """A blocking call waited for work that a task of the same thread's event loop is doing."""


Instruction: TypeAlias = Send | Sleep | Call | Join | Wait
Flow: TypeAlias = Generator[Instruction, Any, T]
