"""Token responses (RFC 6749 §5.1) and the dialects vendors answer them in."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum


class ResponseStyle(StrEnum):
    """How a token response names its fields.

    ``standard`` is RFC 6749 §5.1. ``pascal`` is the dialect Trulioo documents:
    ``{"Token":…,"TokenType":"bearer","ExpiresIn":3599,"scope":…}``.
    """

    STANDARD = "standard"
    PASCAL = "pascal"


@dataclass(frozen=True)
class TokenResponse:
    """A successful token response; ``repr`` never shows the tokens."""

    access_token: str = field(repr=False)
    expires_in: int
    scope: str = ""
    token_type: str = "Bearer"  # noqa: S105
    refresh_token: str | None = field(default=None, repr=False)
    refresh_expires_in: int | None = None
    issued_token_type: str | None = None

    def render(self, style: ResponseStyle = ResponseStyle.STANDARD) -> bytes:
        """Compact JSON (no spaces) in ``style``; ``access_token`` comes first so that the seeds'
        ``sed 's/.*access_token":"\\([^"]*\\).*/\\1/'`` finds it."""
        body: dict[str, object]
        if style is ResponseStyle.PASCAL:
            body = {"Token": self.access_token, "TokenType": self.token_type.lower()}
            body["ExpiresIn"] = self.expires_in
            if self.refresh_token is not None:
                body["RefreshToken"] = self.refresh_token
                body["RefreshExpiresIn"] = self.refresh_expires_in
        else:
            body = {"access_token": self.access_token, "expires_in": self.expires_in}
            if self.refresh_token is not None:
                body["refresh_expires_in"] = self.refresh_expires_in
                body["refresh_token"] = self.refresh_token
            body["token_type"] = self.token_type
            if self.issued_token_type is not None:
                body["issued_token_type"] = self.issued_token_type
        if self.scope:
            body["scope"] = self.scope
        return json.dumps(body, separators=(",", ":")).encode()
