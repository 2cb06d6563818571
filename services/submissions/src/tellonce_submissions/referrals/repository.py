"""Queries of referrals. Inserts tolerate a concurrent twin (ON CONFLICT DO NOTHING): the id
of a referral is derived from (submission, rule), so two evaluations write the same row."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_submissions.models import Submission
from tellonce_submissions.referrals.models import STARTED, SUBMITTED, Referral, ReferralCheck


async def unchecked_submissions(
    session: AsyncSession, owner: str, *, limit: int
) -> Sequence[Submission]:
    """The resident's submissions whose rules were not evaluated yet, newest first."""
    stmt = (
        select(Submission)
        .where(
            Submission.owner == owner,
            ~exists().where(ReferralCheck.submission_id == Submission.id),
        )
        .order_by(Submission.submitted_at.desc())
        .limit(limit)
    )
    return (await session.execute(stmt)).scalars().all()


async def submitted_forms(session: AsyncSession, owner: str) -> set[str]:
    """The forms the resident has submitted (any version, at any time)."""
    stmt = select(Submission.form).where(Submission.owner == owner).distinct()
    return set((await session.execute(stmt)).scalars().all())


async def insert_ignoring_conflicts(
    session: AsyncSession, table: Any, rows: list[dict[str, Any]]
) -> None:
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(insert(table).values(rows).on_conflict_do_nothing())


async def mark_submitted(session: AsyncSession, owner: str, now: datetime) -> None:
    """Started referrals whose form the resident has since submitted become ``submitted``."""
    later = (
        select(Submission.id)
        .where(
            Submission.owner == owner,
            Submission.form == Referral.to_form,
            Submission.submitted_at >= Referral.started_at,
        )
        .order_by(Submission.submitted_at)
        .limit(1)
        .scalar_subquery()
    )
    first_at = (
        select(Submission.submitted_at)
        .where(
            Submission.owner == owner,
            Submission.form == Referral.to_form,
            Submission.submitted_at >= Referral.started_at,
        )
        .order_by(Submission.submitted_at)
        .limit(1)
        .scalar_subquery()
    )
    await session.execute(
        update(Referral)
        .where(
            and_(Referral.owner == owner, Referral.status == STARTED),
            exists().where(
                Submission.owner == owner,
                Submission.form == Referral.to_form,
                Submission.submitted_at >= Referral.started_at,
            ),
        )
        .values(status=SUBMITTED, submission_id=later, submitted_at=first_at)
        .execution_options(synchronize_session=False)
    )


async def own(session: AsyncSession, owner: str) -> Sequence[Referral]:
    stmt = (
        select(Referral)
        .where(Referral.owner == owner)
        .order_by(Referral.created_at.desc(), Referral.id)
    )
    return (await session.execute(stmt)).scalars().all()


async def get_own(
    session: AsyncSession, owner: str, referral_id: str, *, lock: bool = False
) -> Referral | None:
    """The resident's referral; ``lock`` takes its row lock (``SELECT ... FOR UPDATE``, held
    to the end of the transaction) and reads the row as it is once the lock is granted, so
    a concurrent start that committed first is seen (its ``draft_id``), not overwritten."""
    stmt = select(Referral).where(Referral.id == referral_id, Referral.owner == owner)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def submission(session: AsyncSession, submission_id: str) -> Submission | None:
    return await session.get(Submission, submission_id)
