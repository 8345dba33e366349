"""The two drivers of a flow: :func:`run_sync` and :func:`run_async` carry out what a flow
yields (see ``_flow``); requests go out through httpx. They decide only what the caller's kind
forces: a blocking caller cannot run an async function, nor wait for a task of its own loop."""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.to_thread
import httpx

from ._flow import (
    Call,
    Flow,
    HTTPRequest,
    HTTPResponse,
    Instruction,
    Join,
    Send,
    Sleep,
    T,
    TransportFailure,
    Wait,
    WouldDeadlock,
)


def _async_refused(fn: Callable[..., Any]) -> BaseException:
    return TypeError(f"{getattr(fn, '__name__', 'the function')} is async: use the async API")


async def _drive(flow: Flow[T], carry_out: Callable[[Instruction], Awaitable[Any]]) -> T:
    """The one loop of both drivers: resume ``flow`` with each instruction's result, or throw
    the instruction's error into it (the flow decides), until it returns."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = flow.throw(error) if error is not None else flow.send(value)
        except StopIteration as stop:
            result: T = stop.value
            return result
        value, error = None, None
        try:
            value = await carry_out(step)
        except BaseException as exc:  # thrown into the flow, which decides
            error = exc


def run_sync(
    flow: Flow[T],
    http: Callable[[], httpx.Client],
    *,
    sleep: Callable[[float], None] = time.sleep,
    async_refused: Callable[[Callable[..., Any]], BaseException] = _async_refused,
) -> T:
    """Drive ``flow`` to its return value, blocking; ``http()`` gives the client to send with.

    Errors of an instruction (and :class:`TransportFailure` for a request without an answer) are
    thrown into the flow, which decides; what the flow raises propagates. ``async_refused``
    makes the error thrown for an async function, which a sync caller cannot run.
    """

    async def carry_out(step: Instruction) -> Any:  # blocks; never suspends the coroutine
        if isinstance(step, Send):
            return send_sync(http(), step.request)
        if isinstance(step, Join):
            return step.flights.join(in_loop=False)
        if isinstance(step, Wait):
            if step.flight.blocks_this_thread:
                raise WouldDeadlock(
                    "a blocking call waited for a renewal that a task on this thread's "
                    "event loop is making; use the async API from async code"
                )
            return step.flight.wait()
        if isinstance(step, Sleep):
            return sleep(step.seconds)
        if inspect.iscoroutinefunction(step.fn):
            raise async_refused(step.fn)
        return step.fn(*step.args)

    # The shared loop is a coroutine, but nothing it awaits here suspends: one send runs it to
    # the end, with no event loop.
    running = _drive(flow, carry_out)
    try:
        running.send(None)
    except StopIteration as stop:
        result: T = stop.value
        return result
    running.close()
    raise RuntimeError("a blocking driver's step suspended")  # pragma: no cover


async def run_async(flow: Flow[T], http: Callable[[], Awaitable[httpx.AsyncClient]]) -> T:
    """Drive ``flow`` to its return value without blocking the event loop (asyncio or trio);
    ``await http()`` gives the client to send with.

    Blocking functions run in a worker thread unless marked ``inline``; errors are thrown into
    the flow as in :func:`run_sync`.
    """

    async def carry_out(step: Instruction) -> Any:
        if isinstance(step, Send):
            return await send_async(await http(), step.request)
        if isinstance(step, Join):
            return step.flights.join(in_loop=True)
        if isinstance(step, Wait):
            return await step.flight.wait_async()
        if isinstance(step, Sleep):
            return await anyio.sleep(step.seconds)
        if inspect.iscoroutinefunction(step.fn):
            return await step.fn(*step.args)
        if step.inline:
            return step.fn(*step.args)
        return await _in_thread(step)

    return await _drive(flow, carry_out)


async def _in_thread(step: Call) -> Any:
    """Run a blocking call in a worker thread of its own limiter: a leader must never wait for
    a slot of anyio's default limiter, which its own waiters (sync callers run through
    ``to_thread``) may hold. If the caller is cancelled before the result reaches it, the
    result goes to ``step.undo``."""
    if step.undo is None:
        return await anyio.to_thread.run_sync(step.fn, *step.args, limiter=anyio.CapacityLimiter(1))
    lock = threading.Lock()
    outcome: list[Any] = []  # the result, once the call has returned
    abandoned = False

    def call() -> Any:
        result = step.fn(*step.args)
        with lock:
            outcome.append(result)
            if not abandoned:
                return result
        assert step.undo is not None
        step.undo(result)
        return result

    try:
        return await anyio.to_thread.run_sync(call, limiter=anyio.CapacityLimiter(1))
    except BaseException:
        with lock:
            abandoned = True
            finished = bool(outcome)
        if finished:  # the result came back just as the caller was cancelled
            step.undo(outcome[0])
        raise


def send_sync(client: httpx.Client, request: HTTPRequest) -> HTTPResponse:
    """Send ``request``; a request without an answer raises :class:`TransportFailure`."""
    try:
        response = client.request(
            request.method, request.url, content=request.body or None, headers=dict(request.headers)
        )
    except httpx.TransportError as exc:
        raise TransportFailure(type(exc).__name__) from None
    return HTTPResponse(response.status_code, _headers(response), response.content)


async def send_async(client: httpx.AsyncClient, request: HTTPRequest) -> HTTPResponse:
    """As :func:`send_sync`, awaiting."""
    try:
        response = await client.request(
            request.method, request.url, content=request.body or None, headers=dict(request.headers)
        )
    except httpx.TransportError as exc:
        raise TransportFailure(type(exc).__name__) from None
    return HTTPResponse(response.status_code, _headers(response), response.content)


def _headers(response: httpx.Response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items()}
