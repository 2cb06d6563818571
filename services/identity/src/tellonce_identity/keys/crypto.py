"""Encryption at rest of the signing keys' private halves: AES-256-GCM with a key derived
by HKDF-SHA256 from the ``key_encryption_key`` setting, the key id bound as associated data
(a ciphertext moved to another row does not decrypt)."""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

FORMAT = "v1"


class KeyDecryptionError(Exception):
    """The stored private key does not decrypt with the configured key-encryption key."""


def _derive(secret: str) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"tellonce-identity",
        info=b"signing-key-encryption v1",
    )
    return hkdf.derive(secret.encode())


class KeyCipher:
    """Encrypts with the current key-encryption key; decrypts with it or, during a rotation
    of that key, with one of the previous ones."""

    def __init__(self, secret: str, previous: tuple[str, ...] = ()) -> None:
        self._aead = AESGCM(_derive(secret))
        self._previous = tuple(AESGCM(_derive(old)) for old in previous)

    def encrypt(self, plaintext: bytes, kid: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext, kid.encode())
        return f"{FORMAT}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str, kid: str) -> bytes:
        return self.decrypt_with_current(token, kid)[0]

    def decrypt_with_current(self, token: str, kid: str) -> tuple[bytes, bool]:
        """The plaintext, and whether the current key-encryption key opened it."""
        fmt, _, body = token.partition(".")
        if fmt != FORMAT:
            raise KeyDecryptionError(f"unknown key format {fmt!r}")
        try:
            raw = base64.urlsafe_b64decode(body.encode())
        except ValueError as exc:
            raise KeyDecryptionError("the stored signing key is corrupt") from exc
        for index, aead in enumerate((self._aead, *self._previous)):
            try:
                return aead.decrypt(raw[:12], raw[12:], kid.encode()), index == 0
            except (InvalidTag, ValueError):
                continue
        raise KeyDecryptionError(
            "the signing key does not decrypt: is IDENTITY_KEY_ENCRYPTION_KEY right?"
        )
