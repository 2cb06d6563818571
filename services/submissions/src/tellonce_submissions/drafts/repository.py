"""Queries over drafts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_submissions.models import Draft


async def get_live(
    session: AsyncSession, draft_id: str, owner: str, since: datetime
) -> Draft | None:
    """The owner's draft, unless it is someone else's or past retention (both: None)."""
    result = await session.execute(
        select(Draft).where(Draft.id == draft_id, Draft.owner == owner, Draft.updated_at >= since)
    )
    return result.scalar_one_or_none()


async def list_live(session: AsyncSession, owner: str, since: datetime) -> Sequence[Draft]:
    result = await session.execute(
        select(Draft)
        .where(Draft.owner == owner, Draft.updated_at >= since)
        .order_by(Draft.updated_at.desc())
        .limit(200)
    )
    return result.scalars().all()


async def remove(session: AsyncSession, draft_id: str) -> bool:
    """Whether there was such a draft to remove."""
    result = await session.execute(delete(Draft).where(Draft.id == draft_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def purge_older_than(session: AsyncSession, cutoff: datetime) -> int:
    result = await session.execute(delete(Draft).where(Draft.updated_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
