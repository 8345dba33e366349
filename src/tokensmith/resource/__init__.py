"""Bearer-token verification for protected APIs (see issue 4)."""
