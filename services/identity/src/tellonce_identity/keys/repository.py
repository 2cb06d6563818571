"""Queries on signing keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_identity.models import SigningKey


async def newest_active(session: AsyncSession) -> SigningKey | None:
    stmt = (
        select(SigningKey)
        .where(SigningKey.retired_at.is_(None))
        .order_by(SigningKey.created_at.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def published(session: AsyncSession, retired_after: datetime) -> Sequence[SigningKey]:
    """Keys still signing, and retired keys whose tokens may still be alive."""
    stmt = (
        select(SigningKey)
        .where(or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > retired_after))
        .order_by(SigningKey.created_at.desc())
    )
    return (await session.execute(stmt)).scalars().all()


async def all_keys(session: AsyncSession) -> Sequence[SigningKey]:
    stmt = select(SigningKey).order_by(SigningKey.created_at.desc())
    return (await session.execute(stmt)).scalars().all()


async def retire_all_except(session: AsyncSession, kid: str, at: datetime) -> list[str]:
    stmt = (
        update(SigningKey)
        .where(SigningKey.retired_at.is_(None), SigningKey.kid != kid)
        .values(retired_at=at)
        .returning(SigningKey.kid)
    )
    return [row[0] for row in (await session.execute(stmt)).all()]


def add(session: AsyncSession, key: SigningKey) -> None:
    session.add(key)
