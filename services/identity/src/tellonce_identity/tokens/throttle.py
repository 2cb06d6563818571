"""Login rate limiting per account and per address, kept in the database so that every
replica of the service sees the same counts. Unknown accounts are counted like known ones,
so a 429 says nothing about whether an account exists. Wrong current passwords on a
password change have a count of their own (per user), apart from the sign-in counts."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_identity.config import Settings
from tellonce_identity.models import LoginFailure


def account_key(email: str) -> str:
    return f"account:{email.strip().lower()[:280]}"


def address_key(address: str) -> str:
    return f"address:{address}"


def password_change_key(user_id: str) -> str:
    """Failed password changes of one signed-in user: never counted toward sign-in."""
    return f"password-change:{user_id}"


def _limit(settings: Settings, key: str) -> int:
    if key.startswith("account:"):
        return settings.login_max_failures_per_account
    if key.startswith("password-change:"):
        return settings.password_change_max_failures
    return settings.login_max_failures_per_address


def _limits(settings: Settings, keys: list[str]) -> dict[str, int]:
    return {key: _limit(settings, key) for key in keys}


async def serialize(session: AsyncSession, keys: list[str]) -> None:
    """Take the keys' turn until the transaction ends, so attempts on one account (or from
    one address) running at once are counted one after the other: without it, guesses sent
    in parallel all read the count before any failure is written, and more of them are
    checked than the limit allows. PostgreSQL's transaction-level advisory locks, in a
    fixed order (no deadlock between two attempts sharing keys); nothing on SQLite, which
    is for local use only."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for key in sorted(keys):
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key}
        )


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
    """A success forgives that key's earlier failures: a sign-in the account's (not the
    address's), a password change the user's failed changes."""
    await session.execute(delete(LoginFailure).where(LoginFailure.key == key))
