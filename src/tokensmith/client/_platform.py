"""Platform tokens: what a workload presents instead of a client secret when its client has
federated credentials (workload identity federation). Each is a callable that gives the current
token of the platform; :class:`~tokensmith.client.TokenSource` calls it before each token request
and sends the token as a client assertion (RFC 7521 §4.2). No platform token is ever logged or
shown in a ``repr``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ._errors import ConfigurationError

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
"""RFC 7523's client assertion type: any platform's JWT."""
JWT_SPIFFE = "urn:ietf:params:oauth:client-assertion-type:jwt-spiffe"
"""The OAuth SPIFFE client-authentication draft's type: a SPIFFE JWT-SVID."""
KUBERNETES_TOKEN_PATH = "/var/run/secrets/tokens/tokensmith"
"""Where the ``kubernetes`` preset reads the pod's projected service-account token: mount a
``serviceAccountToken`` projection with ``path: tokensmith`` at ``/var/run/secrets/tokens``."""

PlatformToken = Callable[[], str]
"""A callable that returns the platform's current token; an ``assertion_type`` attribute, when
it has one, is the client assertion type to send (default :data:`JWT_BEARER`)."""


class FileToken:
    """A token kept in a file that the platform replaces (a Kubernetes projected
    service-account token, a SPIFFE helper's JWT-SVID file): read again whenever the file
    changed (its inode, size or modification time), else served from memory.

    Raises (when called):
        ConfigurationError: the file cannot be read or is empty.
    """

    def __init__(self, path: str | os.PathLike[str], *, assertion_type: str = JWT_BEARER) -> None:
        self.path = Path(path)
        self.assertion_type = assertion_type
        self.reads = 0
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None
        self._token = ""

    def __repr__(self) -> str:
        return f"FileToken({str(self.path)!r})"

    def __call__(self) -> str:
        try:
            info = self.path.stat()
            stamp = (info.st_ino, info.st_size, info.st_mtime_ns)
            with self._lock:
                if stamp != self._seen:
                    token = self.path.read_text(encoding="utf-8").strip()
                    self.reads += 1
                    self._seen, self._token = stamp, token
                token = self._token
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(
                f"cannot read the platform token file {self.path} ({type(exc).__name__})"
            ) from None
        if not token:
            raise ConfigurationError(f"the platform token file {self.path} is empty")
        return token


@dataclass
class GitHubActionsToken:
    """A fresh GitHub Actions OIDC token for each call, from the job's token URL
    (``ACTIONS_ID_TOKEN_REQUEST_URL`` and ``ACTIONS_ID_TOKEN_REQUEST_TOKEN``, set in a job with
    ``permissions: id-token: write``), for ``audience`` (the ``aud`` the service expects: its
    token endpoint URL by default).

    Raises (when called):
        ConfigurationError: not in a job that may ask for tokens, or the token URL refused.
    """

    audience: str | None = None
    request_url: str | None = None
    request_token: str | None = field(default=None, repr=False)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ, repr=False)
    timeout: float = 10.0
    assertion_type: str = JWT_BEARER

    def __call__(self) -> str:
        url = self.request_url or self.environ.get("ACTIONS_ID_TOKEN_REQUEST_URL")
        bearer = self.request_token or self.environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        if not url or not bearer:
            raise ConfigurationError(
                "ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set: "
                "run in a GitHub Actions job with 'permissions: id-token: write'"
            )
        params = {"audience": self.audience} if self.audience else None
        try:
            response = httpx.get(
                url,
                params=params,
                headers={"Authorization": f"bearer {bearer}", "Accept": "application/json"},
                timeout=self.timeout,
            )
            value = response.json().get("value") if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            raise ConfigurationError(
                f"cannot get a GitHub Actions OIDC token ({type(exc).__name__})"
            ) from None
        if not isinstance(value, str) or not value:
            raise ConfigurationError(
                f"the GitHub Actions token URL answered HTTP {response.status_code} without a token"
            )
        return value


def kubernetes_token(path: str | os.PathLike[str] = KUBERNETES_TOKEN_PATH) -> FileToken:
    """The pod's projected service-account token (preset ``kubernetes``)."""
    return FileToken(path)


def spiffe_token(path: str | os.PathLike[str]) -> FileToken:
    """A JWT-SVID that a SPIFFE helper keeps in ``path``, sent as the ``jwt-spiffe`` client
    assertion type."""
    return FileToken(path, assertion_type=JWT_SPIFFE)


def github_actions_token(audience: str | None = None) -> GitHubActionsToken:
    """The job's GitHub Actions OIDC token for ``audience`` (preset ``github-actions``)."""
    return GitHubActionsToken(audience)


def platform_token(spec: str, *, audience: str | None = None) -> PlatformToken:
    """The platform token a preset names: ``kubernetes``, ``github-actions`` (for
    ``audience``), ``spiffe:PATH`` or ``file:PATH``.

    Raises:
        ConfigurationError: an unknown preset.
    """
    if spec == "kubernetes":
        return kubernetes_token()
    if spec == "github-actions":
        return github_actions_token(audience)
    kind, sep, path = spec.partition(":")
    if sep and path and kind == "file":
        return FileToken(path)
    if sep and path and kind == "spiffe":
        return spiffe_token(path)
    raise ConfigurationError(
        f"unknown platform token {spec!r}: use kubernetes, github-actions, file:PATH or spiffe:PATH"
    )
