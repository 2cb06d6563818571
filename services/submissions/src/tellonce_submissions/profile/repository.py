"""Queries over the prefill profile."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_submissions.models import Profile, ProfileValue


async def get(session: AsyncSession, owner: str) -> Profile | None:
    return await session.get(Profile, owner)


async def lock(session: AsyncSession, owner: str) -> Profile | None:
    """The owner's profile row, locked until the transaction ends (PostgreSQL ``FOR UPDATE``;
    SQLite has one writer at a time anyway). Consent changes take it first: a submission
    being written holds it shared while it reads consent (``submissions.store``), so the
    two never interleave."""
    result = await session.execute(
        select(Profile)
        .where(Profile.owner == owner)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def values(session: AsyncSession, owner: str) -> Sequence[ProfileValue]:
    rows = await session.execute(
        select(ProfileValue).where(ProfileValue.owner == owner).order_by(ProfileValue.element)
    )
    return rows.scalars().all()


async def set_consent(session: AsyncSession, owner: str, keep: bool, now: datetime) -> None:
    stmt = _insert(session, Profile).values(owner=owner, keep=keep, updated_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Profile.owner], set_={"keep": keep, "updated_at": now}
    )
    await session.execute(stmt)


REPLACED_ON_UPSERT = ("value", "sealed", "key_id", "source_form", "source_version", "updated_at")
"""What a newer value replaces in a kept profile value."""


async def upsert_values(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert or replace element values (one statement, safe under concurrent submits)."""
    if not rows:
        return
    stmt = _insert(session, ProfileValue).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=[ProfileValue.owner, ProfileValue.element],
        set_={column: stmt.excluded[column] for column in REPLACED_ON_UPSERT},
    )
    await session.execute(stmt)


async def delete_values(session: AsyncSession, owner: str, element: str | None = None) -> int:
    stmt = delete(ProfileValue).where(ProfileValue.owner == owner)
    if element is not None:
        stmt = stmt.where(ProfileValue.element == element)
    result = await session.execute(stmt)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def delete_profile(session: AsyncSession, owner: str) -> None:
    await delete_values(session, owner)
    await session.execute(delete(Profile).where(Profile.owner == owner))


def _insert(session: AsyncSession, table: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return pg_insert(table)
    return sqlite_insert(table)
