"""Login rate limiting per account and per address, kept in the database so that every
replica of the service sees the same counts. Unknown accounts are counted like known ones,
so a 429 says nothing about whether an account exists."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_identity.config import Settings
from tellonce_identity.models import LoginFailure


def account_key(email: str) -> str:
    return f"account:{email.strip().lower()[:280]}"


def address_key(address: str) -> str:
    return f"address:{address}"


def _limits(settings: Settings, keys: list[str]) -> dict[str, int]:
    return {
        key: settings.login_max_failures_per_account
        if key.startswith("account:")
        else settings.login_max_failures_per_address
        for key in keys
    }


async def retry_after(session: AsyncSession, settings: Settings, keys: list[str]) -> int | None:
    """Seconds to wait when any key has reached its limit, else None."""
    now = datetime.now(UTC)
    window = timedelta(seconds=settings.login_window_seconds)
    stmt = (
        select(LoginFailure.key, func.count(), func.min(LoginFailure.at))
        .where(LoginFailure.key.in_(keys), LoginFailure.at > now - window)
        .group_by(LoginFailure.key)
    )
    limits = _limits(settings, keys)
    wait: int | None = None
    for key, count, oldest in (await session.execute(stmt)).all():
        if count >= limits[key]:
            oldest_at = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
            seconds = max(1, math.ceil((oldest_at + window - now).total_seconds()))
            wait = max(wait or 0, seconds)
    return wait


async def record_failure(session: AsyncSession, settings: Settings, keys: list[str]) -> None:
    now = datetime.now(UTC)
    horizon = now - timedelta(seconds=settings.login_window_seconds)
    await session.execute(
        delete(LoginFailure).where(LoginFailure.key.in_(keys), LoginFailure.at <= horizon)
    )
    session.add_all([LoginFailure(key=key, at=now) for key in keys])


async def clear(session: AsyncSession, key: str) -> None:
    """A successful sign-in forgives the account's earlier failures (not the address's)."""
    await session.execute(delete(LoginFailure).where(LoginFailure.key == key))
