"""Standard Webhooks secrets and signatures, and their encryption at rest.

A secret is ``whsec_`` + base64 of 32 random bytes; the signature of a message is
``v1,`` + base64(HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")), one per active
secret (two during a rotation), separated by spaces.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
NONCE_BYTES = 12


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The raw HMAC key of a ``whsec_`` secret."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secrets_in_use: Iterable[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: one ``v1,`` signature per secret, space-separated."""
    to_sign = f"{msg_id}.{timestamp}.".encode() + body
    parts = []
    for secret in secrets_in_use:
        digest = hmac.new(secret_key(secret), to_sign, hashlib.sha256).digest()
        parts.append("v1," + base64.b64encode(digest).decode())
    return " ".join(parts)


class SecretBoxError(ValueError):
    pass


class SecretBox:
    """Encrypts webhook secrets at rest with AES-256-GCM; ``kid:base64key`` comma-separated,
    the first key encrypts, every key decrypts (rotate by putting a new key first)."""

    def __init__(self, spec: str) -> None:
        self._keys: dict[str, AESGCM] = {}
        self.active = ""
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            kid, sep, encoded = part.partition(":")
            if not sep or not kid:
                raise SecretBoxError("each webhook secret key must be written kid:base64key")
            try:
                raw = base64.b64decode(encoded, validate=True)
            except binascii.Error as exc:
                raise SecretBoxError(f"webhook secret key {kid} is not base64") from exc
            if len(raw) != 32:
                raise SecretBoxError(f"webhook secret key {kid} must be 32 bytes (AES-256)")
            self._keys[kid] = AESGCM(raw)
            self.active = self.active or kid
        if not self.active:
            raise SecretBoxError("at least one webhook secret key is needed")

    def seal(self, secret: str, *, context: str) -> str:
        """``kid:base64(nonce + ciphertext)``; ``context`` (the endpoint id) is bound as
        associated data so a sealed secret copied to another endpoint does not open."""
        nonce = os.urandom(NONCE_BYTES)
        blob = nonce + self._keys[self.active].encrypt(nonce, secret.encode(), context.encode())
        return f"{self.active}:{base64.b64encode(blob).decode()}"

    def open(self, sealed: str, *, context: str) -> str:
        kid, _, encoded = sealed.partition(":")
        aead = self._keys.get(kid)
        if aead is None:
            raise SecretBoxError(f"no webhook secret key with id {kid} is configured")
        blob = base64.b64decode(encoded)
        try:
            return aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode()).decode()
        except InvalidTag as exc:
            raise SecretBoxError("a webhook secret does not open with its key") from exc
