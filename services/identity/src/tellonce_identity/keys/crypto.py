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
    def __init__(self, secret: str) -> None:
        self._aead = AESGCM(_derive(secret))

    def encrypt(self, plaintext: bytes, kid: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext, kid.encode())
        return f"{FORMAT}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str, kid: str) -> bytes:
        fmt, _, body = token.partition(".")
        if fmt != FORMAT:
            raise KeyDecryptionError(f"unknown key format {fmt!r}")
        try:
            raw = base64.urlsafe_b64decode(body.encode())
            return self._aead.decrypt(raw[:12], raw[12:], kid.encode())
        except (InvalidTag, ValueError) as exc:
            raise KeyDecryptionError(
                "the signing key does not decrypt: is IDENTITY_KEY_ENCRYPTION_KEY right?"
            ) from exc
