"""Queries on user accounts."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_identity.models import User


async def by_email(session: AsyncSession, email: str, *, lock: bool = False) -> User | None:
    """With ``lock``, the row is read as it is now and held as :func:`lock` holds it."""
    stmt = select(User).where(User.email == email.strip().lower())
    if lock:
        stmt = stmt.with_for_update(key_share=True).execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def by_id(session: AsyncSession, user_id: str) -> User | None:
    return await session.get(User, user_id)


async def lock(session: AsyncSession, user_id: str) -> User | None:
    """The user's row, read afresh and held until the transaction ends (PostgreSQL
    ``FOR NO KEY UPDATE``; SQLite has one writer at a time anyway and ignores it). Taken by
    what creates a sign-in (the password grant) and what ends every sign-in of a user (a
    password change, disabling): they run one after the other, so a sign-in is either
    refused (new password, account disabled) or committed before the revocation starts and
    revoked by it. Refreshes do not take it: they add tokens to an existing sign-in, which
    ``tokens.repository.family_revoked`` ends."""
    stmt = (
        select(User)
        .where(User.id == user_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


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
