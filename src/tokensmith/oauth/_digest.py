"""The unkeyed digest by which tokens and generated secrets are stored and compared."""

import hashlib


def sha256_hex(text: str) -> str:
    """The hex SHA-256 of ``text`` encoded as UTF-8.

    Raises:
        UnicodeEncodeError: ``text`` holds a lone surrogate.
    """
    return hashlib.sha256(text.encode()).hexdigest()
