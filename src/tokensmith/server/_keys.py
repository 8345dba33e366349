"""Signing keys at rest: the master key that encrypts them, and turning stored keys into signers.

Private keys are stored as PKCS#8 PEM encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under the
master key, so a copy of the database alone does not hold a usable signing key.

The database keeps a check value (a known text encrypted under the master key) so that every
command and the service refuse a master key that does not match the database before they write
anything, and a new key file is never made for a database that already holds encrypted keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Literal, overload

from cryptography.fernet import Fernet
from cryptography.fernet import InvalidToken as FernetInvalidToken

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
from ..store import Database, SigningKeyRecord, meta

_CHECK_TEXT = b"tokensmith master key check"


MAKE_MASTER_KEY = """python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"""
"""A shell command that prints a new master key."""


def _fernet_key(key: bytes) -> bytes | None:
    """The padded base64url form Fernet takes of 32 bytes written in base64url with or without
    padding, or None for anything else."""
    text = key.strip().rstrip(b"=")
    try:
        raw = base64.b64decode(text + b"=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except binascii.Error:
        return None
    return base64.urlsafe_b64encode(raw) if len(raw) == 32 else None


class MasterKeyError(TokensmithError):
    """The master key is malformed, unreadable, or does not open the stored signing keys."""


class MasterKey:
    """The key that encrypts signing keys at rest; ``repr`` shows where it came from, never it."""

    def __init__(self, key: bytes, *, source: str) -> None:
        """``key``: 32 bytes in base64url, padded (44 characters, as Fernet writes keys) or not
        (43, as ``secrets.token_urlsafe(32)`` writes them); surrounding whitespace is ignored.

        Raises:
            MasterKeyError: ``key`` is not that; the message shows how to make one.
        """
        fernet_key = _fernet_key(key)
        if fernet_key is None:
            raise MasterKeyError(
                f"the master key from {source} is not 32 bytes of base64url; make one with: "
                f"{MAKE_MASTER_KEY}"
            )
        self._fernet = Fernet(fernet_key)
        self._secret = hmac.new(fernet_key, b"tokensmith derived keys", hashlib.sha256).digest()
        self.source = source

    def __repr__(self) -> str:
        return f"MasterKey(source={self.source!r})"

    def derived(self, purpose: str) -> bytes:
        """A 32-byte key for ``purpose`` (e.g. DPoP nonces), the same in every process with this
        master key and telling nothing about it."""
        return hmac.new(self._secret, purpose.encode(), hashlib.sha256).digest()

    @classmethod
    def load(cls, value: str | None, key_file: Path) -> MasterKey:
        """The master key given as ``value``, else read from ``key_file``. Nothing is checked
        against a database and no file is made: :func:`open_master_key` does both.

        Raises:
            MasterKeyError: the key is malformed or the file cannot be read.
        """
        return _given_key(value, key_file) or cls.read(key_file)

    @classmethod
    def read(cls, key_file: Path) -> MasterKey:
        """The master key kept in ``key_file``.

        Raises:
            MasterKeyError: the file cannot be read or holds no valid key.
        """
        try:
            data = key_file.read_bytes().strip()
        except OSError as exc:
            raise MasterKeyError(
                f"cannot read master key file {key_file}: {exc.strerror}"
            ) from None
        return cls(data, source=str(key_file))

    def check_value(self) -> str:
        """A value only this key decrypts, to store beside the data it encrypts."""
        return self._fernet.encrypt(_CHECK_TEXT).decode()

    def opens(self, encrypted: bytes) -> bool:
        """Whether this key decrypts ``encrypted`` (a check value or a stored key)."""
        try:
            self._fernet.decrypt(encrypted)
        except FernetInvalidToken:
            return False
        return True

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
        except FernetInvalidToken:
            raise MasterKeyError(
                f"the master key from {self.source} cannot decrypt the stored signing keys; "
                "was the database created with another master key?"
            ) from None


@overload
async def open_master_key(
    db: Database, value: str | None, key_file: Path, *, required: Literal[True] = True
) -> MasterKey: ...


@overload
async def open_master_key(
    db: Database, value: str | None, key_file: Path, *, required: bool
) -> MasterKey | None: ...


async def open_master_key(
    db: Database, value: str | None, key_file: Path, *, required: bool = True
) -> MasterKey | None:
    """The master key of ``db``: ``value`` (``TOKENSMITH_MASTER_KEY``) if given, else the one in
    ``key_file``, checked against the database before anything is written.

    A database without a check value gets one: after a stored key was decrypted with the master
    key, or at once when it holds no encrypted key yet. When no key is given and ``key_file`` does
    not exist, a new key file is made only for a database that holds no encrypted key and only if
    ``required``; otherwise None is returned (nothing needs the key).

    Raises:
        MasterKeyError: the key does not open the database's keys, the database holds encrypted
            keys but the key file is missing, or the key is malformed or unreadable.
        DatabaseUnavailable: the database cannot be reached.
    """
    async with db.read() as conn:
        check = await meta.get_value(conn, meta.MASTER_KEY_CHECK)
        # Without a check value yet, every key in use must open (a database damaged by two
        # master keys must not get a check value that hides it).
        samples = [] if check is not None else await meta.encrypted_values(conn)
    created = False
    given = _given_key(value, key_file)
    if given is not None:
        master = given
    elif check is not None or samples:
        if not required:
            return None
        raise MasterKeyError(
            f"the database already holds keys encrypted under a master key, but the key file "
            f"{key_file} does not exist; run from the directory that holds it, point "
            "TOKENSMITH_MASTER_KEY_FILE at it or set TOKENSMITH_MASTER_KEY (a new key would not "
            "open the stored keys, so none was made)"
        )
    elif not required:
        return None
    else:
        master, created = _create_key_file(key_file)
    try:
        await _verify(db, master, check, samples)
    except MasterKeyError:
        if created:
            os.unlink(key_file)  # ours, made a moment ago for a database that had no key
        raise
    return master


async def _verify(db: Database, master: MasterKey, check: str | None, samples: list[bytes]) -> None:
    if check is None and not all(master.opens(sample) for sample in samples):
        raise _mismatch(master)
    if check is None:
        async with db.write() as conn:
            if not await meta.add_value(conn, meta.MASTER_KEY_CHECK, master.check_value()):
                check = await meta.get_value(conn, meta.MASTER_KEY_CHECK)  # stored meanwhile
    if check is not None and not master.opens(check.encode()):
        raise _mismatch(master)


def _mismatch(master: MasterKey) -> MasterKeyError:
    return MasterKeyError(
        f"the master key from {master.source} does not match this database, whose keys were "
        "encrypted under another master key; nothing was changed"
    )


def _given_key(value: str | None, key_file: Path) -> MasterKey | None:
    """``value`` as a key, else the key in ``key_file`` if it exists, else None."""
    if value:
        return MasterKey(value.strip().encode(), source="TOKENSMITH_MASTER_KEY")
    if key_file.exists():
        return MasterKey.read(key_file)
    return None


def _create_key_file(key_file: Path) -> tuple[MasterKey, bool]:
    """A new master key in a new 0600 ``key_file`` (or the one another process just made)."""
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return MasterKey.read(key_file), False
    except OSError as exc:
        raise MasterKeyError(f"cannot create master key file {key_file}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(Fernet.generate_key() + b"\n")
    return MasterKey.read(key_file), True


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
