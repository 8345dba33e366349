"""The two drivers of a flow: :func:`run_sync` and :func:`run_async` carry out what a flow
yields (see ``_flow``) and decide nothing themselves; requests go out through httpx."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread
import httpx

from ._flow import (
    Flow,
    HTTPRequest,
    HTTPResponse,
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
            if isinstance(step, Send):
                value = send_sync(http(), step.request)
            elif isinstance(step, Join):
                value = step.flights.join(in_loop=False)
            elif isinstance(step, Wait):
                if step.flight.blocks_this_thread:
                    raise WouldDeadlock(
                        "a blocking call waited for a renewal that a task on this thread's "
                        "event loop is making; use the async API from async code"
                    )
                step.flight.wait()
            elif isinstance(step, Sleep):
                sleep(step.seconds)
            elif inspect.iscoroutinefunction(step.fn):
                raise async_refused(step.fn)
            else:
                value = step.fn(*step.args)
        except BaseException as exc:  # thrown into the flow, which decides
            error = exc


async def run_async(flow: Flow[T], http: Callable[[], httpx.AsyncClient]) -> T:
    """Drive ``flow`` to its return value without blocking the event loop (asyncio or trio).

    Blocking functions run in a worker thread unless marked ``inline``; errors are thrown into
    the flow as in :func:`run_sync`.
    """
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
            if isinstance(step, Send):
                value = await send_async(http(), step.request)
            elif isinstance(step, Join):
                value = step.flights.join(in_loop=True)
            elif isinstance(step, Wait):
                await step.flight.wait_async()
            elif isinstance(step, Sleep):
                await anyio.sleep(step.seconds)
            elif inspect.iscoroutinefunction(step.fn):
                value = await step.fn(*step.args)
            elif step.inline:
                value = step.fn(*step.args)
            else:
                value = await anyio.to_thread.run_sync(step.fn, *step.args)
        except BaseException as exc:
            error = exc


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
