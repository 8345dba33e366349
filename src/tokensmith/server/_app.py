"""The ASGI application: dispatches what the route table (``_routes``) matches, plus per-realm
token-path aliases, the health checks (``/health/live``, ``/health/ready`` and ``/health``,
see ``_health``) and ``/metrics``, to the token, introspection, revocation, authorization
(always refused), JWKS and discovery handlers, the admin API and the web console (``/console``,
unless ``Settings.console`` is off; both loaded with their first request); answers errors as RFC
6749 JSON. A request that came in on the management port (``Settings.management_port``) gets only
``/metrics`` and the health checks. Every request's duration is counted by route name.

A realm has one issuer, ``{base}/realms/{name}``, whichever path form a request used; the base is
the configured public URL, or the request's Host only when that Host is allowed.

Plain ASGI with a table of our own rather than a framework's router: the token endpoint is the hot
path (``bench/token_load.py`` measures it against a bare ASGI app), and an equivalent Starlette
``Router`` takes 1.9-2.5x our routing time for it, 3-5x under ``/auth`` and 10-12x for a
token-path alias (``bench/routing.py``, two runs on a loaded two-core VM).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ..core import ASGIReceive as Receive
from ..core import ASGIScope as Scope
from ..core import ASGISend as Send
from ..core import make_tracing
from ..oauth import (
    Clock,
    InvalidClient,
    InvalidRequest,
    OAuthError,
    ServerError,
    SlowDown,
    TemporarilyUnavailable,
    UnauthorizedClient,
    UseDPoPNonce,
    echo,
    error_body,
    form_parser,
    system_clock,
)
from ..store import Database, DatabaseUnavailable
from . import _routes as routes
from ._clientauth import ClientAuthenticator
from ._cors import ANY_ORIGIN, Reply, admit_token_origin, preflight, reply_for
from ._dbwatch import DatabaseWatch
from ._discovery import metadata
from ._dpop import DPoPChecker
from ._events import observe
from ._external import ExternalTokens
from ._health import LIVE_BODY, Health
from ._introspection import TokenInspector
from ._keys import open_master_key
from ._ratelimit import REQUEST_ADDRESS, AuthLimiter, TrustedProxies
from ._recorder import EventRecorder
from ._secrets import SecretChecker
from ._settings import Settings
from ._state import RealmState, Registry
from ._token import TokenEndpoint
from ._tracing import TracedClientAuthenticator, traced
from ._verifiers import Verifiers

if TYPE_CHECKING:
    from ._metrics import Metrics

Handler = Callable[[str, Scope, Receive, Send], Awaitable[None]]

if TYPE_CHECKING:
    from ..core._tracing import TracerProvider
    from ._admin_api import AdminApi
    from ._console import Console

log = logging.getLogger("tokensmith.server")


_JSON = (b"content-type", b"application/json")
_PUBLIC = (b"cache-control", b"public, max-age=60")
_NO_STORE = [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]
_TOKEN_HEADERS = [_JSON, *_NO_STORE]
_HEALTH_PATHS = frozenset(("/health", "/health/live", "/health/ready"))
MANAGEMENT_PATHS = _HEALTH_PATHS | {"/metrics"}
"""What the management port (``--management-port``) serves; any other path there is 404."""


class _BodyTooLarge(OAuthError):
    error = "invalid_request"
    status_code = 413


class TokensmithApp:
    """The token service as an ASGI application.

    Built from :class:`Settings`; the database is migrated and the master key loaded at startup
    (ASGI lifespan), or beforehand with :meth:`startup`. ``migrate=False`` skips the migration
    when whoever starts the app has just run it (``serve`` does, once, before its workers).

    With ``settings.tracing``, the token, introspection and revocation endpoints make an
    OpenTelemetry span per request, through ``tracer_provider`` if given, else the global one.

    Raises:
        ConfigurationError: tracing is on but ``opentelemetry-api`` is not installed.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock = system_clock,
        migrate: bool = True,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        self.settings = settings
        self._migrate = migrate
        self.clock = clock
        self.db = Database(settings.database_url)
        self.checker = SecretChecker()
        self.limiter = AuthLimiter(
            settings.rate_limit_storage,
            client_limit=settings.client_auth_limit,
            address_limit=settings.address_auth_limit,
        )
        self.proxies = TrustedProxies(settings.trusted_proxies)
        self._allowed_hosts = frozenset(h.lower() for h in settings.allowed_hosts)
        self._handlers: dict[str, Handler] = {
            routes.TOKEN.name: self._token,
            routes.INTROSPECT.name: self._introspect,
            routes.REVOKE.name: self._revoke,
            routes.AUTHORIZE.name: self._authorize,
            routes.CERTS.name: self._jwks,
            routes.OPENID_CONFIGURATION.name: self._openid_configuration,
            routes.AUTHORIZATION_SERVER.name: self._authorization_server,
        }
        # Decided once: off, the handlers are the plain ones and no request pays for tracing.
        on = settings.tracing and (True if tracer_provider is None else tracer_provider)
        self._tracing = make_tracing(on)
        if self._tracing is not None:
            for endpoint in (routes.TOKEN, routes.INTROSPECT, routes.REVOKE):
                handler = self._handlers[endpoint.name]
                self._handlers[endpoint.name] = traced(self._tracing, endpoint, handler)
        self._refused_hosts = 0
        self._registry: Registry | None = None
        self._health: Health | None = None
        self._endpoint: TokenEndpoint | None = None
        self._inspector: TokenInspector | None = None
        self._admin_api: AdminApi | None = None
        self._console: Console | None = None
        self._external: ExternalTokens | None = None
        self._verifiers = Verifiers()
        self.watch = DatabaseWatch(self.db)
        self._management_port = settings.management_port
        self._metrics: Metrics | None = None
        self._unobserve: Callable[[], None] | None = None
        self._recorder: EventRecorder | None = None
        self._unrecord: Callable[[], None] | None = None
        self._tending: asyncio.Task[None] | None = None
        if settings.metrics:
            from ._metrics import metrics

            self._metrics = metrics()

    def __repr__(self) -> str:
        return f"TokensmithApp({self.db!r})"

    async def startup(self) -> None:
        """Migrate the database, load the master key and start watching for changes and
        recording security events and clients' last use (``_recorder``)."""
        if self._registry is not None:
            return
        if self._migrate:
            await self.db.migrate()
        master = await open_master_key(self.db, self.settings.master_key, self.settings.key_file())
        assert master is not None  # required: made when the database has none
        registry = Registry(
            self.db,
            master,
            poll_interval=self.settings.poll_interval,
            max_realms=self.settings.realm_cache_size,
            clock=self.clock,
        )
        registry.start()
        self._registry = registry
        self._health = Health(self.db, master, registry)
        self._health.start()
        authenticator = ClientAuthenticator if self._tracing is None else TracedClientAuthenticator
        clients = authenticator(
            registry,
            self.checker,
            self.db,
            clock=self.clock,
            limiter=self.limiter,
            verifiers=self._verifiers,
        )
        self._external = ExternalTokens(clock=self.clock, verifiers=self._verifiers)
        self._endpoint = TokenEndpoint(
            clients,
            self.db,
            external=self._external,
            dpop=DPoPChecker(self.db, master.derived("dpop nonce")),
            clock=self.clock,
        )
        self._inspector = TokenInspector(clients, self.db, clock=self.clock)
        if self._migrate:  # serve's prepare() makes it otherwise, before the workers start
            from ._admin import Admin
            from ._admin_api import ensure_master_realm

            await ensure_master_realm(Admin(self.db, master, clock=self.clock))
        if self._metrics is not None and self._unobserve is None:
            self._unobserve = observe(self._metrics.observe)
        self._recorder = EventRecorder(
            self.db,
            registry,
            retention_days=self.settings.admin_events_days,
            last_used_interval=self.settings.last_used_interval,
            clock=self.clock,
        )
        self._unrecord = observe(self._recorder.observe)
        self._recorder.start()
        self._tending = asyncio.get_running_loop().create_task(self._tend())

    async def _tend(self) -> None:
        """Every poll interval: look whether a database reported away answers again, pass the
        counts made since to the metrics, and set the metrics' gauges."""
        while True:
            await self.watch.probe()
            if self._metrics is not None and self._registry is not None:
                self._metrics.flush()
                self._metrics.sample(self._registry)
            await asyncio.sleep(self.settings.poll_interval)

    async def shutdown(self) -> None:
        """Stop watching, write the events and last uses still buffered, and close the
        database."""
        if self._tending is not None:
            self._tending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tending
            self._tending = None
        if self._unobserve is not None:
            self._unobserve()
            self._unobserve = None
        if self._unrecord is not None:
            self._unrecord()
            self._unrecord = None
        if self._recorder is not None:
            await self._recorder.stop()  # what it buffered, written before the database closes
            self._recorder = None
        if self._metrics is not None:
            self._metrics.flush()
        if self._health is not None:
            await self._health.stop()
            self._health = None
        if self._registry is not None:
            await self._registry.stop()
            self._registry = None
        await self._verifiers.aclose()  # the clients' and the trusted issuers' keys
        await self.limiter.aclose()
        await self.db.close()

    @property
    def registry(self) -> Registry:
        """The in-memory realm cache (after startup)."""
        if self._registry is None:
            raise RuntimeError("the application has not started")
        return self._registry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        path: str = scope["path"]
        reply = reply_for(send, scope)  # errors too carry CORS once the token endpoint allows it
        try:
            if self._registry is None:
                await self.startup()
            if self._management_port is not None and path not in MANAGEMENT_PATHS:
                self._refuse_on_management_port(scope, path)
            await self._route(path, scope, receive, reply)
        except OAuthError as err:
            await _error(reply, err, basic=_used_basic(scope))
        except DatabaseUnavailable as exc:
            self.watch.failed(exc)
            await _error(
                reply,
                TemporarilyUnavailable(
                    "the token service cannot reach its database; retry in a few seconds"
                ),
            )
        except Exception:
            log.exception("unexpected error answering %s %s", scope["method"], path)
            await _send(reply, 500, error_body(ServerError()), [_JSON])
        finally:
            if self._metrics is not None:
                endpoint = scope.get("tokensmith.endpoint", "other")
                self._metrics.request(endpoint, time.perf_counter() - started)

    async def _route(self, path: str, scope: Scope, receive: Receive, send: Send) -> None:
        found = routes.match(path)
        if found is None and routes.is_admin_path(path):
            return await self._admin(path, scope, receive, send)
        if found is None and routes.is_docs_path(path):
            scope["tokensmith.endpoint"] = "docs"
            return await _documents(path, scope, send)
        if found is None:
            if path in _HEALTH_PATHS:
                scope["tokensmith.endpoint"] = "health"
                return await self._health_check(path, scope, send)
            if self.settings.console and routes.is_console_path(path):
                scope["tokensmith.endpoint"] = "console"
                return await self._serve_console(path, scope, send)
            if path == "/metrics" and self._serves_metrics(scope):
                assert self._metrics is not None
                scope["tokensmith.endpoint"] = "metrics"
                if scope["method"] not in routes.GET:
                    raise _MethodNotAllowed("metrics take GET or HEAD", allow=b"GET, HEAD")
                body, content_type = self._metrics.exposition()
                return await _send(
                    send, 200, body, [(b"content-type", content_type.encode())], scope=scope
                )
            alias = await self.registry.realm_for_path(path)
            if alias is None:
                raise InvalidRequest(f"there is no endpoint at {echo(path)}", status_code=404)
            found = routes.TOKEN, alias
        endpoint, realm = found
        scope["tokensmith.endpoint"] = endpoint.name
        if endpoint is routes.TOKEN and isinstance(send, Reply):  # a page's request
            await admit_token_origin(send, self.registry, realm)
        if scope["method"] not in endpoint.methods:
            if scope["method"] == routes.PREFLIGHT and await preflight(send, endpoint):
                return
            raise _MethodNotAllowed(
                f"the {endpoint.name} endpoint takes {' or '.join(endpoint.methods)}",
                allow=endpoint.allow,
            )
        await self._handlers[endpoint.name](realm, scope, receive, send)

    def _refuse_on_management_port(self, scope: Scope, path: str) -> None:
        """Refuse a request for ``path`` (not a management path) if it came in on the
        management port.

        Raises:
            InvalidRequest: 404, it did.
        """
        if self._management(scope):
            raise InvalidRequest(
                f"there is no endpoint at {echo(path)} on the management port", status_code=404
            )

    def _management(self, scope: Scope) -> bool:
        """Whether the request came in on the management port."""
        port = self._management_port
        return port is not None and (scope.get("server") or ("", None))[1] == port

    def _serves_metrics(self, scope: Scope) -> bool:
        """Whether this request may read the metrics: they are on, and it came in on the
        management port, or on the main port when there is no management port."""
        if self._metrics is None:
            return False
        return self.settings.management_port is None or self._management(scope)

    async def _admin(self, path: str, scope: Scope, receive: Receive, send: Send) -> None:
        """The admin API, loaded with its first request: a service that is never administered
        over HTTP does not carry it."""
        if self._admin_api is None:
            from ._admin import Admin
            from ._admin_api import AdminApi
            from ._own import OwnTokens

            self._admin_api = AdminApi(
                self.registry,
                OwnTokens(self.registry, self.db, clock=self.clock),
                Admin(self.db, self.registry.master, checker=self.checker, clock=self.clock),
                max_body_bytes=self.settings.max_body_bytes,
                address=self._address,
                limiter=self.limiter,
                url=lambda scope: self._base(scope, _headers(scope)) + scope["path"],
                dpop=self._endpoint.dpop if self._endpoint is not None else None,
            )
        await self._admin_api(path, scope, receive, send)

    async def _serve_console(self, path: str, scope: Scope, send: Send) -> None:
        """The web console's files, read with its first request."""
        if self._console is None:
            from ._console import Console

            self._console = Console()
        await self._console(path, scope, send)

    def _address(self, scope: Scope) -> str:
        """The address a request came from, past the trusted proxies."""
        peer = (scope.get("client") or ("unknown", 0))[0]
        return self.proxies.client_address(peer, _headers(scope).get("x-forwarded-for"))

    async def _health_check(self, path: str, scope: Scope, send: Send) -> None:
        """``/health/live``: 200 while the process answers, reading nothing. ``/health/ready``:
        200 when this process can issue tokens, else 503 naming the checks that failed (see
        ``_health``). ``/health`` is liveness, what it always meant here: a probe of it never
        restarts a service because its database is away.

        Raises:
            _MethodNotAllowed: 405, a method other than GET or HEAD.
        """
        if scope["method"] not in routes.GET:
            raise _MethodNotAllowed("health checks take GET or HEAD", allow=b"GET, HEAD")
        status, body = 200, LIVE_BODY
        if path == "/health/ready":
            health = self._health
            assert health is not None  # made at startup, which _http made sure of
            status, body = await health.ready()
        await _send(send, status, body, [_JSON, *_NO_STORE], scope=scope)

    async def _realm(self, name: str) -> RealmState:
        state = await self.registry.realm(name)
        if state is None:
            raise InvalidRequest(f"realm {echo(name)!r} does not exist", status_code=404)
        return state

    async def _form_request(
        self, name: str, scope: Scope, receive: Receive
    ) -> tuple[RealmState, dict[str, str], dict[str, str]]:
        """The realm, form and headers of a POSTed form request (token, introspect, revoke)."""
        if scope.get("query_string"):
            raise InvalidRequest(
                "request parameters belong in the form body, not the URL (RFC 6749 §3.2)"
            )
        state = await self._realm(name)
        headers = _headers(scope)
        peer = (scope.get("client") or ("unknown", 0))[0]
        REQUEST_ADDRESS.set(self.proxies.client_address(peer, headers.get("x-forwarded-for")))
        parse = form_parser(headers.get("content-type", ""))
        body = await _read_body(receive, headers, self.settings.max_body_bytes)
        return state, parse(body), headers

    async def _token(self, name: str, scope: Scope, receive: Receive, send: Send) -> None:
        state, form, headers = await self._form_request(name, scope, receive)
        issuer, audiences = self._issuer(state, scope, headers)
        endpoint = self._endpoint
        assert endpoint is not None
        proofs = [bytes(v).decode("latin-1") for k, v in scope["headers"] if k == b"dpop"]
        issued = await endpoint.issue(
            state,
            form,
            headers.get("authorization"),
            issuer,
            audiences,
            dpop=proofs,
            url=audiences[-1],
        )
        answer_headers = _TOKEN_HEADERS
        nonce = endpoint.dpop.next_nonce(state, self.clock())
        if nonce is not None:  # RFC 9449 §8.2: a fresh nonce with every answer
            answer_headers = [*_TOKEN_HEADERS, (b"dpop-nonce", nonce.encode())]
        await _send(send, 200, issued.response.render(issued.style), answer_headers)

    async def _introspect(self, name: str, scope: Scope, receive: Receive, send: Send) -> None:
        state, form, headers = await self._form_request(name, scope, receive)
        _, audiences = self._issuer(state, scope, headers)
        inspector = self._inspector
        assert inspector is not None
        answer = await inspector.introspect(state, form, headers.get("authorization"), audiences)
        body = json.dumps(answer, separators=(",", ":")).encode()
        await _send(send, 200, body, _TOKEN_HEADERS)

    async def _revoke(self, name: str, scope: Scope, receive: Receive, send: Send) -> None:
        state, form, headers = await self._form_request(name, scope, receive)
        _, audiences = self._issuer(state, scope, headers)
        inspector = self._inspector
        assert inspector is not None
        await inspector.revoke(state, form, headers.get("authorization"), audiences)
        await _send(send, 200, b"", _NO_STORE)

    async def _authorize(self, name: str, scope: Scope, receive: Receive, send: Send) -> None:
        """The authorization endpoint OpenID Connect discovery must name: refuses every request
        directly, never by redirect (RFC 6749 §4.1.2.1: no client has a redirection URI).

        Raises:
            UnauthorizedClient: 400, always, for any realm that exists.
        """
        await self._realm(name)
        raise UnauthorizedClient(
            "this service authenticates clients, not end-users: it has no authorization flow; "
            "a client gets its tokens from the token endpoint"
        )

    async def _jwks(self, name: str, scope: Scope, receive: Receive, send: Send) -> None:
        state = await self._realm(name)
        await _send(send, 200, state.jwks, [_JSON, _PUBLIC, ANY_ORIGIN], scope=scope)

    async def _openid_configuration(
        self, name: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        await self._metadata(name, scope, send, oidc=True)

    async def _authorization_server(
        self, name: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        await self._metadata(name, scope, send, oidc=False)

    async def _metadata(self, name: str, scope: Scope, send: Send, *, oidc: bool) -> None:
        state = await self._realm(name)
        issuer, _ = self._issuer(state, scope, _headers(scope))
        body = json.dumps(metadata(state, issuer, oidc=oidc), separators=(",", ":")).encode()
        headers = [_JSON, _PUBLIC, ANY_ORIGIN]
        if self.settings.public_url is None:  # the issuer follows the (allowed) Host
            headers.append((b"vary", b"Host"))
        await _send(send, 200, body, headers, scope=scope)

    def _issuer(
        self, state: RealmState, scope: Scope, headers: dict[str, str]
    ) -> tuple[str, tuple[str, ...]]:
        """The realm's issuer, and the ``aud`` values a client assertion sent in this request may
        name: the issuer, its token endpoint, or the URL the request was sent to (the public
        base and the path under it, e.g. an alias such as ``/connect/token``)."""
        base = self._base(scope, headers)
        issuer = f"{base}/realms/{state.realm.name}"
        return issuer, (issuer, routes.url(issuer, routes.TOKEN), base + scope["path"])

    def _base(self, scope: Scope, headers: dict[str, str]) -> str:
        """The service's public base URL, which every realm's issuer starts with: the configured
        public URL, else the request's Host if it is an allowed one.

        Raises:
            InvalidRequest: 400, the Host is not one this service answers for; the issuer and
                the audiences a client assertion may name never come from an arbitrary header.
        """
        if self.settings.public_url is not None:
            return self.settings.public_url.rstrip("/")
        host = headers.get("host", "").lower()
        scheme = scope.get("scheme", "http")
        if host not in self._allowed_hosts and (
            self._allowed_hosts
            or host not in _loopback_hosts((scope.get("server") or ("", None))[1], scheme)
        ):
            if self._refused_hosts < 10:  # enough for an operator to notice, never a flood
                self._refused_hosts += 1
                log.warning(
                    "refused a request for host %r: set --public-url or --allowed-host", echo(host)
                )
            raise InvalidRequest(
                f"this service does not answer for host {echo(host)!r}; its operator sets "
                "--public-url (or --allowed-host)"
            )
        return f"{scheme}://{host}"


@functools.lru_cache(maxsize=16)
def _loopback_hosts(port: int | None, scheme: str) -> frozenset[str]:
    """The Host values a service listening on ``port`` answers to without configuration."""
    names = ("localhost", "127.0.0.1", "[::1]")
    bare = names if port == {"http": 80, "https": 443}.get(scheme) else ()
    return frozenset((*(f"{name}:{port}" for name in names), *bare))


class _MethodNotAllowed(InvalidRequest):
    status_code = 405

    def __init__(self, description: str, *, allow: bytes) -> None:
        super().__init__(description)
        self.allow = allow


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


async def _read_body(receive: Receive, headers: dict[str, str], limit: int) -> bytes:
    declared = headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise _BodyTooLarge(f"the request body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise InvalidRequest("the client closed the connection mid-request")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge(f"the request body is larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _used_basic(scope: Scope) -> bool:
    """Whether the request authenticated (or tried to) with HTTP Basic."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            return bytes(value[:6]).lower() == b"basic "
    return False


async def _error(send: Send, err: OAuthError, *, basic: bool = False) -> None:
    headers = [*_TOKEN_HEADERS]
    if isinstance(err, InvalidClient) and basic:
        # RFC 6749 §5.2: the challenge answers a client that used HTTP Basic. A client that sent
        # its secret in the body gets a plain 401 with the JSON error: openid-client treats any
        # challenge as the error itself and would report it instead of invalid_client.
        headers.append((b"www-authenticate", b'Basic realm="tokensmith"'))
    if isinstance(err, TemporarilyUnavailable):
        headers.append((b"retry-after", b"2"))
    if isinstance(err, SlowDown):
        headers.append((b"retry-after", str(err.retry_after).encode()))
    if isinstance(err, _MethodNotAllowed):
        headers.append((b"allow", err.allow))
    if isinstance(err, UseDPoPNonce):
        headers.append((b"dpop-nonce", err.nonce.encode()))
    await _send(send, err.status_code, error_body(err), headers)


async def _documents(path: str, scope: Scope, send: Send) -> None:
    """``/openapi.json``, the reference page ``/docs`` and its files, loaded with the first
    request for one of them.

    Raises:
        _MethodNotAllowed: 405, a method other than GET or HEAD.
        InvalidRequest: 404, no such file.
    """
    from . import _openapi

    if scope["method"] not in routes.GET:
        raise _MethodNotAllowed("the documentation takes GET or HEAD", allow=b"GET, HEAD")
    if path == routes.OPENAPI:
        body, kind = _openapi.document_bytes(), b"application/json"
        headers = [(b"access-control-allow-origin", b"*")]
    else:
        found = (
            (_openapi.DOCS_PAGE, "text/html; charset=utf-8")
            if path == routes.DOCS
            else _openapi.asset(path.removeprefix(routes.DOCS + "/assets/"))
        )
        if found is None:
            raise InvalidRequest(f"there is no endpoint at {echo(path)}", status_code=404)
        body, kind = found[0], found[1].encode()
        headers = [
            (b"content-security-policy", _openapi.DOCS_CSP.encode()),
            (b"x-content-type-options", b"nosniff"),
        ]
    headers += [(b"content-type", kind), (b"cache-control", b"public, max-age=300")]
    await _send(send, 200, body, headers, scope=scope)


async def _send(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]],
    *,
    scope: Scope | None = None,
) -> None:
    head = scope is not None and scope.get("method") == "HEAD"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": b"" if head else body})
