"""The one SHA-256 helper: the digest by which tokens and secrets are stored and rate-limit keys
are made."""

from __future__ import annotations

import pytest

from tokensmith.oauth import sha256_hex


def test_known_digest_of_abc() -> None:
    """FIPS 180-2's example: SHA-256 of "abc"."""
    assert sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_text_and_its_utf8_bytes_have_one_digest() -> None:
    """Text is digested as its UTF-8 bytes."""
    assert sha256_hex("clé/€") == sha256_hex("clé/€".encode())


def test_text_with_a_lone_surrogate_is_refused() -> None:
    """Text that has no UTF-8 form raises instead of being digested as something else."""
    with pytest.raises(UnicodeEncodeError):
        sha256_hex("\ud800")
