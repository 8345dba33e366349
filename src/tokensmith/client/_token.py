"""Tokens and secrets as values that never show themselves."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from ..oauth import sha256_hex


def fingerprint(value: str) -> str:
    """A short, stable name for a token or secret, fit for logs: 8 hex digits of its SHA-256."""
    return sha256_hex(value)[:8]


class Secret:
    """A client secret (or any credential) whose ``repr`` and ``str`` are masked."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("a secret must be a str")
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the one place that sends it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Token:
    """An access token and what the token endpoint said of it.

    Times are on this machine's clock (corrected for the server's ``Date`` where the server gave
    absolute times). ``repr`` shows the fingerprint, never the token.
    """

    access_token: str = field(repr=False)
    token_type: str = "Bearer"
    expires_at: float = 0.0
    issued_at: float = 0.0
    scope: str | None = None
    refresh_token: str | None = field(default=None, repr=False)
    refresh_expires_at: float | None = None
    raw: dict[str, object] = field(default_factory=dict, repr=False, compare=False)

    @property
    def fingerprint(self) -> str:
        """A short name for this token, fit for logs."""
        return fingerprint(self.access_token)

    @property
    def lifetime(self) -> float:
        """Seconds between issue and expiry."""
        return max(0.0, self.expires_at - self.issued_at)

    @cached_property
    def authorization(self) -> str:
        """The ``Authorization`` header value (RFC 6750 §2.1: scheme ``Bearer``)."""
        scheme = "Bearer" if self.token_type.lower() == "bearer" else self.token_type
        return f"{scheme} {self.access_token}"

    def expired(self, now: float) -> bool:
        """Whether the token is past its expiry at ``now``."""
        return now >= self.expires_at

    def refresh_alive(self, now: float) -> bool:
        """Whether the refresh token (if any) can still be used at ``now``."""
        if self.refresh_token is None:
            return False
        return self.refresh_expires_at is None or now < self.refresh_expires_at

    def __repr__(self) -> str:
        return (
            f"Token(fingerprint={self.fingerprint!r}, token_type={self.token_type!r}, "
            f"expires_at={self.expires_at:.0f}, scope={self.scope!r})"
        )
