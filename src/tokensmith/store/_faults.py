"""Mistakes in a database's set-up that no retry mends, told as what to do about them.

Values in, values out: a URL or a driver's exception in, a message (or None) out. The
:class:`~tokensmith.store.Database` raises them as :class:`DatabaseError` when a command or the
service starts, instead of reporting a missing PostgreSQL database or a read-only SQLite file as
the short outage (503, "retry in a few seconds") that serving requests would make of it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import URL

# SQLSTATEs (PostgreSQL, Appendix A) that no retry mends.
_NO_DATABASE = "3D000"  # invalid_catalog_name
_READ_ONLY_TRANSACTION = "25006"  # read_only_sql_transaction
_REFUSED_LOGIN = "28000"  # invalid_authorization_specification: no such role, no pg_hba entry
_LOGIN_FAILED = "28P01"  # invalid_password: the password was wrong

_FILE_EXAMPLES = (
    "sqlite:///tokensmith.db for a file in the working directory, "
    "sqlite:////var/lib/tokensmith/tokensmith.db for an absolute path"
)


def sqlite_url_problem(text: str, url: URL) -> str | None:
    """Why a SQLite URL names no file the service can keep its data in, or None.

    ``sqlite://tokensmith.db`` (two slashes) puts the name where a host goes, and ``sqlite://``
    or ``sqlite:///:memory:`` is a database in memory, gone with the process and seen by no other
    process (the admin commands, the workers).
    """
    if url.host:
        guess = "sqlite:///" + "/".join(filter(None, (url.host, url.database)))
        return (
            f"the database URL {text!r} names no file: a SQLite URL has three slashes before a "
            f"path (did you mean {guess}?) and four before an absolute one "
            f"(sqlite:////var/lib/tokensmith/tokensmith.db)"
        )
    if not url.database or url.database == ":memory:":
        return (
            f"the database URL {text!r} is a SQLite database in memory, which is gone when the "
            f"process ends and which neither the workers nor the admin commands see; name a file: "
            f"{_FILE_EXAMPLES}"
        )
    return None


def permanent_fault(exc: BaseException, url: URL) -> str | None:
    """What to do about a failure to use the database at ``url`` that no retry mends (a
    PostgreSQL database that does not exist or takes no writes, a SQLite file this process may
    not write), or None for any other failure (an outage, a timeout)."""
    for error in _chain(exc):
        sqlstate = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if sqlstate == _NO_DATABASE:
            return _no_database(url)
        if sqlstate in (_REFUSED_LOGIN, _LOGIN_FAILED):
            return _refused_login(url, sqlstate == _LOGIN_FAILED, str(error))
        if sqlstate == _READ_ONLY_TRANSACTION:
            return (
                f"the PostgreSQL database {url.database!r} on {_server(url)} takes no writes (a "
                "read-only replica, or default_transaction_read_only is on); point --database "
                "at the primary"
            )
        name = str(getattr(error, "sqlite_errorname", ""))
        if url.database and name.startswith("SQLITE_READONLY"):
            return _read_only_file(Path(url.database))
        if url.database and name.startswith("SQLITE_CANTOPEN"):
            path = Path(url.database)
            return (
                f"cannot open the database file {path}: it and its directory {_directory(path)} "
                f"must be writable by {_this_user()}, since SQLite makes {path.name}-wal and "
                f"{path.name}-shm beside it"
            )
    return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what it wraps (a driver's error inside SQLAlchemy's ``orig``) and what
    caused it, each once."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        error = todo.pop()
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        yield error
        orig = getattr(error, "orig", None)
        todo += [orig if isinstance(orig, BaseException) else None]
        todo += [error.__cause__, error.__context__]


def _server(url: URL) -> str:
    return f"{url.host or 'localhost'}:{url.port or 5432}"


def _no_database(url: URL) -> str:
    import shlex  # only for this message: not in every worker

    name = url.database or url.username or "postgres"
    createdb = ["createdb"]
    if url.host:
        createdb += ["-h", url.host]
    if url.port:
        createdb += ["-p", str(url.port)]
    if url.username:
        createdb += ["-U", url.username]
    owner = f' OWNER "{url.username}"' if url.username else ""
    return (
        f"PostgreSQL on {_server(url)} has no database {name!r}; create it with "
        f'`{shlex.join([*createdb, name])}` (or in psql: CREATE DATABASE "{name}"{owner};), '
        "then `tokensmith db upgrade` creates tokensmith's tables in it (serve does too)"
    )


def _refused_login(url: URL, password: bool, said: str) -> str:
    user = url.username or "the current user"
    if password:
        why = (
            "the password is wrong; check the one in --database (or TOKENSMITH_DATABASE_URL): "
            "characters such as @ : / % in it must be percent-encoded"
        )
    else:
        reason = said.strip().splitlines()[0] if said.strip() else "login refused"
        why = (
            f"{reason}; create the role (createuser) or allow it in pg_hba.conf, or connect as "
            "another user"
        )
    return f"PostgreSQL on {_server(url)} refused the login of {user!r}: {why}"


def _read_only_file(path: Path) -> str:
    return (
        f"the database file {path} is read-only to {_this_user()} (its permissions, an immutable "
        "attribute or a read-only file system), and tokensmith writes to it (refresh tokens, "
        "keys, admin changes); make it writable by the user the service runs as, and its "
        f"directory {_directory(path)} too (SQLite makes {path.name}-wal and {path.name}-shm "
        "beside it)"
    )


def _directory(path: Path) -> str:
    return str(path.absolute().parent)


def _this_user() -> str:
    try:
        import pwd

        return f"this process's user ({pwd.getpwuid(os.geteuid()).pw_name})"
    except (ImportError, KeyError):  # not POSIX, or a uid without a name
        return "this process's user"
