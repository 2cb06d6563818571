"""argon2id password hashing with OWASP parameters, rehash when they change, and a dummy
verification for unknown accounts so both failures take the same time."""

from __future__ import annotations

import asyncio
import unicodedata

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from tellonce_identity.config import Settings


def normalize(password: str) -> str:
    """NIST SP 800-63B 5.1.1.2: normalize Unicode (NFKC) before hashing."""
    return unicodedata.normalize("NFKC", password)


class Passwords:
    def __init__(self, settings: Settings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            type=Type.ID,
        )
        self._dummy = self._hasher.hash("tellonce dummy password for timing equality")

    def hash(self, password: str) -> str:
        return self._hasher.hash(normalize(password))

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """True when the password matches; an unknown account (``None``) costs the same."""
        try:
            return self._hasher.verify(stored_hash or self._dummy, normalize(password)) and (
                stored_hash is not None
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    async def hash_async(self, password: str) -> str:
        """Hashing is CPU-bound (tens of ms): keep it off the event loop."""
        return await asyncio.to_thread(self.hash, password)

    async def verify_async(self, stored_hash: str | None, password: str) -> bool:
        return await asyncio.to_thread(self.verify, stored_hash, password)
