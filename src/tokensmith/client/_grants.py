"""Grants: what a token request says, one class per grant type.

A grant only builds forms; sending, retrying, caching and locking are the token source's, the same
for every grant. A form value may be a *supplier*: a callable (sync or async) called just before
each request, e.g. for a fresh external id_token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..oauth import GRANT_TOKEN_EXCHANGE, TOKEN_TYPE_ACCESS
from ._token import Token

Supplier = Callable[[], str] | Callable[[], Awaitable[str]]
FormValue = str | tuple[str, ...] | Supplier
"""A form value: text, several values of a parameter that repeats (RFC 8707 ``resource``), or a
supplier of text."""


@dataclass(frozen=True)
class Attempt:
    """One token request to try. With ``fallback``, an ``invalid_grant`` answer moves on to the
    next attempt instead of failing (a rejected refresh token falls back to the primary grant)."""

    form: Mapping[str, FormValue] = field(repr=False)
    fallback: bool = False
    describe: str = ""


class Grant(Protocol):
    """Builds the requests that get a token."""

    def attempts(self, previous: Token | None, now: float) -> Sequence[Attempt]:
        """The requests to try in order; ``previous`` is the token held now, if any."""
        ...

    @property
    def name(self) -> str:
        """The grant type, for logs and cache keys."""
        ...


def _common(
    scope: str | Sequence[str] | None,
    audience: str | None,
    resource: str | Sequence[str] | None,
) -> dict[str, FormValue]:
    form: dict[str, FormValue] = {}
    if scope:
        form["scope"] = scope if isinstance(scope, str) else " ".join(scope)
    if audience:
        form["audience"] = audience
    if resource:
        # RFC 8707 §2: several resources are several resource parameters, not one joined value.
        form["resource"] = resource if isinstance(resource, str) else tuple(resource)
    return form


@dataclass(frozen=True)
class ClientCredentials:
    """RFC 6749 §4.4: the client authenticates and asks for a token for itself."""

    scope: str | Sequence[str] | None = None
    audience: str | None = None
    resource: str | Sequence[str] | None = None

    name = "client_credentials"

    def attempts(self, previous: Token | None, now: float) -> Sequence[Attempt]:
        """One client-credentials request."""
        form = {
            "grant_type": "client_credentials",
            **_common(self.scope, self.audience, self.resource),
        }
        return (Attempt(form, describe="client_credentials"),)


@dataclass(frozen=True)
class RefreshToken:
    """RFC 6749 §6: use the refresh token while ``refresh_expires_in`` says it is alive; when it
    is expired or answered ``invalid_grant``, fall back once to the primary grant."""

    primary: Grant
    scope: str | Sequence[str] | None = None

    @property
    def name(self) -> str:
        """``refresh_token+`` the primary grant's name."""
        return f"refresh_token+{self.primary.name}"

    def attempts(self, previous: Token | None, now: float) -> Sequence[Attempt]:
        """The refresh request (when alive) and then the primary grant's."""
        primary = tuple(self.primary.attempts(previous, now))
        if previous is None or previous.refresh_token is None or not previous.refresh_alive(now):
            return primary
        form = {
            "grant_type": "refresh_token",
            "refresh_token": previous.refresh_token,
            **_common(self.scope, None, None),
        }
        return (Attempt(form, fallback=True, describe="refresh_token"), *primary)


@dataclass(frozen=True)
class IdAuth:
    """GBG's ``id_auth`` extension grant: trade an external SSO ``id_token`` for an access token.
    ``id_token`` is the token itself or a supplier called before each request for a fresh one."""

    id_token: FormValue = field(repr=False)
    scope: str | Sequence[str] | None = None

    name = "id_auth"

    def attempts(self, previous: Token | None, now: float) -> Sequence[Attempt]:
        """One id_auth request."""
        form: dict[str, FormValue] = {"grant_type": "id_auth", "id_token": self.id_token}
        form.update(_common(self.scope, None, None))
        return (Attempt(form, describe="id_auth"),)


@dataclass(frozen=True)
class TokenExchange:
    """RFC 8693 token exchange: trade a subject token (and optionally an actor token)."""

    subject_token: FormValue = field(repr=False)
    subject_token_type: str = TOKEN_TYPE_ACCESS
    actor_token: FormValue | None = field(default=None, repr=False)
    actor_token_type: str | None = None
    requested_token_type: str | None = None
    scope: str | Sequence[str] | None = None
    audience: str | None = None
    resource: str | Sequence[str] | None = None

    name = "token-exchange"

    def attempts(self, previous: Token | None, now: float) -> Sequence[Attempt]:
        """One token-exchange request."""
        form: dict[str, FormValue] = {
            "grant_type": GRANT_TOKEN_EXCHANGE,
            "subject_token": self.subject_token,
            "subject_token_type": self.subject_token_type,
        }
        if self.actor_token is not None:
            form["actor_token"] = self.actor_token
            form["actor_token_type"] = self.actor_token_type or TOKEN_TYPE_ACCESS
        if self.requested_token_type:
            form["requested_token_type"] = self.requested_token_type
        form.update(_common(self.scope, self.audience, self.resource))
        return (Attempt(form, describe="token-exchange"),)


@dataclass(frozen=True)
class CustomGrant:
    """Any other grant, by its ``grant_type`` and parameters (values may be suppliers)."""

    grant_type: str
    params: Mapping[str, FormValue] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        """The grant type."""
        return self.grant_type

    def attempts(self, previous: Token | None, now: float) -> Sequence[Attempt]:
        """One request with the given parameters."""
        return (Attempt({"grant_type": self.grant_type, **self.params}, describe=self.grant_type),)
