"""Token sources: access tokens that renew themselves, sync and async, with single flight.

Single flight: however many threads and tasks find the token due, one of them (the leader) sends
the request; the others return the current token if it is still valid, or wait for the leader's
result or error. Threads and tasks share one flight (``tokensmith.core.SingleFlight``), and the
renewal is one flow that :func:`~tokensmith.core.run_sync` and :func:`~tokensmith.core.run_async`
drive, so the sync and async paths cannot drift apart. The async path awaits everything, on
asyncio or trio, so it never blocks the event loop (but for giving back a shared cache's lock
during cancellation: a file unlock, or one Redis round trip).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from ..core import (
    AsyncClients,
    Flow,
    Join,
    SingleFlight,
    Wait,
    make_tracing,
    run_async,
    run_sync,
)
from ..oauth import Algorithm, Clock, PrivateKey, ProofKey, Signer, key_from_pem, key_id
from ._background import BackgroundRenewal
from ._core import AuthMethod, TokenCore
from ._dialect import STANDARD, Dialect
from ._errors import ConfigurationError
from ._grants import ClientCredentials, Grant
from ._httpx_auth import async_bearer_flow, bearer_flow
from ._options import Retry, Stats, TokenCache
from ._token import Secret, Token

if TYPE_CHECKING:
    from ..core._tracing import TracerProvider


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
        http_client, async_http_client: clients for token requests (default: made and owned;
            async ones one per event loop, so a source serves several loops; a given async
            client serves the loop it is first used on).
        on_event: called with ``(name, attributes)`` on fetch, failure and unauthorized.
        clock: the time, for tests.
        private_key, private_key_alg, key_id: authenticate with RFC 7523 private_key_jwt (a PEM
            or a key; the ``kid`` defaults to the key's thumbprint) instead of a secret.
        platform_token: authenticate with the workload's platform token instead of a secret
            (workload identity federation): a callable called before each token request, e.g.
            :class:`FileToken` (a Kubernetes projected token), :class:`GitHubActionsToken`, or
            :func:`platform_token` ``("kubernetes")``; ``client_id`` may then be omitted when
            the service finds the client by the token.
        tracing: OpenTelemetry spans for each token fetch and each token request, which carry
            a ``traceparent`` so that the server's span is their child: True for the global
            tracer provider, or a tracer provider (needs the ``otel`` extra; default off).
        dpop: sender-constrained tokens (RFC 9449): True makes a P-256 key held in memory only,
            or give a :class:`~tokensmith.oauth.ProofKey`. Every token request then carries a
            DPoP proof (a server nonce is fetched and sent when asked for), and the httpx and
            requests adapters send a proof with each API request of a DPoP-bound token.

    Raises:
        ConfigurationError: an incomplete configuration, or ``tracing`` without the
            ``opentelemetry-api`` package.
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
        tracing: bool | TracerProvider = False,
        dpop: bool | ProofKey = False,
        platform_token: Callable[[], str] | None = None,
    ) -> None:
        if private_key is not None and auth_method == "client_secret_post":
            auth_method = "private_key_jwt"
        if platform_token is not None and auth_method == "client_secret_post":
            auth_method = "federated"
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
            tracing=make_tracing(tracing),
            dpop=ProofKey() if dpop is True else dpop or None,
            platform_token=platform_token,
        )
        self._api_nonces: dict[str, str] = {}
        """The latest DPoP nonce of each API origin (RFC 9449 §9)."""
        self._clock = clock
        self._background = background
        self.retry_unauthorized = retry_unauthorized
        self._timeout = timeout
        self._http = http_client
        self._owns_http = http_client is None
        self._ahttp = AsyncClients(
            lambda: httpx.AsyncClient(timeout=self._timeout), given=async_http_client
        )
        self._flights = SingleFlight()
        # Where in a token's life the background renews: about 75 %, jittered once per source so
        # that processes spread out, and fixed so that a failed try is not followed by another
        # at a freshly drawn point still ahead.
        self._renewal_share = 0.75 + (self._core.rng.random() - 0.5) * 0.1
        self._stop = threading.Event()
        self._renewal = BackgroundRenewal(
            renew=lambda: self._renew(force=True),
            arenew=lambda: self._arenew(force=True),
            wait=self._background_wait,
            stop=self._stop,
        )

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
            WouldDeadlock: called on an event loop's thread while a task of that loop renews
                an expired token; use :meth:`atoken` in async code.
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
        token = run_sync(
            self._renew_flow(force=force),
            self._sync_http,
            sleep=self._sleep,
            async_refused=lambda fn: ConfigurationError(
                "an async supplier needs the async API (atoken, httpx.AsyncClient)"
            ),
        )
        if self._background:
            self._renewal.start_thread()
        return token

    def _sync_http(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(timeout=self._timeout)
        return self._http

    def _sleep(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise ConfigurationError("the token source was closed")

    def close(self) -> None:
        """Stop background renewal and close the HTTP client this source made."""
        self._stop.set()
        self._renewal.stop_thread()
        if self._owns_http and self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> TokenSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- async ---------------------------------------------------------------------------------

    async def atoken(self) -> Token:
        """A valid token, renewed first if it is due; never blocks the event loop (asyncio or
        trio).

        Raises:
            the same errors as :meth:`token`, but never WouldDeadlock.
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
        token = await run_async(self._renew_flow(force=force), self._ahttp.get)
        if self._background:
            self._renewal.start_task()
        return token

    async def aclose(self) -> None:
        """Stop background renewal and close the HTTP clients this source made."""
        self._stop.set()  # first: a renewal still in flight must not start a new task
        await self._renewal.stop_task()
        await self._ahttp.aclose()
        self.close()

    async def __aenter__(self) -> TokenSource:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- the renewal, for both ------------------------------------------------------------------

    def _renew_flow(self, *, force: bool) -> Flow[Token]:
        """Renew once for every thread and task that finds the token due: the leader fetches;
        the others serve the held token while it is valid, else wait for the leader's outcome.
        A failed renewal keeps serving a still-valid token; with none left, its error is
        everyone's."""
        core = self._core
        while True:
            flight, leader = yield Join(self._flights)
            if leader:
                break
            usable = core.usable(self._clock())
            if usable is not None:
                return usable
            yield Wait(flight)
            if flight.value is not None or flight.error is not None:
                shared: Token = flight.outcome()
                return shared
            # The leader was cancelled before it had an outcome: lead, or follow the next one.
        try:
            token = core.token
            if not force and token is not None and self._clock() < core.renew_at:
                flight.value = token  # another leader renewed it a moment ago
                return token
            renewed = token is not None
            try:
                token = yield from core.fetch_flow()
            except Exception as exc:
                serving = core.failed(exc, self._clock())
                flight.value = serving
                if serving is None:
                    flight.error = exc
                    raise
                return serving
            core.accept(token, renewed=renewed)
            flight.value = token
            return token
        finally:
            self._flights.finish(flight)

    def _background_wait(self) -> float:
        """Seconds until about 75 % of the held token's lifetime (jittered ±5 % once per
        source); once that point has passed (the last renewal failed but the token still
        serves), until the next try the core allows, and at least a second."""
        core = self._core
        token = core.token
        if token is None:
            return 1.0
        now = self._clock()
        wait = token.issued_at + token.lifetime * self._renewal_share - now
        if wait > 0:
            return max(0.05, wait)
        return max(1.0, core.renew_at - now)

    # --- DPoP ------------------------------------------------------------------------------------

    @property
    def dpop_key(self) -> ProofKey | None:
        """The key DPoP proofs are made with; None when the source asks for Bearer tokens."""
        return self._core.dpop

    def dpop_proof(self, token: Token, method: str, url: str) -> str | None:
        """The ``DPoP`` header value for calling ``method`` ``url`` with ``token`` (None for a
        Bearer token): a fresh proof with the token's hash and the API's latest nonce."""
        key = self._core.dpop
        if key is None or token.token_type.lower() != "dpop":
            return None
        nonce = self._api_nonces.get(_origin(url))
        return key.proof(
            method, url, now=self._clock(), access_token=token.access_token, nonce=nonce
        )

    def dpop_nonce_asked(self, url: str, status: int, headers: Mapping[str, str]) -> bool:
        """Keep the DPoP nonce an API answer carries; whether the answer asks to send the
        request again with it (401 with a ``DPoP`` challenge ``error="use_dpop_nonce"``)."""
        nonce = headers.get("dpop-nonce")
        if self._core.dpop is None or not nonce:
            return False
        self._api_nonces[_origin(url)] = nonce
        challenge = headers.get("www-authenticate", "")
        return status == 401 and "use_dpop_nonce" in challenge

    # --- httpx.Auth ----------------------------------------------------------------------------

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the bearer token; on a 401 to a token still held, get a new one and resend once."""
        return bearer_flow(self, request)

    def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """As :meth:`sync_auth_flow`, for ``httpx.AsyncClient``."""
        return async_bearer_flow(self, request)

    def requests_auth(self) -> Any:
        """This source as a ``requests.auth.AuthBase`` (needs the ``requests`` extra)."""
        from ._requests import RequestsAuth

        return RequestsAuth(self)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _assertion_signer(
    key: str | bytes | PrivateKey | None, alg: Algorithm, kid: str | None
) -> Signer | None:
    if key is None:
        return None
    if isinstance(key, str | bytes):
        key = key_from_pem(alg, key.encode() if isinstance(key, str) else key)
    return Signer(key, kid=kid or key_id(key), alg=alg, typ="JWT")
