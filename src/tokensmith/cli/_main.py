"""Entry point of the ``tokensmith`` command."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import replace

from ..oauth import ConfigurationError, TokensmithError
from ..server._options import HTTP_PARSERS, LOG_FORMATS, LOG_LEVELS, LOOPS
from ._args import port, positive

SERVER_PACKAGES = frozenset(
    {
        "aiosqlite",
        "alembic",
        "argon2",
        "asyncpg",
        "cryptography",
        "httptools",
        "limits",
        "msgspec",
        "prometheus_client",
        "sqlalchemy",
        "uvicorn",
        "uvloop",
    }
)
"""What ``pip install 'tokensmith[server]'`` adds, by import name; a client-only install (``pip
install tokensmith``) lacks them."""

OPTION_VARIABLES = {
    "database": "TOKENSMITH_DATABASE_URL",
    "host": "TOKENSMITH_HOST",
    "port": "TOKENSMITH_PORT",
    "workers": "TOKENSMITH_WORKERS",
    "public_url": "TOKENSMITH_PUBLIC_URL",
    "allowed_host": "TOKENSMITH_ALLOWED_HOSTS",
    "demo": "TOKENSMITH_DEMO",
    "access_log": "TOKENSMITH_ACCESS_LOG",
    "rate_limit_storage": "TOKENSMITH_RATE_LIMIT_STORAGE",
    "trusted_proxy": "TOKENSMITH_TRUSTED_PROXIES",
    "log_level": "TOKENSMITH_LOG_LEVEL",
    "log_format": "TOKENSMITH_LOG_FORMAT",
    "metrics": "TOKENSMITH_METRICS",
    "management_port": "TOKENSMITH_MANAGEMENT_PORT",
    "loop": "TOKENSMITH_LOOP",
    "http": "TOKENSMITH_HTTP",
    "tracing": "TOKENSMITH_TRACING",
    "admin_events_days": "TOKENSMITH_ADMIN_EVENTS_DAYS",
    "console": "TOKENSMITH_CONSOLE",
}
"""The ``TOKENSMITH_*`` variable of each option of ``serve`` (and ``--database`` of every
command), by the option's destination; an option given on the command line wins, and its
variable is not read."""

PROCESS_OPTIONS = (
    "host",
    "port",
    "workers",
    "demo",
    "access_log",
    "log_level",
    "log_format",
    "loop",
    "http",
)
"""The options of ``serve`` that are keywords of ``serve()`` rather than :class:`Settings`."""

SERVE_EPILOG = (
    "settings without an option: $TOKENSMITH_MASTER_KEY (the master key itself, 32 bytes of "
    "base64url) or $TOKENSMITH_MASTER_KEY_FILE (the file holding it), $TOKENSMITH_POLL_INTERVAL "
    "(seconds within which admin changes reach the service, default 2), "
    "$TOKENSMITH_REALM_CACHE_SIZE (realms each process holds in memory, default 1000), "
    "$TOKENSMITH_CLIENT_AUTH_LIMIT and $TOKENSMITH_ADDRESS_AUTH_LIMIT (failed-authentication "
    "limits of realms that set none), $TOKENSMITH_LAST_USED_INTERVAL (seconds between writes "
    "of when clients last got a token, default 60). The README's table lists every variable."
)

DESCRIPTION = """\
tokensmith: OAuth 2.0 machine-to-machine authentication.

Start a token service (tokensmith serve --demo for a ready-made one), then manage its realms,
clients and keys. Every command takes --database (default $TOKENSMITH_DATABASE_URL, else
sqlite:///./tokensmith.db); admin commands work while the service runs. Only serve and
tokensmith db upgrade create or upgrade the database schema; the other commands refuse a
database without it.
"""


class _Version(argparse.Action):
    """``--version``: the version of the installed package, looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            installed = version("tokensmith")
        except PackageNotFoundError:
            installed = "(version unknown: run from a source tree that is not installed)"
        print(f"tokensmith {installed}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    from ._admin_parsers import add_parsers

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--database",
        metavar="URL",
        help="sqlite:///PATH or postgresql://USER@HOST/DB "
        "(default $TOKENSMITH_DATABASE_URL, else sqlite:///./tokensmith.db)",
    )
    parser = argparse.ArgumentParser(
        prog="tokensmith",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action=_Version, help="print the installed version of tokensmith and exit"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = sub.add_parser(
        "serve",
        parents=[common],
        help="run the token service",
        description="Run the token service. Each option may instead be set by the environment "
        "variable its help names; an option on the command line wins over its variable.",
        epilog=SERVE_EPILOG,
    )
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1; $TOKENSMITH_HOST)")
    serve.add_argument(
        "--port", type=port, help="port to listen on (default 8080; $TOKENSMITH_PORT)"
    )
    serve.add_argument(
        "--workers", type=positive, help="worker processes (default 1; $TOKENSMITH_WORKERS)"
    )
    serve.add_argument(
        "--public-url",
        metavar="URL",
        help="base URL clients reach the service at, e.g. https://auth.example.com; every realm's "
        "issuer is URL/realms/NAME whatever Host a request names ($TOKENSMITH_PUBLIC_URL)",
    )
    serve.add_argument(
        "--allowed-host",
        action="append",
        metavar="HOST[:PORT]",
        help="without --public-url, a Host header the service answers for, its issuer following "
        "it (repeatable; default: localhost, 127.0.0.1 and [::1] on --port; "
        "$TOKENSMITH_ALLOWED_HOSTS, separated by commas or spaces); any other Host gets 400",
    )
    serve.add_argument(
        "--demo",
        action=argparse.BooleanOptionalAction,
        help="create realms mirroring the Truphone, Trulioo and GBG docs and print curl commands "
        "(default off; $TOKENSMITH_DEMO)",
    )
    serve.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        help="log every request: client address, method, path without the query string, status "
        "(default off; $TOKENSMITH_ACCESS_LOG)",
    )
    serve.add_argument(
        "--rate-limit-storage",
        metavar="URL",
        help="where failed client authentications are counted: memory:// (this process, the "
        "default) or redis://HOST:PORT/DB shared by every instance "
        "($TOKENSMITH_RATE_LIMIT_STORAGE)",
    )
    serve.add_argument(
        "--trusted-proxy",
        action="append",
        metavar="CIDR",
        help="a proxy whose X-Forwarded-For names the client's address (repeatable; default "
        "none: the connection's address counts; $TOKENSMITH_TRUSTED_PROXIES, separated by "
        "commas or spaces)",
    )
    serve.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        help="least severe log level written (default info; $TOKENSMITH_LOG_LEVEL); no level "
        "writes secrets or tokens",
    )
    serve.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        help="text (default: event=NAME key=value ... lines) or json (one object per line, "
        "uvicorn's lines too) ($TOKENSMITH_LOG_FORMAT)",
    )
    serve.add_argument(
        "--metrics",
        action=argparse.BooleanOptionalAction,
        help="serve Prometheus metrics at /metrics: on the management port when one is set, "
        "else on the main port (default on; $TOKENSMITH_METRICS)",
    )
    serve.add_argument(
        "--management-port",
        type=port,
        metavar="PORT",
        help="a second port, on --host, serving only /metrics and /health* (default none; "
        "Keycloak uses 9000; $TOKENSMITH_MANAGEMENT_PORT)",
    )
    serve.add_argument(
        "--loop",
        choices=LOOPS,
        help="event loop (default auto: uvloop, in [server] where a wheel exists, else asyncio; "
        "$TOKENSMITH_LOOP)",
    )
    serve.add_argument(
        "--http",
        choices=HTTP_PARSERS,
        help="HTTP/1.1 parser (default auto: httptools, in [server] if a wheel exists, else h11; "
        "$TOKENSMITH_HTTP)",
    )
    serve.add_argument(
        "--tracing",
        action=argparse.BooleanOptionalAction,
        help="an OpenTelemetry span per token, introspection and revocation request, exported "
        "as the application's OpenTelemetry SDK is configured, e.g. by opentelemetry-instrument "
        "and the OTEL_* variables; needs pip install 'tokensmith[otel]' (default off; "
        "$TOKENSMITH_TRACING)",
    )
    serve.add_argument(
        "--admin-events-days",
        type=positive,
        metavar="DAYS",
        help="days the admin events and security events are kept (default 90; "
        "$TOKENSMITH_ADMIN_EVENTS_DAYS)",
    )
    serve.add_argument(
        "--console",
        action=argparse.BooleanOptionalAction,
        help="serve the web console at /console on the main port: sign in with an admin "
        "client of the master realm (default on; $TOKENSMITH_CONSOLE)",
    )
    from ._db_commands import add_parsers as add_db_parsers

    add_db_parsers(sub, common)
    add_parsers(sub, common)
    from ._token_command import add_parser as add_token_parser

    add_token_parser(sub)
    return parser


def _token(args: argparse.Namespace) -> int:
    from ._token_command import run

    try:
        return run(args)
    except TokensmithError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "token":
        return _token(args)
    try:
        return _service_command(args)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in SERVER_PACKAGES:
            raise
        command = " ".join(filter(None, (args.command, getattr(args, "action", None))))
        print(
            f"error: `tokensmith {command}` needs the token service's packages, which this "
            f"install lacks (no module named {exc.name!r}); install them with: "
            "pip install 'tokensmith[server]'",
            file=sys.stderr,
        )
        return 1


def _service_command(args: argparse.Namespace) -> int:
    """Run ``serve``, ``db`` or an admin command (each needs the ``[server]`` extra)."""
    from ..server import Settings
    from ..server._settings import log_options_from_env, serve_options_from_env

    # An option on the command line wins: its variable is not read, not even to be refused.
    given = {var for dest, var in OPTION_VARIABLES.items() if getattr(args, dest, None) is not None}
    environ = {name: value for name, value in os.environ.items() if name not in given}
    try:
        settings = Settings.from_env(environ)
        options = serve_options_from_env(environ) if args.command == "serve" else {}
        log_options = log_options_from_env(environ)
    except ConfigurationError as exc:  # a malformed TOKENSMITH_* variable
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.database:
        settings = replace(settings, database_url=args.database)
    try:
        if args.command == "serve":
            from ..server._serve import serve

            if args.public_url:
                settings = replace(settings, public_url=args.public_url)
            if args.rate_limit_storage:
                settings = replace(settings, rate_limit_storage=args.rate_limit_storage)
            if args.trusted_proxy:
                settings = replace(settings, trusted_proxies=tuple(args.trusted_proxy))
            if args.allowed_host:
                settings = replace(settings, allowed_hosts=tuple(args.allowed_host))
            if args.metrics is not None:
                settings = replace(settings, metrics=args.metrics)
            if args.management_port is not None:
                settings = replace(settings, management_port=args.management_port)
            if args.tracing is not None:
                settings = replace(settings, tracing=args.tracing)
            if args.admin_events_days is not None:
                settings = replace(settings, admin_events_days=args.admin_events_days)
            if args.console is not None:
                settings = replace(settings, console=args.console)
            for name in PROCESS_OPTIONS:
                if getattr(args, name) is not None:
                    options[name] = getattr(args, name)
            serve(settings, **options)
            return 0
        # asyncio costs ~50 ms to import: only the admin commands need it, not `token` or --help.
        import asyncio

        from ..server._events import acting, log_to_stderr

        with log_to_stderr(**log_options), acting(via="cli", by=_system_user()):
            if args.command == "db":
                from ._db_commands import run as run_db

                return asyncio.run(run_db(args, settings))
            from ._admin_commands import run

            return asyncio.run(run(args, settings))
    except TokensmithError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _system_user() -> str:
    """Who runs the command, as the system names them (for the events of admin commands)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a uid without a name, no USER or LOGNAME
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"
