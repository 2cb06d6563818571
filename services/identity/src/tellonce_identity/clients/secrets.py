"""Client secrets: 256 random bits shown once, stored as SHA-256 (a fast hash is right for a
high-entropy secret; argon2 is for human-chosen passwords), compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets

PREFIX = "tocs_"


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(stored_digest: str | None, presented: str) -> bool:
    candidate = digest(presented)
    return stored_digest is not None and hmac.compare_digest(stored_digest, candidate)
