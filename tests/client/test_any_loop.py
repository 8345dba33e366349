"""The async client on any loop anyio runs (asyncio and trio), and one flight shared by threads
and tasks of one TokenSource."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import httpx
import pytest

from tokensmith.client import FileCache, Retry, TokenSource
from tokensmith.core import AsyncClients, WouldDeadlock

from .conftest import Answer, FakeOAuth, in_threads

BACKENDS = ["asyncio", "trio"]
T = TypeVar("T")
FAST = Retry(attempts=3, backoff=0.01, max_backoff=0.05)


def source(fake: FakeOAuth, **kwargs: Any) -> TokenSource:
    kwargs.setdefault("retry", FAST)
    return TokenSource(fake.token_url, client_id="svc", client_secret="s3cret-value", **kwargs)


async def wait_for_request(fake: FakeOAuth) -> None:
    """Return once the token endpoint has received a request."""
    with anyio.fail_after(5):
        while not fake.token_requests:  # noqa: ASYNC110 (the server's thread cannot set an Event)
            await anyio.sleep(0.01)


@pytest.mark.parametrize("backend", BACKENDS)
def test_200_tasks_make_one_request_without_blocking_the_loop(make_fake: Any, backend: str) -> None:
    """200 tasks finding no token make one request between them, and the loop keeps running."""
    fake = make_fake(delay=0.3)
    tokens: list[str] = []
    ticks = 0

    async def main() -> None:
        nonlocal ticks
        async with source(fake) as s:

            async def ask() -> None:
                tokens.append(await s.aaccess_token())

            async with anyio.create_task_group() as tasks:
                for _ in range(200):
                    tasks.start_soon(ask)
                while len(tokens) < 200:
                    await anyio.sleep(0.01)
                    ticks += 1

    anyio.run(main, backend=backend)

    assert len(fake.token_requests) == 1
    assert len(set(tokens)) == 1
    assert ticks >= 10  # 0.3 s of waiting, in steps of 10 ms: the loop was not blocked


@pytest.mark.parametrize("backend", BACKENDS)
def test_async_httpx_client_gets_the_bearer_token(fake: FakeOAuth, backend: str) -> None:
    """httpx.AsyncClient(auth=source) sends the source's token to the API."""

    async def main() -> int:
        async with source(fake) as s, httpx.AsyncClient(auth=s) as http:
            return (await http.get(fake.url + "/api")).status_code

    assert anyio.run(main, backend=backend) == 200
    assert len(fake.token_requests) == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_background_renewal_runs_and_stops_on_aclose(make_fake: Any, backend: str) -> None:
    """With background=True, a task renews 2-second tokens before anyone waits, and aclose
    stops it: no request follows the close."""
    fake = make_fake(lambda f, seen: Answer(body=f.issue(2), delay=0.2))

    async def main() -> float:
        slowest = 0.0
        async with source(fake, background=True) as s:
            await s.atoken()
            deadline = time.monotonic() + 3.5
            while time.monotonic() < deadline:
                started = time.perf_counter()
                await s.atoken()
                slowest = max(slowest, time.perf_counter() - started)
                await anyio.sleep(0.005)
        return slowest

    slowest = anyio.run(main, backend=backend)
    requests_at_close = len(fake.token_requests)
    time.sleep(2.0)  # two token lifetimes: a renewal task still running would have asked again

    assert requests_at_close >= 3
    assert slowest < 0.1
    assert len(fake.token_requests) == requests_at_close


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_task_waits_for_the_renewal_a_thread_leads(make_fake: Any, backend: str) -> None:
    """A task that finds no token while a thread is renewing gets the thread's token: one
    request between them."""
    fake = make_fake(delay=0.5)
    s = source(fake)
    from_thread: list[str] = []
    thread = threading.Thread(target=lambda: from_thread.append(s.access_token()))
    thread.start()

    async def main() -> str:
        await wait_for_request(fake)
        return await s.aaccess_token()

    from_task = anyio.run(main, backend=backend)
    thread.join(5)
    s.close()

    assert len(fake.token_requests) == 1
    assert from_thread == [from_task]


def while_a_task_renews(
    fake: FakeOAuth, backend: str, then: Callable[[TokenSource], Awaitable[T]]
) -> tuple[str, T]:
    """Start a task renewing the token of a new source; once its request has reached the
    endpoint, await ``then(source)``. Returns the task's token and what ``then`` returned."""

    async def main() -> tuple[str, T]:
        async with source(fake) as s:
            results: list[str] = []

            async def lead() -> None:
                results.append(await s.aaccess_token())

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(lead)
                await wait_for_request(fake)
                meanwhile = await then(s)
            return results[0], meanwhile

    return anyio.run(main, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_thread_waits_for_the_renewal_a_task_leads(make_fake: Any, backend: str) -> None:
    """A thread that finds no token while a task is renewing gets the task's token: one
    request between them."""
    fake = make_fake(delay=0.5)

    async def in_a_thread(s: TokenSource) -> str:
        return await anyio.to_thread.run_sync(s.access_token)

    from_task, from_thread = while_a_task_renews(fake, backend, in_a_thread)

    assert len(fake.token_requests) == 1
    assert from_task == from_thread


@pytest.mark.parametrize("backend", BACKENDS)
def test_blocking_call_on_the_loop_of_a_renewing_task_is_refused(
    make_fake: Any, backend: str
) -> None:
    """token() called on the event loop's thread while a task of that loop renews cannot wait
    (it would stop the loop, and the renewal with it): it raises WouldDeadlock at once."""
    fake = make_fake(delay=0.5)

    async def on_the_loop(s: TokenSource) -> type[BaseException] | None:
        try:
            s.token()
        except WouldDeadlock as exc:
            return type(exc)
        return None

    token, raised = while_a_task_renews(fake, backend, on_the_loop)

    assert raised is WouldDeadlock
    assert token.startswith("tok-")
    assert len(fake.token_requests) == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_sync_callers_in_worker_threads_cannot_starve_a_renewing_task(
    make_fake: Any, tmp_path: Any, backend: str
) -> None:
    """Sync callers run through anyio's worker threads (as FastAPI runs sync endpoints) that
    wait for a task's renewal do not take the thread the task needs for its shared-cache
    write: with the default limiter cut to 4 slots and 4 such callers, all get the token."""
    fake = make_fake(delay=0.5)
    s = source(fake, cache=FileCache(tmp_path))
    results: list[str] = []

    async def main() -> bool:
        anyio.to_thread.current_default_thread_limiter().total_tokens = 4

        async def lead() -> None:
            results.append(await s.aaccess_token())

        async def sync_caller() -> None:
            results.append(await anyio.to_thread.run_sync(s.access_token))

        with anyio.move_on_after(5) as deadline:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(lead)
                await wait_for_request(fake)
                for _ in range(4):
                    tasks.start_soon(sync_caller)
        return deadline.cancelled_caught

    stuck = anyio.run(main, backend=backend)
    s.close()

    assert not stuck
    assert len(results) == 5
    assert len(set(results)) == 1
    assert len(fake.token_requests) == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_tasks_waiting_for_a_thread_hold_no_threads(make_fake: Any, backend: str) -> None:
    """300 tasks waiting for a renewal that a thread leads are woken by their loop, not each
    parked in a worker thread."""
    fake = make_fake(delay=0.5)
    s = source(fake)
    leader = threading.Thread(target=s.token)
    leader.start()
    most_threads = 0

    async def main() -> None:
        nonlocal most_threads
        await wait_for_request(fake)
        async with anyio.create_task_group() as tasks:
            for _ in range(300):
                tasks.start_soon(s.atoken)
            await anyio.sleep(0.1)
            most_threads = threading.active_count()

    anyio.run(main, backend=backend)
    leader.join(5)
    s.close()

    assert len(fake.token_requests) == 1
    assert most_threads < 20


@pytest.mark.parametrize("backend", BACKENDS)
def test_aclose_during_a_renewal_leaves_no_background_task(make_fake: Any, backend: str) -> None:
    """A renewal still in flight when aclose() runs does not start background renewal anew."""
    fake = make_fake(lambda f, seen: Answer(body=f.issue(2), delay=0.3))

    async def main() -> None:
        s = source(fake, background=True)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(s.atoken)
            await wait_for_request(fake)
            await s.aclose()

    anyio.run(main, backend=backend)
    requests_at_close = len(fake.token_requests)
    time.sleep(2.0)  # a 2-second token: a live renewal task would have asked again

    assert len(fake.token_requests) == requests_at_close


def test_background_renewal_backs_off_while_the_endpoint_fails(make_fake: Any) -> None:
    """Past the renewal point, with the endpoint failing and the token still valid, the
    background thread tries about once a second, not in a tight loop."""
    failing = threading.Event()

    def script(f: FakeOAuth, seen: Any) -> Answer:
        if failing.is_set():
            return Answer(503, {"error": "temporarily_unavailable"})
        return Answer(body=f.issue(2))

    fake = make_fake(script)
    s = source(fake, background=True, retry=Retry(attempts=1))
    s.token()
    failing.set()
    time.sleep(1.95)  # the window measured: from 75 % of the 2 s lifetime to just before expiry
    s.close()

    failed = len(fake.token_requests) - 1
    assert 1 <= failed <= 2  # a tight loop makes about ten


def test_one_source_serves_several_event_loops(make_fake: Any) -> None:
    """Four threads, each running its own event loop with 50 tasks asking one source for a
    token, all get it, with one request between them."""
    fake = make_fake(delay=0.2)
    s = source(fake)
    tokens: list[str] = []
    errors: list[BaseException] = []

    async def loop_of_tasks() -> None:
        async with anyio.create_task_group() as tasks:
            for _ in range(50):

                async def ask() -> None:
                    tokens.append(await s.aaccess_token())

                tasks.start_soon(ask)

    def run_loop() -> None:
        try:
            anyio.run(loop_of_tasks)
        except BaseException as exc:
            errors.append(exc)

    in_threads(run_loop, 4)
    s.close()

    assert errors == []
    assert len(tokens) == 200
    assert len(set(tokens)) == 1
    assert len(fake.token_requests) == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_async_http_clients_are_made_off_the_loop(backend: str) -> None:
    """The HTTP client of an async caller is made in a worker thread (making one loads the CA
    bundle, tens of milliseconds the loop would stall), once per loop."""
    made_on: list[int] = []

    def make() -> httpx.AsyncClient:
        made_on.append(threading.get_ident())
        return httpx.AsyncClient()

    clients = AsyncClients(make)

    async def main() -> bool:
        first = await clients.get()
        same = first is await clients.get()
        await clients.aclose()
        return same

    same = anyio.run(main, backend=backend)

    assert same
    assert len(made_on) == 1
    assert made_on[0] != threading.get_ident()


def test_a_cancelled_renewal_hands_over_to_its_waiters(make_fake: Any) -> None:
    """A task renewing the token is cancelled (a timeout) while two others wait for it: they
    get a token, not an error."""
    fake = make_fake(delay=1.0)

    async def main() -> list[object]:
        async with source(fake) as s:
            return await asyncio.gather(
                asyncio.wait_for(s.aaccess_token(), 0.2),
                s.aaccess_token(),
                s.aaccess_token(),
                return_exceptions=True,
            )

    first, second, third = asyncio.run(main())

    assert isinstance(first, TimeoutError)
    assert isinstance(second, str)
    assert second == third
