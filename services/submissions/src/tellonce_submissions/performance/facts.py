"""Keeping ``submission_facts`` up to date: one call when a submission is stored, one when an
agency posts a status (both inside the same transaction as the event itself), and a backfill
for rows written before (the migration, the benchmark, tests that write history directly)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, or_, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_submissions.models import Submission, SubmissionEvent
from tellonce_submissions.performance.models import SubmissionFacts

DECISIONS = ("approved", "denied")


def record_submission(session: AsyncSession, submission: Submission) -> None:
    session.add(
        SubmissionFacts(
            submission_id=submission.id,
            form=submission.form,
            owning_agency=submission.owning_agency,
            submitted_at=submission.submitted_at,
            last_status="submitted",
            last_at=submission.submitted_at,
        )
    )


async def record_event(session: AsyncSession, event: SubmissionEvent) -> None:
    """Fold one timeline event into its submission's facts (earliest milestone wins; the
    latest event gives the status), atomically in SQL."""
    f = SubmissionFacts.__table__.c
    at = event.at

    def earliest(column: Any) -> Any:
        return case((or_(column.is_(None), column > at), at), else_=column)

    values: dict[str, Any] = {
        "last_status": case((f.last_at <= at, event.status), else_=f.last_status),
        "last_at": case((f.last_at <= at, at), else_=f.last_at),
    }
    if event.agency is not None:
        values["responded_at"] = earliest(f.responded_at)
    if event.status in DECISIONS:
        values["decided_at"] = earliest(f.decided_at)
    if event.status == "needs_info":
        values["needs_info_at"] = earliest(f.needs_info_at)
    await session.execute(
        update(SubmissionFacts)
        .where(and_(f.submission_id == event.submission_id))
        .values(**values)
        .execution_options(synchronize_session=False)
    )


BACKFILL_SQL = """
INSERT INTO submission_facts (submission_id, form, owning_agency, submitted_at, responded_at,
  decided_at, needs_info_at, last_status, last_at)
SELECT s.id, s.form, s.owning_agency, s.submitted_at,
  (SELECT min(e.at) FROM submission_events e
    WHERE e.submission_id = s.id AND e.agency IS NOT NULL),
  (SELECT min(e.at) FROM submission_events e
    WHERE e.submission_id = s.id AND e.status IN ('approved', 'denied')),
  (SELECT min(e.at) FROM submission_events e
    WHERE e.submission_id = s.id AND e.status = 'needs_info'),
  coalesce((SELECT e.status FROM submission_events e WHERE e.submission_id = s.id
    ORDER BY e.at DESC, e.id DESC LIMIT 1), 'submitted'),
  coalesce((SELECT max(e.at) FROM submission_events e WHERE e.submission_id = s.id),
    s.submitted_at)
FROM submissions s
WHERE NOT EXISTS (SELECT 1 FROM submission_facts f WHERE f.submission_id = s.id)
"""
"""Plain SQL that PostgreSQL and SQLite both run; the migration carries a copy."""


async def backfill(session: AsyncSession) -> None:
    await session.execute(text(BACKFILL_SQL))
