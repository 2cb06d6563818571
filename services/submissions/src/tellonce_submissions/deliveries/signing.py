"""Standard Webhooks secrets and signatures, and their encryption at rest.

A secret is ``whsec_`` + base64 of 32 random bytes; the signature of a message is
``v1,`` + base64(HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")), one per active
secret (two during a rotation), separated by spaces.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable

from tellonce_shared.keyring import KeyRing, KeyRingError

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


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


SecretBoxError = KeyRingError


class SecretBox:
    """Encrypts webhook secrets at rest with AES-256-GCM; ``kid:base64key`` comma-separated,
    the first key encrypts, every key decrypts (rotate by putting a new key first)."""

    def __init__(self, spec: str, *, what: str = "webhook secret key") -> None:
        self._ring = KeyRing(spec, what=what)
        self.active = self._ring.active_key_id

    def seal(self, secret: str, *, context: str) -> str:
        """``kid:base64(nonce + ciphertext)``; ``context`` (the endpoint id) is bound as
        associated data so a sealed secret copied to another endpoint does not open."""
        blob, kid = self._ring.seal(secret.encode(), context=context)
        return f"{kid}:{base64.b64encode(blob).decode()}"

    def open(self, sealed: str, *, context: str) -> str:
        kid, _, encoded = sealed.partition(":")
        return self._ring.open(base64.b64decode(encoded), kid, context=context).decode()
