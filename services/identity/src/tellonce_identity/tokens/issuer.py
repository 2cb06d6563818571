"""Minting RFC 9068 access tokens: ES256, header ``typ: at+jwt`` and ``kid``."""

from __future__ import annotations

import time
import uuid
from typing import Any

from joserfc import jwt
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_identity.config import Settings
from tellonce_identity.keys.service import ALGORITHM, Keyring


async def access_token(
    session: AsyncSession,
    keyring: Keyring,
    settings: Settings,
    *,
    sub: str,
    role: str,
    client_id: str,
    scope: str,
    agency: str | None = None,
    email: str | None = None,
) -> str:
    key = await keyring.signing_key(session)
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": sub,
        "iat": now,
        "exp": now + settings.access_token_seconds,
        "jti": uuid.uuid4().hex,
        "client_id": client_id,
        "role": role,
        "scope": scope,
    }
    if agency is not None:
        claims["agency"] = agency
    if email is not None:
        claims["email"] = email
    header = {"alg": ALGORITHM, "typ": "at+jwt", "kid": key.kid}
    return jwt.encode(header, claims, key, algorithms=[ALGORITHM])
