"""Token sources: the sync and async drivers of :class:`TokenCore`, with single flight, background
renewal and the 401 handling, as an ``httpx.Auth`` that works for ``httpx.Client`` and
``httpx.AsyncClient`` alike.

Single flight: however many threads (or tasks) find the token due, one of them (the leader) sends
the request; the others return the current token if it is still valid, or wait for the leader's
result or error. The async path awaits everything, so it never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from typing import Any

import anyio
import httpx

from ..oauth import Algorithm, Clock, PrivateKey, Signer, key_from_pem, key_id
from ._core import (
    AuthMethod,
    Flow,
    HTTPRequest,
    HTTPResponse,
    Retry,
    Send,
    Sleep,
    Stats,
    TokenCache,
    TokenCore,
    TransportFailure,
)
from ._dialect import STANDARD, Dialect
from ._errors import ConfigurationError
from ._grants import ClientCredentials, Grant
from ._token import Secret, Token

log = logging.getLogger("tokensmith.client")


class _Flight:
    """One renewal in progress, whose outcome every waiter shares."""

    __slots__ = ("error", "event", "token")

    def __init__(self, event: threading.Event | asyncio.Event) -> None:
        self.event = event
        self.token: Token | None = None
        self.error: BaseException | None = None

    def outcome(self) -> Token:
        if self.error is not None:
            raise self.error
        assert self.token is not None
        return self.token


class TokenSource(httpx.Auth):
    """Access tokens that renew themselves, for one client at one token endpoint.

    Use it as ``httpx.Client(auth=source)`` or ``httpx.AsyncClient(auth=source)``, as
    ``requests`` auth with :meth:`requests_auth`, or ask it for a token with :meth:`token` /
    :meth:`atoken`.

    Args:
        token_url: the token endpoint.
        client_id, client_secret: the client's credentials; the secret may be a :class:`Secret`.
        grant: how to get a token (default :class:`ClientCredentials`).
        auth_method: ``client_secret_post`` (default), ``client_secret_basic`` or ``none``.
        dialect: where the response keeps its fields (:data:`STANDARD`, :data:`PASCAL`).
        default_ttl: lifetime to assume when the response says nothing of expiry.
        margin: seconds before expiry to renew, or a function of the lifetime; default
            ``min(60 s, 20 % of lifetime)``.
        background: renew in the background at about 75 % of the lifetime, so that no
            request waits for a renewal.
        retry: retries on network errors, 5xx and 429.
        cache: a cache shared across processes (:class:`FileCache`, :class:`RedisCache`).
        retry_unauthorized: on a 401 from the API, get a new token and resend once.
        timeout: seconds for each token request.
        http_client, async_http_client: clients for token requests (default: made and owned).
        on_event: called with ``(name, attributes)`` on fetch, failure and unauthorized.
        clock: the time, for tests.
        private_key, private_key_alg, key_id: authenticate with RFC 7523 private_key_jwt (a PEM
            or a key; the ``kid`` defaults to the key's thumbprint) instead of a secret.
    """

    requires_request_body = True

    def __init__(
        self,
        token_url: str,
        *,
        client_id: str | None = None,
        client_secret: str | Secret | None = None,
        grant: Grant | None = None,
        auth_method: AuthMethod = "client_secret_post",
        dialect: Dialect = STANDARD,
        default_ttl: float | None = None,
        margin: float | Callable[[float], float] | None = None,
        background: bool = False,
        retry: Retry | None = None,
        cache: TokenCache | None = None,
        retry_unauthorized: bool = True,
        timeout: float = 10.0,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        on_event: Callable[[str, Mapping[str, object]], None] | None = None,
        clock: Clock = time.time,
        private_key: str | bytes | PrivateKey | None = None,
        private_key_alg: Algorithm = "ES256",
        key_id: str | None = None,
    ) -> None:
        if private_key is not None and auth_method == "client_secret_post":
            auth_method = "private_key_jwt"
        secret = Secret(client_secret) if isinstance(client_secret, str) else client_secret
        self._core = TokenCore(
            token_url,
            client_id=client_id,
            client_secret=secret,
            assertion_signer=_assertion_signer(private_key, private_key_alg, key_id),
            grant=grant or ClientCredentials(),
            auth_method=auth_method,
            dialect=dialect,
            default_ttl=default_ttl,
            margin=margin,
            retry=retry or Retry(),
            cache=cache,
            cache_lock_timeout=max(timeout * 2, 5.0),
            clock=clock,
            rng=random.Random(),  # noqa: S311 (jitter, not cryptography)
            on_event=on_event,
        )
        self._clock = clock
        self._background = background
        self._retry_unauthorized = retry_unauthorized
        self._timeout = timeout
        self._http = http_client
        self._owns_http = http_client is None
        self._ahttp = async_http_client
        self._owns_ahttp = async_http_client is None
        self._lock = threading.Lock()
        self._flight: _Flight | None = None
        self._aflight: _Flight | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        core = self._core
        return (
            f"TokenSource({core.token_url!r}, client_id={core.client_id!r}, "
            f"grant={core.grant.name!r})"
        )

    @property
    def stats(self) -> Stats:
        """Counters of fetches, renewals, failures, 401 retries and cache hits."""
        return self._core.stats

    @property
    def current(self) -> Token | None:
        """The token held now, if any (it may be expired)."""
        return self._core.token

    def invalidate(self, token: Token | str) -> bool:
        """Forget ``token`` if it is still the one held (an API rejected it); the next call
        gets a new one. Returns False when a newer token is already held."""
        value = token.access_token if isinstance(token, Token) else token
        return self._core.invalidate(value)

    # --- sync ----------------------------------------------------------------------------------

    def token(self) -> Token:
        """A valid token, renewed first if it is due.

        Raises:
            OAuthError: the token endpoint refused (InvalidClient, InvalidScope, …).
            TokenEndpointUnavailable: the endpoint could not be reached after retries.
            InvalidTokenResponse: the endpoint answered without a usable token.
        """
        core = self._core
        token = core.token
        if token is not None and self._clock() < core.renew_at:
            core.stats.cache_hits += 1
            return token
        return self._renew(force=False)

    def access_token(self) -> str:
        """The access token string of :meth:`token`."""
        return self.token().access_token

    def _renew(self, *, force: bool) -> Token:
        core = self._core
        with self._lock:
            flight = self._flight
            leader = flight is None
            if leader:
                token = core.token
                if not force and token is not None and self._clock() < core.renew_at:
                    return token
                flight = self._flight = _Flight(threading.Event())
        assert flight is not None
        if not leader:
            usable = core.usable(self._clock())
            if usable is not None:
                return usable
            flight.event.wait()
            return flight.outcome()
        renewed = core.token is not None
        try:
            token = self._run_sync(core.fetch_flow())
        except Exception as exc:
            return self._settle_failure(flight, exc)
        else:
            self._settle(flight, token, renewed=renewed)
            if self._background and self._thread is None:
                self._start_thread()
            return token
        finally:
            with self._lock:
                self._flight = None
            flight.event.set()

    def _settle(self, flight: _Flight, token: Token, *, renewed: bool) -> None:
        """A renewal succeeded: hold the token and give it to every waiter."""
        self._core.accept(token, renewed=renewed)
        flight.token = token

    def _settle_failure(self, flight: _Flight, exc: Exception) -> Token:
        """A renewal failed: keep serving a still-valid token, else share the error.

        Raises:
            the renewal's error, when no valid token is left.
        """
        serving = self._core.failed(exc, self._clock())
        flight.token = serving
        if serving is None:
            flight.error = exc
            raise exc
        return serving

    def _run_sync(self, flow: Flow) -> Token:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                step = flow.throw(error) if error is not None else flow.send(value)
            except StopIteration as stop:
                token: Token = stop.value
                return token
            value, error = None, None
            try:
                if isinstance(step, Send):
                    value = self._send_sync(step.request)
                elif isinstance(step, Sleep):
                    if self._stop.wait(step.seconds):
                        raise ConfigurationError("the token source was closed")
                elif inspect.iscoroutinefunction(step.fn):
                    raise ConfigurationError(
                        "an async supplier needs the async API (atoken, httpx.AsyncClient)"
                    )
                else:
                    value = step.fn(*step.args)
            except BaseException as exc:  # thrown into the flow, which decides
                error = exc

    def _send_sync(self, request: HTTPRequest) -> HTTPResponse:
        if self._http is None:
            self._http = httpx.Client(timeout=self._timeout)
        try:
            response = self._http.post(
                request.url, content=request.body, headers=dict(request.headers)
            )
        except httpx.TransportError as exc:
            raise TransportFailure(type(exc).__name__) from None
        return HTTPResponse(response.status_code, _headers(response), response.content)

    def _start_thread(self) -> None:
        self._thread = threading.Thread(
            target=self._background_loop, name="tokensmith-renewal", daemon=True
        )
        self._thread.start()

    def _background_loop(self) -> None:
        while not self._stop.is_set():
            wait = self._background_wait()
            if self._stop.wait(wait):
                return
            try:
                self._renew(force=True)
            except Exception as exc:
                log.warning("background renewal failed: %s", type(exc).__name__)
                self._stop.wait(1.0)

    def _background_wait(self) -> float:
        """Seconds until about 75 % of the held token's lifetime (with ±5 % jitter)."""
        token = self._core.token
        if token is None:
            return 1.0
        share = 0.75 + (self._core.rng.random() - 0.5) * 0.1
        return max(0.05, token.issued_at + token.lifetime * share - self._clock())

    def close(self) -> None:
        """Stop background renewal and close the HTTP client this source made."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if self._owns_http and self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> TokenSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- async ---------------------------------------------------------------------------------

    async def atoken(self) -> Token:
        """A valid token, renewed first if it is due; never blocks the event loop.

        Raises:
            the same errors as :meth:`token`.
        """
        core = self._core
        token = core.token
        if token is not None and self._clock() < core.renew_at:
            core.stats.cache_hits += 1
            return token
        return await self._arenew(force=False)

    async def aaccess_token(self) -> str:
        """The access token string of :meth:`atoken`."""
        return (await self.atoken()).access_token

    async def _arenew(self, *, force: bool) -> Token:
        core = self._core
        flight = self._aflight
        if flight is not None:
            usable = core.usable(self._clock())
            if usable is not None:
                return usable
            await flight.event.wait()  # type: ignore[misc]
            return flight.outcome()
        token = core.token
        if not force and token is not None and self._clock() < core.renew_at:
            return token
        flight = self._aflight = _Flight(asyncio.Event())
        renewed = core.token is not None
        try:
            token = await self._run_async(core.fetch_flow())
        except Exception as exc:
            return self._settle_failure(flight, exc)
        else:
            self._settle(flight, token, renewed=renewed)
            if self._background and self._task is None:
                self._task = asyncio.get_running_loop().create_task(self._abackground_loop())
            return token
        finally:
            self._aflight = None
            flight.event.set()

    async def _run_async(self, flow: Flow) -> Token:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                step = flow.throw(error) if error is not None else flow.send(value)
            except StopIteration as stop:
                token: Token = stop.value
                return token
            value, error = None, None
            try:
                if isinstance(step, Send):
                    value = await self._send_async(step.request)
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

    async def _send_async(self, request: HTTPRequest) -> HTTPResponse:
        if self._ahttp is None:
            self._ahttp = httpx.AsyncClient(timeout=self._timeout)
        try:
            response = await self._ahttp.post(
                request.url, content=request.body, headers=dict(request.headers)
            )
        except httpx.TransportError as exc:
            raise TransportFailure(type(exc).__name__) from None
        return HTTPResponse(response.status_code, _headers(response), response.content)

    async def _abackground_loop(self) -> None:
        while True:
            await asyncio.sleep(self._background_wait())
            try:
                await self._arenew(force=True)
            except Exception as exc:
                log.warning("background renewal failed: %s", type(exc).__name__)
                await asyncio.sleep(1.0)

    async def aclose(self) -> None:
        """Stop background renewal and close the HTTP clients this source made."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._owns_ahttp and self._ahttp is not None:
            await self._ahttp.aclose()
            self._ahttp = None
        self.close()

    async def __aenter__(self) -> TokenSource:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- httpx.Auth ----------------------------------------------------------------------------

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the bearer token; on a 401 to a token still held, get a new one and resend once."""
        core = self._core
        token = core.token
        if token is not None and self._clock() < core.renew_at:  # token(), inlined: hot path
            core.stats.cache_hits += 1
        else:
            token = self._renew(force=False)
        request.headers["Authorization"] = token.authorization
        response = yield request
        if response.status_code == 401 and self._retry_unauthorized:
            self.invalidate(token)
            fresh = self.token()
            if fresh.access_token != token.access_token:
                response.read()
                request.headers["Authorization"] = fresh.authorization
                yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """As :meth:`sync_auth_flow`, for ``httpx.AsyncClient``."""
        token = await self.atoken()
        request.headers["Authorization"] = token.authorization
        response = yield request
        if response.status_code == 401 and self._retry_unauthorized:
            self.invalidate(token)
            fresh = await self.atoken()
            if fresh.access_token != token.access_token:
                await response.aread()
                request.headers["Authorization"] = fresh.authorization
                yield request

    def requests_auth(self) -> Any:
        """This source as a ``requests.auth.AuthBase`` (needs the ``requests`` extra)."""
        from ._requests import RequestsAuth

        return RequestsAuth(self)


def _assertion_signer(
    key: str | bytes | PrivateKey | None, alg: Algorithm, kid: str | None
) -> Signer | None:
    if key is None:
        return None
    if isinstance(key, str | bytes):
        key = key_from_pem(alg, key.encode() if isinstance(key, str) else key)
    return Signer(key, kid=kid or key_id(key), alg=alg, typ="JWT")


def _headers(response: httpx.Response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items()}
