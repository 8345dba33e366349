"""Service settings: a frozen value, read from the environment in one place (``TOKENSMITH_*``).

Two tables name every variable the service reads: :data:`SETTINGS_VARIABLES` give
:class:`Settings` (what every command and every worker needs), :data:`SERVE_VARIABLES` the options
of the ``serve`` process itself (address, workers, logging, event loop). A malformed value is
refused with a message that names its variable.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..oauth import ConfigurationError
from ..store import DEFAULT_URL, sqlite_path
from ._options import (
    HTTP_PARSERS,
    LOG_FORMATS,
    LOG_LEVELS,
    LOOPS,
    boolean,
    one_of,
    port,
    positive,
)
from ._ratelimit import (
    DEFAULT_ADDRESS_LIMIT,
    DEFAULT_CLIENT_LIMIT,
    MEMORY,
    TrustedProxies,
    check_limits,
    check_storage,
)
from ._state import DEFAULT_MAX_REALMS

ENV_PREFIX = "TOKENSMITH_"


def _poll_interval(text: str) -> float:
    try:
        interval = float(text)
    except ValueError:
        interval = 0.0
    if not interval > 0:  # also refuses nan
        raise ValueError(f"{text!r} is not a positive number of seconds")
    return interval


def _realm_cache_size(text: str) -> int:
    try:
        size = int(text)
    except ValueError:
        size = 0
    if size < 1:
        raise ValueError(f"{text!r} is not a positive whole number of realms")
    return size


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.replace(",", " ").split())


Reader = Callable[[str], object]
"""How a variable's text becomes its value; raises ValueError for text it refuses."""

SETTINGS_VARIABLES: dict[str, tuple[str, Reader]] = {
    "DATABASE_URL": ("database_url", str),
    "PUBLIC_URL": ("public_url", str),
    "MASTER_KEY": ("master_key", str),
    "MASTER_KEY_FILE": ("master_key_file", Path),
    "POLL_INTERVAL": ("poll_interval", _poll_interval),
    "REALM_CACHE_SIZE": ("realm_cache_size", _realm_cache_size),
    "RATE_LIMIT_STORAGE": ("rate_limit_storage", str),
    "CLIENT_AUTH_LIMIT": ("client_auth_limit", str),
    "ADDRESS_AUTH_LIMIT": ("address_auth_limit", str),
    "TRUSTED_PROXIES": ("trusted_proxies", _words),
    "ALLOWED_HOSTS": ("allowed_hosts", _words),
    "METRICS": ("metrics", boolean),
    "MANAGEMENT_PORT": ("management_port", port),
    "TRACING": ("tracing", boolean),
    "ADMIN_EVENTS_DAYS": ("admin_events_days", positive),
    "LAST_USED_INTERVAL": ("last_used_interval", _poll_interval),
    "CONSOLE": ("console", boolean),
}
"""Each ``TOKENSMITH_*`` variable of :class:`Settings` (without the prefix): the field it sets, and
how its text becomes the value."""

SERVE_VARIABLES: dict[str, tuple[str, Reader]] = {
    "HOST": ("host", str),
    "PORT": ("port", port),
    "WORKERS": ("workers", positive),
    "DEMO": ("demo", boolean),
    "ACCESS_LOG": ("access_log", boolean),
    "LOG_LEVEL": ("log_level", one_of(LOG_LEVELS)),
    "LOG_FORMAT": ("log_format", one_of(LOG_FORMATS)),
    "LOOP": ("loop", one_of(LOOPS)),
    "HTTP": ("http", one_of(HTTP_PARSERS)),
}
"""Each ``TOKENSMITH_*`` variable of the ``serve`` process (without the prefix): the keyword of
:func:`tokensmith.server._serve.serve` it sets, and how its text becomes the value."""


def _read(env: Mapping[str, str], variables: Mapping[str, tuple[str, Reader]]) -> dict[str, Any]:
    """The values of the ``variables`` that ``env`` sets to a non-empty text, by field.

    Raises:
        ConfigurationError: a value is malformed; the message names its variable.
    """
    values: dict[str, Any] = {}
    for variable, (name, read) in variables.items():
        text = env.get(ENV_PREFIX + variable)
        if text:
            try:
                values[name] = read(text)
            except ValueError as exc:
                raise ConfigurationError(f"{ENV_PREFIX}{variable}: {exc}") from None
    return values


def serve_options_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The options of ``serve`` that ``TOKENSMITH_HOST``, ``_PORT``, ``_WORKERS``, ``_DEMO``,
    ``_ACCESS_LOG``, ``_LOG_LEVEL``, ``_LOG_FORMAT``, ``_LOOP`` and ``_HTTP`` set, as keywords of
    ``serve()``; a variable that is unset or empty gives none.

    Raises:
        ConfigurationError: a value is malformed; the message names its variable.
    """
    return _read(os.environ if environ is None else environ, SERVE_VARIABLES)


def log_options_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``log_format`` and ``log_level`` as ``TOKENSMITH_LOG_FORMAT`` and ``_LOG_LEVEL`` set them
    (for the commands other than ``serve``, which write their events to standard error).

    Raises:
        ConfigurationError: a value is malformed; the message names its variable.
    """
    wanted = {name: SERVE_VARIABLES[name] for name in ("LOG_FORMAT", "LOG_LEVEL")}
    return _read(os.environ if environ is None else environ, wanted)


@dataclass(frozen=True)
class Settings:
    """What the service needs to start.

    ``public_url`` is the base URL clients reach the service at; every realm's issuer is
    ``{public_url}/realms/{name}``, whatever Host a request names. Without it, the base URL comes
    from the request's ``Host`` only when that is one of ``allowed_hosts`` (``host[:port]``;
    default: ``localhost``, ``127.0.0.1`` and ``[::1]`` on the port the service listens on); any
    other Host is refused with 400. The master key encrypts signing keys at rest:
    ``master_key`` (base64url, 32 bytes) wins, else ``master_key_file``, which is created with 0600
    permissions when absent (default: beside the SQLite file, or ``./tokensmith.key``).

    Failed client authentications are counted in ``rate_limit_storage`` (``memory://`` per
    process, or a Redis URL shared by a fleet); ``client_auth_limit`` and ``address_auth_limit``
    are the limits of realms that set none (see :mod:`tokensmith.server._ratelimit`).
    ``X-Forwarded-For`` names the client only when the peer is in ``trusted_proxies`` (CIDRs).
    With ``metrics``, Prometheus metrics are served at ``/metrics``: on ``management_port`` when
    one is set (which serves only them and the health endpoints), else on the main port.
    Each process holds at most ``realm_cache_size`` realms in memory (the least recently used
    is dropped and read again when needed). ``tracing`` makes an OpenTelemetry span per token,
    introspection and revocation request (needs the ``otel`` extra; see the README, Tracing).
    Admin events and security events are kept ``admin_events_days`` days; each process writes
    when its clients last got a token every ``last_used_interval`` seconds.
    ``console`` serves the web console at ``/console`` on the main port.

    Raises:
        ConfigurationError: the public URL, the rate-limit storage, a limit or a trusted proxy is
            malformed, or ``realm_cache_size`` or ``admin_events_days`` is below 1.
    """

    database_url: str = field(default=DEFAULT_URL, repr=False)  # may carry a password
    public_url: str | None = None
    master_key: str | None = field(default=None, repr=False)
    master_key_file: Path | None = None
    poll_interval: float = 2.0
    realm_cache_size: int = DEFAULT_MAX_REALMS
    max_body_bytes: int = 64 * 1024
    rate_limit_storage: str = field(default=MEMORY, repr=False)  # may carry a Redis password
    client_auth_limit: str = DEFAULT_CLIENT_LIMIT
    address_auth_limit: str = DEFAULT_ADDRESS_LIMIT
    trusted_proxies: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    metrics: bool = True
    management_port: int | None = None
    tracing: bool = False
    admin_events_days: int = 90
    last_used_interval: float = 60.0
    console: bool = True

    def __post_init__(self) -> None:
        if self.public_url is not None:
            url = urlsplit(self.public_url)
            if url.scheme not in ("http", "https") or not url.netloc or url.query or url.fragment:
                raise ConfigurationError(
                    f"the public URL {self.public_url!r} must be http(s)://HOST[:PORT][/PATH]"
                )
        if self.realm_cache_size < 1:
            raise ConfigurationError("the realm cache must hold at least one realm")
        if self.admin_events_days < 1:
            raise ConfigurationError("events must be kept at least one day")
        if not self.last_used_interval > 0:
            raise ConfigurationError("the last-use write interval must be a positive number")
        check_storage(self.rate_limit_storage)
        check_limits(self.client_auth_limit)
        check_limits(self.address_auth_limit)
        TrustedProxies(self.trusted_proxies)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``TOKENSMITH_DATABASE_URL``, ``TOKENSMITH_PUBLIC_URL``,
        ``TOKENSMITH_MASTER_KEY``, ``TOKENSMITH_MASTER_KEY_FILE``, ``TOKENSMITH_POLL_INTERVAL``,
        ``TOKENSMITH_REALM_CACHE_SIZE``, ``TOKENSMITH_RATE_LIMIT_STORAGE``,
        ``TOKENSMITH_CLIENT_AUTH_LIMIT``, ``TOKENSMITH_ADDRESS_AUTH_LIMIT``,
        ``TOKENSMITH_TRUSTED_PROXIES`` (CIDRs separated by commas or spaces),
        ``TOKENSMITH_ALLOWED_HOSTS`` (``host[:port]``, likewise), ``TOKENSMITH_METRICS``,
        ``TOKENSMITH_TRACING`` and ``TOKENSMITH_CONSOLE`` (booleans),
        ``TOKENSMITH_MANAGEMENT_PORT``, ``TOKENSMITH_ADMIN_EVENTS_DAYS`` and
        ``TOKENSMITH_LAST_USED_INTERVAL`` (seconds).

        A variable that is unset or empty gives the default.

        Raises:
            ConfigurationError: ``TOKENSMITH_POLL_INTERVAL`` or
                ``TOKENSMITH_LAST_USED_INTERVAL`` is not a positive number,
                ``TOKENSMITH_ADMIN_EVENTS_DAYS`` not a positive whole number,
                ``TOKENSMITH_REALM_CACHE_SIZE`` not a positive whole number, or the public URL, a
                rate limit, the rate-limit storage or a trusted proxy is malformed; the message
                names the variable.
        """
        values = _read(os.environ if environ is None else environ, SETTINGS_VARIABLES)
        for variable, (name, _) in SETTINGS_VARIABLES.items():
            if name in values:  # each checked alone, so that a refusal names its variable
                try:
                    cls(**{name: values[name]})
                except ConfigurationError as exc:
                    raise ConfigurationError(f"{ENV_PREFIX}{variable}: {exc}") from None
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """The environment under which :meth:`from_env` gives these settings (for workers)."""
        env = {}
        for variable, (name, _) in SETTINGS_VARIABLES.items():
            value = self.key_file() if name == "master_key_file" else getattr(self, name)
            if value is not None:
                env[ENV_PREFIX + variable] = (
                    ",".join(value) if isinstance(value, tuple) else str(value)
                )
        return env

    def key_file(self) -> Path:
        """Where the master key is kept when it is not given directly."""
        if self.master_key_file is not None:
            return self.master_key_file
        db_file = sqlite_path(self.database_url)
        if db_file is not None:
            return db_file.with_name(db_file.name + ".key")
        return Path("tokensmith.key")
