"""Restricted element values (SSN, bank account...) encrypted at rest with AES-256-GCM.

The first key in the ``answer_keys`` setting seals; every key opens, so an operator rotates
by putting a new key first and re-sealing at leisure: each sealed blob keeps its key id.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Any

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class KeyRingError(ValueError):
    pass


class AnswerSealer:
    """Seals and opens a JSON value with the key ring from settings."""

    def __init__(self, spec: str) -> None:
        self._keys: dict[str, AESGCM] = {}
        self.active_key_id = ""
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            kid, sep, encoded = part.partition(":")
            if not sep or not kid:
                raise KeyRingError("each answer key must be written kid:base64key")
            try:
                raw = base64.b64decode(encoded, validate=True)
            except binascii.Error as exc:
                raise KeyRingError(f"answer key {kid} is not base64") from exc
            if len(raw) != 32:
                raise KeyRingError(f"answer key {kid} must be 32 bytes (AES-256)")
            self._keys[kid] = AESGCM(raw)
            if not self.active_key_id:
                self.active_key_id = kid
        if not self.active_key_id:
            raise KeyRingError("at least one answer key is needed")

    def seal(self, value: Any, *, context: str) -> tuple[bytes, str]:
        """Encrypt ``value``; ``context`` (e.g. the row id) is bound as associated data, so a
        blob copied onto another row does not open."""
        nonce = os.urandom(NONCE_BYTES)
        aead = self._keys[self.active_key_id]
        blob = nonce + aead.encrypt(nonce, orjson.dumps(value), context.encode())
        return blob, self.active_key_id

    def open(self, blob: bytes, key_id: str, *, context: str) -> Any:
        aead = self._keys.get(key_id)
        if aead is None:
            raise KeyRingError(f"no answer key with id {key_id} is configured")
        nonce, body = blob[:NONCE_BYTES], blob[NONCE_BYTES:]
        return orjson.loads(aead.decrypt(nonce, body, context.encode()))
