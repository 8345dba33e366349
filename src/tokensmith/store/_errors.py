"""Errors of the store; the messages name what conflicts, never a secret."""

from __future__ import annotations

from ..oauth import TokensmithError


class NotFound(TokensmithError):
    """The realm, client or key asked for does not exist."""


class Conflict(TokensmithError):
    """The change would break a uniqueness rule (a realm name, a client id, a token path)."""
