"""Queries over submissions, their timeline and their outbox rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_submissions.deliveries.models import Delivery
from tellonce_submissions.models import Submission, SubmissionEvent


async def by_id_or_reference(
    session: AsyncSession, *, submission_id: str | None, reference: str | None
) -> Submission | None:
    conditions = []
    if submission_id is not None:
        conditions.append(Submission.id == submission_id)
    if reference is not None:
        conditions.append(Submission.reference == reference)
    if not conditions:
        return None
    result = await session.execute(select(Submission).where(or_(*conditions)).limit(1))
    return result.scalar_one_or_none()


async def page_for_owner(
    session: AsyncSession,
    *,
    owner: str | None,
    limit: int,
    after: tuple[datetime, str] | None,
) -> Sequence[Submission]:
    """Newest first; ``owner=None`` lists everyone's (admin)."""
    query = select(Submission)
    if owner is not None:
        query = query.where(Submission.owner == owner)
    if after is not None:
        at, sid = after
        query = query.where(
            or_(
                Submission.submitted_at < at,
                and_(Submission.submitted_at == at, Submission.id < sid),
            )
        )
    query = query.order_by(Submission.submitted_at.desc(), Submission.id.desc()).limit(limit)
    return (await session.execute(query)).scalars().all()


async def events_for(
    session: AsyncSession, submission_ids: Sequence[str]
) -> dict[str, list[SubmissionEvent]]:
    result: dict[str, list[SubmissionEvent]] = {sid: [] for sid in submission_ids}
    if not submission_ids:
        return result
    rows = await session.execute(
        select(SubmissionEvent)
        .where(SubmissionEvent.submission_id.in_(submission_ids))
        .order_by(SubmissionEvent.at, SubmissionEvent.id)
    )
    for event in rows.scalars():
        result[event.submission_id].append(event)
    return result


async def deliveries_for(
    session: AsyncSession, submission_ids: Sequence[str]
) -> dict[str, list[Delivery]]:
    result: dict[str, list[Delivery]] = {sid: [] for sid in submission_ids}
    if not submission_ids:
        return result
    rows = await session.execute(
        select(Delivery)
        .where(Delivery.submission_id.in_(submission_ids))
        .order_by(Delivery.created_at, Delivery.agency)
    )
    for delivery in rows.scalars():
        result[delivery.submission_id].append(delivery)
    return result


async def agency_received(session: AsyncSession, *, submission_id: str, agency: str) -> bool:
    row = await session.execute(
        select(Delivery.id)
        .where(Delivery.submission_id == submission_id, Delivery.agency == agency)
        .limit(1)
    )
    return row.first() is not None


async def lock(session: AsyncSession, submission_id: str) -> None:
    """Hold the submission's row until the transaction ends (PostgreSQL; SQLite writes one
    transaction at a time): two agencies' posts to one timeline are checked one after the
    other, so a decision and a late status cannot both pass the check."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            select(Submission.id).where(Submission.id == submission_id).with_for_update()
        )


async def owner_decision(
    session: AsyncSession, submission: Submission, decisions: Sequence[str]
) -> SubmissionEvent | None:
    """The owning agency's latest event when it is a decision (the decision in force)."""
    row = await session.execute(
        select(SubmissionEvent)
        .where(
            SubmissionEvent.submission_id == submission.id,
            SubmissionEvent.agency == submission.owning_agency,
        )
        .order_by(SubmissionEvent.at.desc(), SubmissionEvent.id.desc())
        .limit(1)
    )
    latest = row.scalar_one_or_none()
    return latest if latest is not None and latest.status in decisions else None


def add_event(
    session: AsyncSession,
    *,
    submission_id: str,
    at: datetime,
    status: str,
    agency: str | None = None,
    message: str | None = None,
    actor: str | None = None,
) -> SubmissionEvent:
    event = SubmissionEvent(
        submission_id=submission_id,
        at=at,
        agency=agency,
        status=status,
        message=message,
        actor=actor,
    )
    session.add(event)
    return event
