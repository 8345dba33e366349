"""A constant-rate (open-loop) HTTP/1.1 load driver, in the manner of wrk2.

Requests are sent at a fixed target rate spread over K keep-alive connections, whatever the
server does, and each request's latency is measured from the time it was *meant* to be sent.

How it avoids coordinated omission: a closed-loop driver (wrk, ab) sends the next request only
when the previous answer is back, so while the server stalls it stops asking, and the stall is
recorded once, as one slow request, instead of as the many requests that real clients would have
sent and that would all have waited. Here the schedule is fixed before the run: request ``i`` is
meant to leave at ``start + i / rate`` on connection ``i % K`` (so each connection has its own
evenly spaced schedule, staggered against the others). A connection carries one request at a time
(no pipelining); when a request's time comes while its connection still waits for an answer, the
request waits in that connection's queue and leaves as soon as the answer arrives. Its latency is
still counted from the scheduled time, so the time it queued behind a slow answer is part of its
latency, as it would be for a real client. When a request leaves early (the driver wakes up to
half a millisecond before a batch of scheduled times, see ``SLACK``), its latency is counted
from when it actually left. The driver's own lateness (a busy process, the event loop's
millisecond timers) therefore counts against the server; it is reported as ``send lag`` so that
one can tell when the driver, not the server, was the bottleneck.

Requests still queued or unanswered when the run ends get ``drain`` seconds to finish; the ones
that do not are counted as errors. The achieved rate counts only the answers that arrived within
the run's duration, so a server that falls behind shows a rate below the target.

It is built for low CPU per request: raw asyncio Protocols (uvloop when installed), a request is
bytes built once (or by a callback, for request bodies that depend on the previous answer), and
the response parser reads only the status line and Content-Length. The garbage collector is off
during the run (a collection pause would be counted against the server). ``RateResult.cpu_seconds``
says how much CPU the driver itself used: measured against a bare ASGI app, one process sends
8,000 requests/s with ~20 % of one core (12,000/s with ~25 %), so one driver process is enough
for this machine's half loads.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import time
from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

#: Seconds ahead of its scheduled time a request may leave, when the driver wakes up for an
#: earlier one (event-loop timers wake with millisecond granularity).
SLACK = 0.0005
#: The shortest sleep between two batches of sends, in seconds.
TICK = 0.001

Probe = Callable[[], dict[str, float]]
"""Reads counters (CPU seconds, say) at the start and the end of the recorded seconds."""
RequestFactory = Callable[[int], bytes]
"""Builds the next request (whole HTTP/1.1 message) for connection ``index``."""
ResponseHook = Callable[[int, int, bytes], None]
"""Called with ``(connection index, status, body)`` for every answer."""


@dataclass
class RateResult:
    """What one run measured. Latencies are in milliseconds."""

    target_rate: float
    seconds: float
    connections: int
    latencies: array[float] = field(default_factory=lambda: array("d"))
    send_lags: array[float] = field(default_factory=lambda: array("d"))
    in_window: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    cpu_seconds: float = 0.0
    probed: dict[str, float] = field(default_factory=dict)
    """What ``probe`` (see :func:`run`) changed by over the recorded seconds, per key."""

    @property
    def achieved_rate(self) -> float:
        """Answers that arrived within the run, per second."""
        return self.in_window / self.seconds

    @property
    def non_200(self) -> int:
        """Answers whose status was not 200."""
        return sum(n for status, n in self.statuses.items() if status != 200)

    def percentile(self, p: float, values: array[float] | None = None) -> float:
        """The ``p``-th percentile (0-100) of the latencies (or of ``values``), nearest rank."""
        data = sorted(self.latencies if values is None else values)
        if not data:
            return float("nan")
        return data[max(0, min(len(data), math.ceil(p / 100 * len(data))) - 1)]

    def summary(self) -> str:
        """One line: target and achieved rate, percentiles, errors and the driver's CPU."""
        pct = "  ".join(f"p{p} {self.percentile(p):6.2f} ms" for p in (50, 90, 99))
        lag = self.percentile(99, self.send_lags)
        return (
            f"target {self.target_rate:7.0f}/s  achieved {self.achieved_rate:7.0f}/s  {pct}  "
            f"max {max(self.latencies, default=float('nan')):6.2f} ms  "
            f"non-200 {self.non_200}  errors {self.errors}  "
            f"(driver: send lag p99 {lag:.2f} ms, "
            f"CPU {100 * self.cpu_seconds / self.seconds:.0f} % of a core)"
        )


class _Connection(asyncio.Protocol):
    """One keep-alive connection with its queue of scheduled send times."""

    __slots__ = (
        "buffer",
        "driver",
        "index",
        "queue",
        "sent_at",
        "transport",
        "waiting",
    )

    def __init__(self, driver: _Driver, index: int) -> None:
        self.driver = driver
        self.index = index
        self.queue: deque[float] = deque()
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiting = False
        self.sent_at = 0.0  # when the answered request counts from

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.waiting:
            self.waiting = False
            self.driver.result.errors += 1
        self.buffer.clear()
        self.driver.reconnect(self)

    def send(self, intended: float) -> float:
        """Send the request scheduled for ``intended`` now (the connection is idle); the time."""
        now = time.perf_counter()
        self.sent_at = min(intended, now)
        self.waiting = True
        assert self.transport is not None
        self.transport.write(self.driver.request(self.index))
        return now

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(buffer[:end]).lower()
        at = head.find(b"\r\ncontent-length:")
        if at < 0:  # every answer of an ASGI server on keep-alive has one
            raise ValueError("the server answered without Content-Length")
        stop = head.find(b"\r\n", at + 2)
        length = int(head[at + 17 : stop if stop > 0 else len(head)])
        total = end + 4 + length
        if len(buffer) < total:
            return
        now = time.perf_counter()
        status = int(head[9:12])
        body = bytes(buffer[end + 4 : total])
        del buffer[:total]
        self.waiting = False
        self.driver.answered(self, now, status, body)
        if self.queue and self.transport is not None:
            self.send(self.queue.popleft())


class _Driver:
    def __init__(
        self,
        host: str,
        port: int,
        request: RequestFactory,
        on_response: ResponseHook | None,
        result: RateResult,
        probe: Probe | None = None,
    ) -> None:
        self.probe = probe
        self.host = host
        self.port = port
        self.request = request
        self.on_response = on_response
        self.result = result
        self.connections: list[_Connection] = []
        self.window_end = float("inf")
        self.record = False
        self.closing = False
        self.tasks: set[asyncio.Task[None]] = set()

    async def open(self, count: int) -> None:
        loop = asyncio.get_running_loop()
        for i in range(count):
            conn = _Connection(self, i)
            await loop.create_connection(lambda c=conn: c, self.host, self.port)  # type: ignore[misc]
            self.connections.append(conn)

    def reconnect(self, conn: _Connection) -> None:
        if self.closing:
            return
        loop = asyncio.get_running_loop()

        async def again() -> None:
            try:
                await loop.create_connection(lambda: conn, self.host, self.port)
            except OSError:
                self.result.errors += 1 + len(conn.queue)
                conn.queue.clear()
                return
            if conn.queue:
                conn.send(conn.queue.popleft())

        task = loop.create_task(again())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def answered(self, conn: _Connection, now: float, status: int, body: bytes) -> None:
        result = self.result
        if self.on_response is not None:
            self.on_response(conn.index, status, body)
        if not self.record:
            return
        result.latencies.append((now - conn.sent_at) * 1000)
        result.statuses[status] = result.statuses.get(status, 0) + 1
        if now <= self.window_end:
            result.in_window += 1

    def outstanding(self) -> int:
        return sum(len(c.queue) + c.waiting for c in self.connections)

    async def run(self, rate: float, seconds: float, warmup: float, drain: float) -> None:
        """Send at ``rate`` for ``warmup`` seconds unrecorded, then ``seconds`` recorded."""
        if warmup > 0:
            await self.schedule(rate, warmup, drain)
        self.record = True
        before = self.probe() if self.probe is not None else {}
        cpu = time.process_time()
        await self.schedule(rate, seconds, drain)
        self.result.cpu_seconds = time.process_time() - cpu
        if self.probe is not None:
            after = self.probe()
            self.result.probed = {key: after[key] - before[key] for key in before}
        self.result.errors += self.outstanding()

    async def schedule(self, rate: float, seconds: float, drain: float) -> None:
        """Send ``seconds * rate`` requests on their schedule, then wait up to ``drain`` seconds
        for the answers."""
        connections = self.connections
        lags = self.result.send_lags if self.record else array("d")
        k = len(connections)
        interval = 1.0 / rate
        start = time.perf_counter() + 0.01
        self.window_end = start + seconds
        total = int(seconds * rate)
        i = 0
        while i < total:
            due = min(total, int((time.perf_counter() + SLACK - start) / interval) + 1)
            while i < due:
                conn = connections[i % k]
                intended = start + i * interval
                if conn.waiting or conn.queue or conn.transport is None:
                    conn.queue.append(intended)
                else:  # on time but for the event loop's timers and this loop's own work
                    lags.append(max(0.0, conn.send(intended) - intended) * 1000)
                i += 1
            # At least a millisecond: shorter sleeps round down to none in uvloop and spin.
            await asyncio.sleep(max(TICK, start + i * interval - SLACK - time.perf_counter()))
        deadline = time.perf_counter() + drain
        while self.outstanding() and time.perf_counter() < deadline:  # noqa: ASYNC110 (short)
            await asyncio.sleep(TICK)

    def close(self) -> None:
        self.closing = True
        for conn in self.connections:
            if conn.transport is not None:
                conn.transport.close()


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run(
    host: str,
    port: int,
    request: RequestFactory | bytes,
    *,
    rate: float,
    seconds: float,
    connections: int = 32,
    warmup: float = 1.0,
    drain: float = 5.0,
    on_response: ResponseHook | None = None,
    probe: Probe | None = None,
) -> RateResult:
    """Send ``request`` at ``rate`` per second over ``connections`` keep-alive connections for
    ``warmup`` seconds (not recorded), then ``seconds`` recorded; in this process.

    ``request`` is a whole HTTP/1.1 request (with ``Content-Length``) or a function of the
    connection index that builds the next one; ``on_response`` sees every answer (status and
    body), for request bodies that depend on the previous answer on that connection. ``probe``
    is read when the recorded seconds start and when their answers are in (or the drain ends);
    the differences are in ``RateResult.probed``.
    """
    if rate <= 0 or seconds <= 0 or connections <= 0:
        raise ValueError("rate, seconds and connections must be positive")
    factory: RequestFactory = (lambda _i, r=request: r) if isinstance(request, bytes) else request  # type: ignore[misc]
    result = RateResult(target_rate=rate, seconds=seconds, connections=connections)
    driver = _Driver(host, port, factory, on_response, result, probe)

    async def main() -> None:
        await driver.open(connections)
        try:
            await driver.run(rate, seconds, warmup, drain)
        finally:
            driver.close()

    loop = _new_loop()
    gc.collect()
    gc.disable()
    try:
        loop.run_until_complete(main())
    finally:
        gc.enable()
        with contextlib.suppress(Exception):
            loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    return result
