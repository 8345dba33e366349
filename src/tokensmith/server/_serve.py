"""Running the service under uvicorn: the one module that knows uvicorn, with its two HTTP
protocol subclasses (``_h11``, ``_httptools``: each imported only when chosen).

Seven things here go beyond handing the app to uvicorn:

- the service binds its address itself, before it touches the database, and says plainly why it
  cannot (a taken port above all) instead of uvicorn's log line after the database was migrated;
- every accepted TCP connection gets ``TCP_NODELAY``, whatever the event loop and worker count;
- a response's status line and headers leave in the same write as its body (one TCP segment,
  one system call), where uvicorn writes them separately;
- with ``--workers N`` the process that prepared the database replaces itself with a supervisor
  that imports the standard library only (``_supervisor``), and each worker is a fresh
  interpreter importing only what serving needs (:func:`run_worker`), on POSIX systems;
- worker processes of ``--workers N`` stop when the process that supervises them dies;
- uvicorn's access log and trace log never write a query string (a client may put its secret
  there; the service never reads credentials from it);
- what the application holds once started is frozen out of the garbage collector's full
  collections (:class:`ServedApp`), which would otherwise stop every request for ~40 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import errno
import gc
import importlib.util
import json
import logging
import logging.config
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from typing import Any, NoReturn, cast

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from ..oauth import ConfigurationError, TokensmithError
from ._app import TokensmithApp
from ._events import emit
from ._metrics import MULTIPROC_DIR
from ._options import LOG_FORMATS
from ._settings import Settings

log = logging.getLogger("tokensmith.server")

LOG_LEVELS = {
    "critical": logging.CRITICAL,
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": 5,  # uvicorn's TRACE level
}
#: Seconds a worker whose supervisor died is given to finish its requests before it exits anyway.
ORPHAN_GRACE = 10.0
#: The application factory every worker process calls (an import string, as uvicorn takes it).
APP = "tokensmith.server._serve:app_from_env"
STARTUP_FAILURE = 3  # uvicorn's exit status of a server whose startup failed
BACKLOG = 2048  # uvicorn's default: connections the kernel holds until a worker accepts them


class ServedApp(TokensmithApp):
    """The application as ``serve`` runs it: once started, everything the process holds so far
    (modules, the realm cache, the database engine: ~100,000 objects) is moved out of the
    garbage collector's sight with :func:`gc.freeze`. A full collection then looks only at what
    was made since, and takes a few milliseconds instead of ~40 ms during which no request is
    answered (measured: p99 at half load 40-150 ms without, bench/half_load.py)."""

    async def startup(self) -> None:
        """Start as :meth:`TokensmithApp.startup`, then freeze what startup made."""
        started = self._registry is not None
        await super().startup()
        if not started:
            gc.collect()  # what is garbage now must not be frozen
            gc.freeze()


def app_from_env() -> TokensmithApp:
    """The application configured from ``TOKENSMITH_*`` (the factory each worker process calls);
    the worker stops when its supervising process dies."""
    exit_with_parent()
    return ServedApp(Settings.from_env(), migrate=False)  # serve() migrated before


def exit_with_parent(lifeline: int | None = None) -> None:
    """Make this process stop (SIGTERM, then a hard exit after :data:`ORPHAN_GRACE` seconds) when
    its supervising process dies, even by SIGKILL.

    ``lifeline`` is a file descriptor that reaches end of file when the supervisor dies (the
    supervisor of ``_supervisor`` passes one to each worker); by default the sentinel of the
    process that started this one with ``multiprocessing``, and nothing is done in a process
    that ``multiprocessing`` did not start. A daemon thread waits on it, so a parent that died
    before this call is noticed at once too.
    """
    if lifeline is None:
        parent = multiprocessing.parent_process()
        if parent is None or parent.sentinel is None:
            return
        lifeline = parent.sentinel
    threading.Thread(
        target=_watch_parent, args=(lifeline,), name="tokensmith-parent-watch", daemon=True
    ).start()


def _watch_parent(lifeline: int) -> None:
    multiprocessing.connection.wait([lifeline])  # nobody writes: ready means end of file
    log.warning("the supervising process is gone; this worker stops")
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(ORPHAN_GRACE)
    os._exit(1)


class CoalescingTransport:
    """A connection's transport whose writes made in one turn of the event loop leave together.

    uvicorn writes a response's status line and headers when the application starts it and the
    body when it sends it: two system calls and, with ``TCP_NODELAY``, two TCP segments the client
    reads separately. Here writes are held until the loop's next turn (or until the transport is
    closed) and leave as one. Holding them to the next turn, not only until the body arrives,
    also batches: the responses to all the requests read in one turn go out together, which
    measured ~30 % more tokens/s than writing each response as soon as it is whole. Only
    ``write`` and ``close`` differ from the wrapped transport; every other method is its own
    (not ``asyncio.Transport``'s unimplemented stubs).
    """

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._loop = asyncio.get_running_loop()
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Hold ``data`` to send with the other writes of this turn of the loop."""
        held = self._held
        if held is None:
            self._held = bytes(data)
            self._loop.call_soon(self._flush)
        else:
            self._held = held + data

    def _flush(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def close(self) -> None:
        """Send what is held, then close."""
        self._flush()
        self._transport.close()

    def is_closing(self) -> bool:
        """Whether the connection is closing or closed."""
        return self._transport.is_closing()

    def pause_reading(self) -> None:
        """Stop reading from the connection."""
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        """Read from the connection again."""
        self._transport.resume_reading()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """The wrapped transport's ``socket``, ``peername``, ``sockname``, … ."""
        return self._transport.get_extra_info(name, default)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _accepted(transport: asyncio.Transport) -> asyncio.Transport:
    # asyncio sets TCP_NODELAY only on sockets whose listener was created with
    # proto=IPPROTO_TCP; the listener serve binds (listening_socket, as uvicorn binds one for
    # --workers N) has proto 0 and is handed to uvicorn as such, so without this a response could
    # wait ~40 ms for the client's delayed ACK.
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):  # the peer already went away
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return cast(asyncio.Transport, CoalescingTransport(transport))


# Each protocol class is in a module of its own, imported by uvicorn only when chosen: a worker on
# httptools never imports h11 (nor one on h11 httptools).
HTTP_PROTOCOLS = {"h11": f"{__package__}._h11:H11NoDelayProtocol"}
if importlib.util.find_spec("httptools") is not None:
    HTTP_PROTOCOLS["httptools"] = f"{__package__}._httptools:HttpToolsNoDelayProtocol"


class HideQueryStrings(logging.Filter):
    """Removes the query string from uvicorn's access-log records and from the ASGI scopes its
    trace level logs; the path, method and status stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's arguments in place; never drops a record."""
        args = record.args
        if not isinstance(args, tuple):
            return True
        if record.name == "uvicorn.access" and len(args) == 5:
            client, method, path, version, status = args
            record.args = (client, method, str(path).partition("?")[0], version, status)
        elif record.name == "uvicorn.asgi":
            record.args = tuple(_without_query(arg) for arg in args)
        return True


def _without_query(arg: object) -> object:
    if isinstance(arg, dict) and arg.get("query_string"):
        hidden = dict(arg)
        hidden["query_string"] = f"<{len(arg['query_string'])} bytes>"
        return hidden
    return arg


def log_config(level: str, log_format: str = "text") -> dict[str, Any]:
    """uvicorn's logging configuration with query strings hidden, plus the service's own
    ``tokensmith`` loggers (events included) on the same output at ``level``; with
    ``log_format`` ``json``, every line (uvicorn's too) is a JSON object
    (:class:`~tokensmith.server._events.JsonFormatter`)."""
    config = copy.deepcopy(LOGGING_CONFIG)
    if log_format == "json":
        json_formatter = {"()": "tokensmith.server._events.JsonFormatter"}
        config["formatters"] = {"default": json_formatter, "access": dict(json_formatter)}
    hide = f"{__name__}.HideQueryStrings"
    config["filters"] = {"hide_query_strings": {"()": hide}}
    loggers = config["loggers"]
    loggers["uvicorn.access"]["filters"] = ["hide_query_strings"]
    loggers["uvicorn.asgi"] = {"filters": ["hide_query_strings"]}
    loggers["tokensmith"] = {
        "handlers": ["default"],
        "level": max(LOG_LEVELS[level], logging.DEBUG),
        "propagate": False,
    }
    return config


def _http_protocol(http: str) -> str:
    if http == "auto":
        http = "httptools" if "httptools" in HTTP_PROTOCOLS else "h11"
    if http not in HTTP_PROTOCOLS:
        raise ConfigurationError(
            f"--http {http} needs the {http} package, part of 'tokensmith[server]' where a "
            f"wheel exists for this platform: pip install {http}"
        )
    return HTTP_PROTOCOLS[http]


def _loop(loop: str) -> str:
    if loop == "uvloop" and importlib.util.find_spec("uvloop") is None:
        raise ConfigurationError(
            "--loop uvloop needs the uvloop package, part of 'tokensmith[server]' where a wheel "
            "exists for this platform: pip install uvloop"
        )
    return loop


async def prepare(settings: Settings, *, demo: bool) -> None:
    """Migrate the database, check the master key against it (creating the key file for a new
    database), create the master realm (whose clients use the admin API) if there is none and,
    in demo mode, create the demo realms; done once before workers start so that
    they never race on it.

    Raises:
        MasterKeyError: the master key does not match the database, or is missing for one that
            holds encrypted keys.
        DatabaseError: the database cannot be reached, does not exist, or takes no writes.
    """
    from ..store import Database
    from ._admin import Admin
    from ._admin_api import ensure_master_realm
    from ._demo import ensure_demo
    from ._keys import open_master_key

    db = Database(settings.database_url)
    try:
        await db.migrate()
        await db.check_writable()  # a read-only file would answer 503 at every write, for ever
        master = await open_master_key(db, settings.master_key, settings.key_file())
        assert master is not None  # required: made when the database has none
        await ensure_master_realm(Admin(db, master))
        if demo:
            await ensure_demo(Admin(db, master))
    finally:
        await db.close()


def uvicorn_options(
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    access_log: bool = False,
    log_level: str = "info",
    log_format: str = "text",
    loop: str = "auto",
    http: str = "auto",
) -> dict[str, Any]:
    """What ``serve`` hands uvicorn, in the supervising process and in every worker.

    Raises:
        ConfigurationError: ``log_level`` or ``log_format`` is unknown, or ``loop``/``http``
            names a package that is not installed.
    """
    if log_level not in LOG_LEVELS:
        raise ConfigurationError(
            f"unknown log level {log_level!r}; use one of {', '.join(LOG_LEVELS)}"
        )
    if log_format not in LOG_FORMATS:
        raise ConfigurationError(
            f"unknown log format {log_format!r}; use one of {', '.join(LOG_FORMATS)}"
        )
    return {
        "host": host,
        "port": port,
        "loop": _loop(loop),
        "http": _http_protocol(http),
        "access_log": access_log,
        "log_level": log_level,
        "log_config": log_config(log_level, log_format),
        "server_header": False,
        # The application reads X-Forwarded-For itself, from configured trusted proxies only
        # (Settings.trusted_proxies); uvicorn's own rewrite would trust any loopback peer.
        "proxy_headers": False,
        "lifespan": "on",
        "ws": "none",  # no WebSocket endpoint: never import websockets/wsproto where installed
    }


def check_tracing() -> None:
    """Make sure ``--tracing`` can work before anything starts, and warn when its spans would go
    nowhere (no OpenTelemetry SDK configured in this process).

    Raises:
        ConfigurationError: ``opentelemetry-api`` is not installed.
    """
    from ..core._tracing import make_tracing, provider_configured

    make_tracing(True)
    if not provider_configured():
        print(
            "warning: --tracing is on but no OpenTelemetry SDK is configured in this process, so "
            "spans are dropped; run serve under opentelemetry-instrument (opentelemetry-distro "
            "and an exporter, configured by the OTEL_* variables)",
            file=sys.stderr,
            flush=True,
        )


class CannotListen(TokensmithError):
    """The address and port ``serve`` was given cannot be listened on; the message says why and
    what to change."""


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port`` as uvicorn binds one (``SO_REUSEADDR``, inherited by
    the workers), not yet listening: until :meth:`socket.socket.listen`, connections to it are
    refused.

    Raises:
        CannotListen: the port is taken, privileged, or the host is no address of this machine.
    """
    return _bound(host, port, reuse_port=False)


def listening_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` sockets bound to ``host``:``port`` (not yet listening), one per worker.

    On Linux, with more than one, each is bound with ``SO_REUSEPORT``, so that the kernel hands
    each new connection to one worker's socket by a hash of its addresses. With one socket shared
    by every worker, whichever worker wakes first accepts: measured with 64 connections opened
    at once, one worker of two held two thirds of them and ran near saturation at half the peak
    load (bench/half_load.py). Before binding them, the port is bound once without
    ``SO_REUSEPORT``: that fails when anything listens there, even another tokensmith, which
    would otherwise join the group and take some of the connections. Elsewhere (where
    ``SO_REUSEPORT`` does not balance), one socket that every worker shares.

    Raises:
        CannotListen: the port is taken, privileged, or the host is no address of this machine.
    """
    if count < 2 or sys.platform != "linux" or not hasattr(socket, "SO_REUSEPORT"):
        return [listening_socket(host, port)]
    if port != 0:
        _bound(host, port, reuse_port=False).close()
    socks = [_bound(host, port, reuse_port=True)]
    port = socks[0].getsockname()[1]  # the port chosen when asked for port 0
    try:
        socks += [_bound(host, port, reuse_port=True) for _ in range(count - 1)]
    except BaseException:
        for sock in socks:
            sock.close()
        raise
    return socks


def _bound(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise CannotListen(f"cannot listen on {where}: {_bind_failure(host, exc)}") from None
    sock.set_inheritable(True)
    return sock


def _bind_failure(host: str, exc: OSError) -> str:
    if isinstance(exc, socket.gaierror):
        return f"{host!r} is not an address or a name this machine resolves ({exc.strerror})"
    if exc.errno == errno.EADDRINUSE:
        return (
            "another process listens there already (a tokensmith started before?); stop it, or "
            "choose another port with --port or TOKENSMITH_PORT"
        )
    if exc.errno == errno.EACCES:
        return "permission denied (ports below 1024 need privileges); choose a port above 1023"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine; use one of its addresses, or 0.0.0.0"
    return exc.strerror or str(exc)


def serve(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    demo: bool = False,
    access_log: bool = False,
    log_level: str = "info",
    log_format: str = "text",
    loop: str = "auto",
    http: str = "auto",
) -> None:
    """Bind the address (and the management port, when ``settings`` sets one), prepare the
    database, then listen and serve until interrupted.

    The addresses are bound before the database is touched, so that a taken port changes
    nothing; the demo's commands are printed only once the socket listens (connections made from
    then on wait for the service instead of failing). With ``workers`` > 1 the metrics of every
    worker go to a fresh private directory (``PROMETHEUS_MULTIPROC_DIR``), removed when the
    service stops; on a POSIX system this process then becomes the workers' supervisor (see
    :func:`supervise`) and this function does not return; with one worker, it exits with
    :data:`STARTUP_FAILURE` when the application does not start.

    Raises:
        ConfigurationError: ``log_level`` or ``log_format`` is unknown, ``loop``/``http`` names
            a package that is not installed, the management port is the main port, or
            ``settings.tracing`` is on without ``opentelemetry-api``.
        CannotListen: an address cannot be bound.
        DatabaseError, MasterKeyError: see :func:`prepare`.
    """
    choices: dict[str, Any] = {
        "host": host,
        "port": port,
        "access_log": access_log,
        "log_level": log_level,
        "log_format": log_format,
        "loop": loop,
        "http": http,
    }
    options = uvicorn_options(**choices)
    logging.config.dictConfig(options["log_config"])
    if settings.management_port is not None and settings.management_port == port != 0:
        raise ConfigurationError(
            f"the management port must differ from the main port ({port}); choose another "
            "with --management-port or TOKENSMITH_MANAGEMENT_PORT"
        )
    if settings.tracing:
        check_tracing()
    supervised = workers > 1 and os.name == "posix" and bool(sys.executable)
    socks = listening_sockets(host, port, workers if supervised else 1)
    shared: list[socket.socket] = []
    try:
        if settings.management_port is not None:
            shared.append(_bound(host, settings.management_port, reuse_port=False))
        asyncio.run(prepare(settings, demo=demo))
        for sock in (*socks, *shared):
            sock.listen(BACKLOG)
    except BaseException:
        for sock in (*socks, *shared):
            sock.close()
        raise
    port = socks[0].getsockname()[1]  # the port chosen when asked for port 0
    if shared:
        settings = dataclasses.replace(settings, management_port=shared[0].getsockname()[1])
    _announce(settings, host, port, workers, choices)
    if demo:
        from ._demo import demo_instructions

        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
        shown = f"[{shown}]" if ":" in shown else shown
        base_url = settings.public_url or f"http://{shown}:{port}"
        print(demo_instructions(base_url, settings), flush=True)
    metrics_dir = None
    os.environ.pop(MULTIPROC_DIR, None)  # never a directory of someone else's values
    if workers > 1 and settings.metrics:
        metrics_dir = tempfile.mkdtemp(prefix="tokensmith-metrics-")
        os.environ[MULTIPROC_DIR] = metrics_dir
    try:
        if workers > 1:
            os.environ.update(settings.to_env())
            if supervised:
                supervise(workers, choices, socks, shared, metrics_dir)
            for sock in (*socks, *shared):
                sock.close()  # uvicorn's own supervisor binds its own (and no management port)
            uvicorn.run(APP, factory=True, workers=workers, **options)
            return
        server = uvicorn.Server(uvicorn.Config(ServedApp(settings, migrate=False), **options))
        with contextlib.suppress(KeyboardInterrupt):
            server.run(sockets=[*socks, *shared])  # prepare() migrated
        if not server.started:
            sys.exit(STARTUP_FAILURE)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _announce(
    settings: Settings, host: str, port: int, workers: int, choices: dict[str, Any]
) -> None:
    """Log the ``startup`` event (the configuration, without secrets) and warn about what a
    service reachable from other hosts should configure."""
    emit(
        "startup",
        host=host,
        port=port,
        workers=workers,
        management_port=settings.management_port,
        metrics=settings.metrics,
        database=masked_url(settings.database_url),
        public_url=settings.public_url,
        rate_limit_storage=masked_url(settings.rate_limit_storage),
        log_level=choices["log_level"],
        log_format=choices["log_format"],
        access_log=choices["access_log"],
    )
    if host in ("127.0.0.1", "localhost", "::1"):
        return
    if not (settings.public_url or settings.allowed_hosts):
        log.warning(
            "listening on %s without --public-url or --allowed-host: requests are answered "
            "only for Host localhost:%s, 127.0.0.1:%s or [::1]:%s; clients reaching this "
            "service by another name get 400. Set --public-url to the URL clients use (it fixes "
            "every realm's issuer).",
            host,
            port,
            port,
            port,
        )
    if settings.metrics and settings.management_port is None:
        log.warning(
            "listening on %s with /metrics on the main port: whoever reaches it reads realm "
            "names and client ids; set --management-port (served only there) or --no-metrics",
            host,
        )


def masked_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` and any query string by ``?…`` (a
    database or Redis URL, for the log)."""
    base, question, _ = url.partition("?")
    scheme, sep, rest = base.partition("://")
    where, slash, path = rest.partition("/")
    if sep and "@" in where:
        user, _, host = where.rpartition("@")
        name, colon, _ = user.partition(":")
        base = f"{scheme}://{name}{':***' if colon else ''}@{host}{slash}{path}"
    return base + ("?…" if question else "")


def supervise(
    workers: int,
    choices: dict[str, Any],
    socks: Sequence[socket.socket],
    shared: Sequence[socket.socket] = (),
    metrics_dir: str | None = None,
) -> NoReturn:
    """Replace this process with the supervisor of ``workers`` worker processes (``python -m
    tokensmith.server._supervisor``), which pass on the listening sockets ``socks`` (one shared
    by all, or one per worker) and ``shared`` (every worker's: the management port); never
    returns. The supervisor deletes a dead worker's gauges from ``metrics_dir``, and the
    directory when it stops.

    The process keeps its id, standard streams and environment (``TOKENSMITH_*`` carries the
    settings to the workers); what this process imported to prepare the database (SQLAlchemy,
    Alembic, the application) is gone.
    """
    argv = [sys.executable, "-m", "tokensmith.server._supervisor", "--workers", str(workers)]
    for sock in socks:
        argv += ["--fd", str(sock.fileno())]
    for sock in shared:
        argv += ["--shared-fd", str(sock.fileno())]
    if metrics_dir is not None:
        argv += ["--metrics-dir", metrics_dir]
    argv += ["--log-level", choices["log_level"], "--log-format", choices["log_format"], "--"]
    argv += [sys.executable, "-m", "tokensmith.server._worker", json.dumps(choices)]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)  # noqa: S606 (this interpreter, our own argv)


def run_worker(argv: Sequence[str]) -> None:
    """Serve on the listening socket the supervisor passed down, as one worker of
    ``serve --workers N``: ``argv`` is the JSON :func:`supervise` wrote (the ``serve`` options),
    the file descriptors of the worker's listening sockets, then the supervisor's lifeline (see
    ``_supervisor``). Exits with :data:`STARTUP_FAILURE` when the application does not start."""
    choices = json.loads(argv[0])
    exit_with_parent(int(argv[-1]))
    socks = [socket.socket(fileno=int(fd)) for fd in argv[1:-1]]
    server = uvicorn.Server(uvicorn.Config(APP, factory=True, **uvicorn_options(**choices)))
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=socks)
    if not server.started:
        sys.exit(STARTUP_FAILURE)
