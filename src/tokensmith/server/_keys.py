"""Signing keys at rest: the master key that encrypts them, and turning stored keys into signers.

Private keys are stored as PKCS#8 PEM encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under the
master key, so a copy of the database alone does not hold a usable signing key.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from ..oauth import (
    Algorithm,
    Signer,
    TokensmithError,
    as_algorithm,
    generate_key,
    key_from_pem,
    key_id,
    key_to_pem,
    public_jwk,
)
from ..store import SigningKeyRecord


class MasterKeyError(TokensmithError):
    """The master key is malformed, unreadable, or does not open the stored signing keys."""


class MasterKey:
    """The key that encrypts signing keys at rest; ``repr`` shows where it came from, never it."""

    def __init__(self, key: bytes, *, source: str) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError:
            raise MasterKeyError(
                f"the master key from {source} is not 32 bytes of base64url"
            ) from None
        self.source = source

    def __repr__(self) -> str:
        return f"MasterKey(source={self.source!r})"

    @classmethod
    def load(cls, value: str | None, key_file: Path) -> MasterKey:
        """The master key given as ``value``, else read from ``key_file``, created if absent.

        Raises:
            MasterKeyError: the key is malformed or the file cannot be read or created.
        """
        if value:
            return cls(value.strip().encode(), source="TOKENSMITH_MASTER_KEY")
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        except OSError as exc:
            raise MasterKeyError(
                f"cannot create master key file {key_file}: {exc.strerror}"
            ) from None
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(Fernet.generate_key() + b"\n")
        try:
            data = key_file.read_bytes().strip()
        except OSError as exc:
            raise MasterKeyError(
                f"cannot read master key file {key_file}: {exc.strerror}"
            ) from None
        return cls(data, source=str(key_file))

    def encrypt(self, data: bytes) -> bytes:
        """Encrypt ``data``."""
        return self._fernet.encrypt(data)

    def decrypt(self, token: bytes) -> bytes:
        """Decrypt what :meth:`encrypt` made.

        Raises:
            MasterKeyError: the data was encrypted under another master key or was altered.
        """
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            raise MasterKeyError(
                f"the master key from {self.source} cannot decrypt the stored signing keys; "
                "was the database created with another master key?"
            ) from None


def new_key(
    master: MasterKey, *, realm_id: int, alg: Algorithm, state: str, now: int
) -> SigningKeyRecord:
    """A fresh signing key for a realm, encrypted for storage."""
    key = generate_key(alg)
    kid = key_id(key)
    return SigningKeyRecord(
        kid=kid,
        realm_id=realm_id,
        alg=alg,
        state=state,
        private_key=master.encrypt(key_to_pem(key)),
        public_jwk=json.dumps(public_jwk(key, kid=kid, alg=alg), separators=(",", ":")),
        created_at=now,
    )


PUBLISH_MARGIN = 60
"""Seconds a stopped key stays published beyond its last token's expiry (verifiers' leeway)."""


def published_until(record: SigningKeyRecord, longest_ttl: int) -> float:
    """Until when a key is in the realm's JWKS: for ever while it signs or is next; once it has
    stopped, until the last token it may have signed has expired (``longest_ttl`` is the realm's
    longest access-token lifetime, client overrides included)."""
    if record.state in ("current", "next"):
        return float("inf")
    if record.state == "retired":
        return float("-inf")
    if record.stopped_at is None:  # stopped before stop times were recorded: until retired
        return float("inf")
    return float(record.stopped_at + longest_ttl + PUBLISH_MARGIN)


def signer_for(record: SigningKeyRecord, master: MasterKey) -> Signer:
    """A signer for a stored key.

    Raises:
        MasterKeyError: the key cannot be decrypted.
    """
    alg = as_algorithm(record.alg)
    pem = master.decrypt(record.private_key)
    return Signer(key_from_pem(alg, pem), kid=record.kid, alg=alg)


def new_master_key_value() -> str:
    """A new master key, as the value ``TOKENSMITH_MASTER_KEY`` takes."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()
