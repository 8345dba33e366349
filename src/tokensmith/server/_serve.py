"""Running the service under uvicorn: the one module that knows uvicorn.

Five things here go beyond handing the app to uvicorn:

- every accepted TCP connection gets ``TCP_NODELAY``, whatever the event loop and worker count;
- a response's status line and headers leave in the same write as its body (one TCP segment,
  one system call), where uvicorn writes them separately;
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
import ctypes
import gc
import importlib.util
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import threading
import time
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..oauth import ConfigurationError
from ..store import Database
from ._admin import Admin
from ._app import TokensmithApp
from ._demo import demo_instructions, ensure_demo
from ._keys import open_master_key
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
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


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


def exit_with_parent() -> None:
    """Make this process stop (SIGTERM, then a hard exit after :data:`ORPHAN_GRACE` seconds) when
    the process that started it with ``multiprocessing`` dies, even by SIGKILL.

    On Linux the kernel sends SIGTERM at once (``prctl(PR_SET_PDEATHSIG)``); everywhere a daemon
    thread waits on the parent's ``multiprocessing`` sentinel and watches ``os.getppid()``, which
    also covers a parent that died before the ``prctl`` call. Does nothing in a process that
    ``multiprocessing`` did not start.
    """
    parent = multiprocessing.parent_process()
    if parent is None or parent.pid is None:
        return
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    threading.Thread(
        target=_watch_parent,
        args=(parent.pid, parent.sentinel),
        name="tokensmith-parent-watch",
        daemon=True,
    ).start()


def _watch_parent(pid: int, sentinel: int) -> None:
    while os.getppid() == pid and not multiprocessing.connection.wait([sentinel], timeout=1.0):
        pass
    log.warning("supervising process %d is gone; this worker stops", pid)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(ORPHAN_GRACE)
    os._exit(1)


class CoalescingTransport(asyncio.Transport):
    """A connection's transport whose writes made in one turn of the event loop leave together.

    uvicorn writes a response's status line and headers when the application starts it and the
    body when it sends it: two system calls and, with ``TCP_NODELAY``, two TCP segments the client
    reads separately. Here writes are held until the loop's next turn (or until the transport is
    closed) and leave as one. Holding them to the next turn, not only until the body arrives,
    also batches: the responses to all the requests read in one turn go out together, which
    measured ~30 % more tokens/s than writing each response as soon as it is whole. Only
    ``write`` and ``close`` differ from the wrapped transport.
    """

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        super().__init__()
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
    # proto=IPPROTO_TCP; uvicorn's --workers N listener is created with proto 0 and handed to the
    # workers as such, so without this the response waits ~40 ms for the client's delayed ACK.
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):  # the peer already went away
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return CoalescingTransport(transport)


class H11NoDelayProtocol(H11Protocol):
    """uvicorn's h11 protocol with ``TCP_NODELAY`` and coalesced writes on every accepted
    connection."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Set ``TCP_NODELAY``, then start the HTTP connection over a coalescing transport."""
        super().connection_made(_accepted(transport))


HTTP_PROTOCOLS = {"h11": f"{__name__}:H11NoDelayProtocol"}

if importlib.util.find_spec("httptools") is not None:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class HttpToolsNoDelayProtocol(HttpToolsProtocol):
        """uvicorn's httptools protocol with ``TCP_NODELAY`` and coalesced writes on every
        accepted connection."""

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            """Set ``TCP_NODELAY``, then start the HTTP connection over a coalescing
            transport."""
            super().connection_made(_accepted(transport))

    HTTP_PROTOCOLS["httptools"] = f"{__name__}:HttpToolsNoDelayProtocol"


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


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging configuration with query strings hidden, plus the service's own
    ``tokensmith`` loggers on the same output at ``level``."""
    config = copy.deepcopy(LOGGING_CONFIG)
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
    database) and, in demo mode, create the demo realms; done once before workers start so that
    they never race on it.

    Raises:
        MasterKeyError: the master key does not match the database, or is missing for one that
            holds encrypted keys.
    """
    db = Database(settings.database_url)
    try:
        await db.migrate()
        master = await open_master_key(db, settings.master_key, settings.key_file())
        assert master is not None  # required: made when the database has none
        if demo:
            await ensure_demo(Admin(db, master))
    finally:
        await db.close()


def serve(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    demo: bool = False,
    access_log: bool = False,
    log_level: str = "info",
    loop: str = "auto",
    http: str = "auto",
) -> None:
    """Prepare the database and serve until interrupted.

    Raises:
        ConfigurationError: ``log_level`` is unknown, or ``loop``/``http`` names a package that
            is not installed.
    """
    if log_level not in LOG_LEVELS:
        raise ConfigurationError(
            f"unknown log level {log_level!r}; use one of {', '.join(LOG_LEVELS)}"
        )
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "loop": _loop(loop),
        "http": _http_protocol(http),
        "access_log": access_log,
        "log_level": log_level,
        "log_config": log_config(log_level),
        "server_header": False,
        # The application reads X-Forwarded-For itself, from configured trusted proxies only
        # (Settings.trusted_proxies); uvicorn's own rewrite would trust any loopback peer.
        "proxy_headers": False,
        "lifespan": "on",
    }
    asyncio.run(prepare(settings, demo=demo))
    if host not in ("127.0.0.1", "localhost", "::1") and not (
        settings.public_url or settings.allowed_hosts
    ):
        print(
            f"warning: listening on {host} without --public-url or --allowed-host: requests are "
            f"answered only for Host localhost:{port}, 127.0.0.1:{port} or [::1]:{port}; clients "
            "reaching this service by another name get 400. Set --public-url to the URL clients "
            "use (it fixes every realm's issuer).",
            file=sys.stderr,
            flush=True,
        )
    if demo:
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
        print(demo_instructions(settings.public_url or f"http://{shown}:{port}"), flush=True)
    if workers > 1:
        os.environ.update(settings.to_env())
        uvicorn.run(
            "tokensmith.server._serve:app_from_env", factory=True, workers=workers, **options
        )
    else:
        uvicorn.run(ServedApp(settings, migrate=False), **options)  # prepare() migrated
