"""Signing keys: the newest unretired key signs; a rotation adds a key and retires the
others, which stay in the JWKS until every token they signed has expired."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from joserfc.jwk import ECKey
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_identity.config import Settings
from tellonce_identity.keys import repository
from tellonce_identity.keys.crypto import KeyCipher
from tellonce_identity.models import SigningKey

ALGORITHM = "ES256"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Keyring:
    """Holds the key-encryption cipher and a cache of decrypted private keys by kid."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cipher = KeyCipher(
            settings.key_encryption_key.get_secret_value(),
            tuple(old.get_secret_value() for old in settings.previous_key_encryption_keys),
        )
        self._private: dict[str, ECKey] = {}

    def publish_horizon(self, now: datetime) -> datetime:
        """Keys retired after this instant may still have live tokens."""
        lifetime = self.settings.access_token_seconds + self.settings.key_publish_grace_seconds
        return now - timedelta(seconds=lifetime)

    def _generate(self, now: datetime) -> SigningKey:
        fresh = ECKey.generate_key("P-256", private=True)
        kid = fresh.thumbprint()
        params = {"kid": kid, "use": "sig", "alg": ALGORITHM}
        key = ECKey.import_key(fresh.as_dict(private=True), params)  # type: ignore[arg-type]
        public = dict(key.as_dict(private=False))
        private = orjson.dumps(dict(key.as_dict(private=True)))
        self._private[kid] = key
        return SigningKey(
            kid=kid,
            alg=ALGORITHM,
            public_jwk=public,
            private_key_encrypted=self.cipher.encrypt(private, kid),
            created_at=now,
            retired_at=None,
        )

    def _private_key(self, row: SigningKey) -> ECKey:
        cached = self._private.get(row.kid)
        if cached is None:
            data = orjson.loads(self.cipher.decrypt(row.private_key_encrypted, row.kid))
            cached = ECKey.import_key(data)
            self._private[row.kid] = cached
        return cached

    async def signing_key(self, session: AsyncSession) -> ECKey:
        """The key to sign with now; the first call on an empty database makes one."""
        row = await repository.newest_active(session)
        if row is None:
            row = self._generate(utcnow())
            repository.add(session, row)
            await session.flush()
        return self._private_key(row)

    async def rotate(self, session: AsyncSession) -> tuple[SigningKey, list[str]]:
        """Add a key that signs from now on; retire the others (still published)."""
        now = utcnow()
        row = self._generate(now)
        repository.add(session, row)
        await session.flush()
        retired = await repository.retire_all_except(session, row.kid, now)
        return row, retired

    async def rewrap(self, session: AsyncSession) -> list[str]:
        """Re-encrypt every stored private key under the current key-encryption key."""
        rewrapped = []
        for row in await repository.all_keys(session):
            plaintext, current = self.cipher.decrypt_with_current(
                row.private_key_encrypted, row.kid
            )
            if not current:
                row.private_key_encrypted = self.cipher.encrypt(plaintext, row.kid)
                rewrapped.append(row.kid)
        return rewrapped

    async def jwks(self, session: AsyncSession) -> dict[str, Any]:
        await self.signing_key(session)  # a fresh install publishes its first key at once
        rows = await repository.published(session, self.publish_horizon(utcnow()))
        return {"keys": [dict(row.public_jwk) for row in rows]}

    async def check_decryptable(self, session: AsyncSession) -> int:
        """Fail loudly at start-up if the key-encryption key does not open the signing
        keys in the database; returns how many keys are still signing."""
        rows = [row for row in await repository.all_keys(session) if row.retired_at is None]
        for row in rows:
            self._private_key(row)
        return len(rows)
