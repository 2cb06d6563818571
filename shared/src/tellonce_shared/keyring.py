"""AES-256-GCM key rings for data encrypted at rest (restricted answers, webhook secrets).

A ring is written ``kid:base64key`` comma-separated: the first key seals, every key opens, so
an operator rotates by putting a new key first and re-sealing at leisure (each sealed blob
keeps the id of its key). Key ids are unique: a ring that names one id twice is refused (the
second key would silently shadow, or be shadowed by, the first, so a "new" key could keep
sealing with the old one). A ``context`` (e.g. the row id) is bound as associated data, so a
blob copied onto another row does not open.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
KEY_BYTES = 32


class KeyRingError(ValueError):
    pass


class KeyRing:
    def __init__(self, spec: str, *, what: str = "key") -> None:
        """``what`` names the keys in error messages (e.g. "answer key")."""
        self.what = what
        self._keys: dict[str, AESGCM] = {}
        self.active_key_id = ""
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            kid, sep, encoded = part.partition(":")
            if not sep or not kid:
                raise KeyRingError(f"each {what} must be written kid:base64key")
            try:
                raw = base64.b64decode(encoded, validate=True)
            except binascii.Error as exc:
                raise KeyRingError(f"{what} {kid} is not base64") from exc
            if len(raw) != KEY_BYTES:
                raise KeyRingError(f"{what} {kid} must be 32 bytes (AES-256)")
            if kid in self._keys:
                raise KeyRingError(
                    f"{what} id {kid} appears more than once: every key needs its own id "
                    "(make a new key with deploy/make_secrets.py key)"
                )
            self._keys[kid] = AESGCM(raw)
            self.active_key_id = self.active_key_id or kid
        if not self.active_key_id:
            raise KeyRingError(f"at least one {what} is needed")

    def seal(self, data: bytes, *, context: str) -> tuple[bytes, str]:
        """``(nonce + ciphertext, id of the key that sealed it)``."""
        nonce = os.urandom(NONCE_BYTES)
        aead = self._keys[self.active_key_id]
        return nonce + aead.encrypt(nonce, data, context.encode()), self.active_key_id

    def open(self, blob: bytes, key_id: str, *, context: str) -> bytes:
        aead = self._keys.get(key_id)
        if aead is None:
            raise KeyRingError(f"no {self.what} with id {key_id} is configured")
        try:
            return aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode())
        except InvalidTag as exc:
            raise KeyRingError(f"a value sealed with {self.what} {key_id} does not open") from exc
