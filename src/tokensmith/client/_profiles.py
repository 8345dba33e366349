"""Client settings kept in a profile file, and secrets read from the environment.

Profiles live in ``$TOKENSMITH_PROFILES``, else ``$XDG_CONFIG_HOME/tokensmith/profiles.toml``
(``~/.config/tokensmith/profiles.toml``): one TOML table per profile, as :func:`profile_example`
writes it (the README documents each key)::

    [truphone]
    token_url = "https://services.truphone.com/auth/realms/tru-staff/protocol/openid-connect/token"
    client_id = "truphone"
    client_secret_env = "TRUPHONE_CLIENT_SECRET"   # or client_secret = "…" (keep the file 0600)
    scope = "…"                                     # optional
    grant = "client_credentials"                    # or refresh_token, or any grant name
    dialect = "standard"                            # or pascal
    auth_method = "client_secret_post"              # or client_secret_basic
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any

from ._dialect import PASCAL, STANDARD
from ._errors import ConfigurationError
from ._grants import ClientCredentials, CustomGrant, Grant, RefreshToken
from ._source import TokenSource
from ._token import Secret


def secret_from_env(variable: str) -> Secret:
    """The secret held by environment variable ``variable``.

    Raises:
        ConfigurationError: the variable is unset or empty.
    """
    value = os.environ.get(variable)
    if not value:
        raise ConfigurationError(f"environment variable {variable} holds no client secret")
    return Secret(value)


def profiles_path() -> Path:
    """Where profiles are read from."""
    env = os.environ.get("TOKENSMITH_PROFILES")
    if env:
        return Path(env)
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "tokensmith" / "profiles.toml"


def profile_example(name: str) -> str:
    """A profile called ``name`` in the profile file's format, each key with what it means, the
    optional ones commented out."""
    table = name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)
    variable = re.sub(r"[^A-Z0-9]", "_", name.upper())
    if not variable[:1].isalpha():
        variable = "PROFILE_" + variable
    lines = [
        ('token_url = "https://auth.example.com/realms/acme/protocol/openid-connect/token"', ""),
        ('client_id = "my-client"', ""),
        (f'client_secret_env = "{variable}_CLIENT_SECRET"', "the variable holding the secret"),
        ('# client_secret = "..."', "or the secret itself (keep the file mode 0600)"),
        ('# scope = "api api2"', "scopes to ask for, space-separated"),
        ('# grant = "client_credentials"', "or refresh_token, or any other grant type"),
        ('# dialect = "standard"', "or pascal: PascalCase answers (Trulioo)"),
        ('# auth_method = "client_secret_post"', "or client_secret_basic: HTTP Basic"),
    ]
    width = max(len(setting) for setting, note in lines if note)
    body = [f"{setting:<{width}}  # {note}" if note else setting for setting, note in lines]
    return "\n".join([f"[{table}]", *body])


def load_profile(name: str, path: Path | None = None, *, secret: bool = True) -> dict[str, Any]:
    """The settings of profile ``name``, as keyword arguments for :class:`TokenSource`. With
    ``secret`` false the profile's ``client_secret`` and ``client_secret_env`` are left unread
    (the caller has the secret from elsewhere, so an unset variable is no error).

    Raises:
        ConfigurationError: the file or the profile is missing or malformed; for a missing
            file, the message says where it goes and shows its format.
    """
    given = path is not None
    path = path or profiles_path()
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        if given:
            where = ""
        elif os.environ.get("TOKENSMITH_PROFILES"):
            where = " (named by $TOKENSMITH_PROFILES)"
        else:
            where = " (the default place; set $TOKENSMITH_PROFILES to name another file)"
        raise ConfigurationError(
            f"no profile file at {path}{where}; create it with a table per profile, such as:"
            f"\n\n{profile_example(name)}"
        ) from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"cannot read profile file {path}: {exc}") from None
    profile = data.get(name)
    if not isinstance(profile, dict):
        known = ", ".join(sorted(k for k, v in data.items() if isinstance(v, dict))) or "none"
        raise ConfigurationError(f"no profile {name!r} in {path} (profiles: {known})")
    if not secret:
        profile = {
            k: v for k, v in profile.items() if k not in ("client_secret", "client_secret_env")
        }
    return _options(profile, f"profile {name!r}")


def source_from_profile(name: str, path: Path | None = None, **overrides: Any) -> TokenSource:
    """A :class:`TokenSource` built from profile ``name``."""
    options = load_profile(name, path)
    options.update(overrides)
    return TokenSource(**options)


KEYS = (
    "token_url",
    "client_id",
    "client_secret_env",
    "client_secret",
    "scope",
    "grant",
    "dialect",
    "auth_method",
)
"""The keys a profile may hold; any other is refused (a misspelt ``client_secret_env`` would
otherwise leave the client without its secret, found out only at the token endpoint)."""


def _options(profile: dict[str, Any], where: str) -> dict[str, Any]:
    unknown = sorted(set(profile) - set(KEYS))
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(key, KEYS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f" (keys: {', '.join(KEYS)})"
        raise ConfigurationError(f"{where} has an unknown key {key!r}{hint}")
    token_url = profile.get("token_url")
    if not isinstance(token_url, str):
        raise ConfigurationError(f"{where} has no token_url")
    options: dict[str, Any] = {"token_url": token_url, "client_id": profile.get("client_id")}
    if "client_secret_env" in profile:
        options["client_secret"] = secret_from_env(str(profile["client_secret_env"]))
    elif "client_secret" in profile:
        options["client_secret"] = Secret(str(profile["client_secret"]))
    scope = profile.get("scope")
    options["grant"] = grant_named(str(profile.get("grant", "client_credentials")), scope)
    dialect = profile.get("dialect", "standard")
    if dialect not in ("standard", "pascal"):
        raise ConfigurationError(f"{where}: dialect must be standard or pascal, not {dialect!r}")
    options["dialect"] = PASCAL if dialect == "pascal" else STANDARD
    if "auth_method" in profile:
        options["auth_method"] = profile["auth_method"]
    return options


def grant_named(name: str, scope: str | None = None) -> Grant:
    """The grant called ``name``: client_credentials, refresh_token (client credentials first,
    then refresh tokens), or any other grant type sent as is."""
    if name == "client_credentials":
        return ClientCredentials(scope=scope)
    if name == "refresh_token":
        return RefreshToken(ClientCredentials(scope=scope))
    return CustomGrant(name, {"scope": scope} if scope else {})
