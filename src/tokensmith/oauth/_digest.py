"""The unkeyed digest by which tokens and generated secrets are stored and compared."""

import hashlib


def sha256_hex(data: str | bytes) -> str:
    """The hex SHA-256 of ``data``: bytes as they are, text encoded as UTF-8.

    Raises:
        UnicodeEncodeError: ``data`` is text holding a lone surrogate (encode it yourself, with the
            error handler you need, where such text must still be digested).
    """
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()
