"""Self-renewing access tokens (see issue 3)."""
