"""Queries on user accounts."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_identity.models import User


async def by_email(session: AsyncSession, email: str) -> User | None:
    stmt = select(User).where(User.email == email.strip().lower())
    return (await session.execute(stmt)).scalar_one_or_none()


async def by_id(session: AsyncSession, user_id: str) -> User | None:
    return await session.get(User, user_id)


def add(session: AsyncSession, user: User) -> None:
    session.add(user)


async def page(
    session: AsyncSession,
    *,
    after_email: str | None,
    limit: int,
    role: str | None,
    agency: str | None,
) -> Sequence[User]:
    """Ordered by email (unique), keyset-paged."""
    stmt = select(User).order_by(User.email).limit(limit)
    if after_email is not None:
        stmt = stmt.where(User.email > after_email)
    if role is not None:
        stmt = stmt.where(User.role == role)
    if agency is not None:
        stmt = stmt.where(User.agency == agency)
    return (await session.execute(stmt)).scalars().all()
