"""Keeping ``submission_facts`` up to date: the row of a new submission (``submission_values``,
written by the submission's own statement, ``submissions/store.py``), one update when an
agency posts a status (in the same transaction as the event itself), and a backfill for rows
written before (the migration, the benchmark, tests that write history directly)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_submissions.models import SubmissionEvent
from tellonce_submissions.performance.models import SubmissionFacts

DECISIONS = ("approved", "denied")


def week_of(at: datetime) -> date:
    """The Monday (UTC) of the week of ``at``: the trend's week and the index's second key."""
    day = at.astimezone(UTC).date() if at.tzinfo is not None else at.date()
    return day - timedelta(days=day.weekday())


def submission_values(
    *, submission_id: str, form: str, owning_agency: str, submitted_at: datetime
) -> dict[str, Any]:
    """The facts row of a new submission."""
    return {
        "submission_id": submission_id,
        "form": form,
        "owning_agency": owning_agency,
        "submitted_at": submitted_at,
        "week": week_of(submitted_at),
        "last_status": "submitted",
        "last_at": submitted_at,
    }


def _seconds(dialect: str, later: Any, earlier: Any) -> Any:
    """``later - earlier`` in seconds (float), in the database's own arithmetic."""
    if dialect == "postgresql":
        return func.date_part("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


async def record_event(session: AsyncSession, event: SubmissionEvent) -> None:
    """Fold one timeline event into its submission's facts (earliest milestone wins, with its
    duration from the submission; the latest event gives the status), atomically in SQL.

    Only the owning agency's events count: it is the one that responds to and decides the
    application. An event of an agency that receives only some fields (its own handling,
    ``received`` or ``in_review``) changes no measure, no backlog and no status."""
    f = SubmissionFacts.__table__.c
    at = event.at
    dialect = session.get_bind().dialect.name
    seconds = _seconds(dialect, at, f.submitted_at)

    def earlier(column: Any) -> Any:
        return or_(column.is_(None), column > at)

    values: dict[str, Any] = {
        "last_status": case((f.last_at <= at, event.status), else_=f.last_status),
        "last_at": case((f.last_at <= at, at), else_=f.last_at),
    }
    if event.agency is not None:
        values["responded_at"] = case((earlier(f.responded_at), at), else_=f.responded_at)
        values["response_s"] = case((earlier(f.responded_at), seconds), else_=f.response_s)
    if event.status in DECISIONS:
        values["decided_at"] = case((earlier(f.decided_at), at), else_=f.decided_at)
        values["decision_s"] = case((earlier(f.decided_at), seconds), else_=f.decision_s)
    if event.status == "needs_info":
        values["needs_info_at"] = case((earlier(f.needs_info_at), at), else_=f.needs_info_at)
    where = [f.submission_id == event.submission_id]
    if event.agency is not None:
        where.append(f.owning_agency == event.agency)
    await session.execute(
        update(SubmissionFacts)
        .where(and_(*where))
        .values(**values)
        .execution_options(synchronize_session=False)
    )


WEEK_SQL = {
    "postgresql": "CAST(date_trunc('week', {t} AT TIME ZONE 'UTC') AS date)",
    "sqlite": "date({t}, 'weekday 0', '-6 days')",
}
"""The Monday (UTC) of the week of timestamp column ``{t}``, per dialect (as ``week_of``)."""
SECONDS_SQL = {
    "postgresql": "date_part('epoch', {a} - {b})",
    "sqlite": "(julianday({a}) - julianday({b})) * 86400.0",
}
"""``{a} - {b}`` in seconds, per dialect (as ``record_event``)."""

BACKFILL_SQL = """
INSERT INTO submission_facts (submission_id, form, owning_agency, submitted_at, week,
  responded_at, response_s, decided_at, decision_s, needs_info_at, last_status, last_at)
SELECT m.submission_id, m.form, m.owning_agency, m.submitted_at, {week},
  m.responded_at, {response_s}, m.decided_at, {decision_s}, m.needs_info_at,
  m.last_status, m.last_at
FROM (
SELECT s.id AS submission_id, s.form, s.owning_agency, s.submitted_at,
  (SELECT min(e.at) FROM submission_events e
    WHERE e.submission_id = s.id AND e.agency = s.owning_agency) AS responded_at,
  (SELECT min(e.at) FROM submission_events e
    WHERE e.submission_id = s.id AND e.agency = s.owning_agency
      AND e.status IN ('approved', 'denied')) AS decided_at,
  (SELECT min(e.at) FROM submission_events e
    WHERE e.submission_id = s.id AND e.agency = s.owning_agency
      AND e.status = 'needs_info') AS needs_info_at,
  coalesce((SELECT e.status FROM submission_events e WHERE e.submission_id = s.id
    AND (e.agency IS NULL OR e.agency = s.owning_agency)
    ORDER BY e.at DESC, e.id DESC LIMIT 1), 'submitted') AS last_status,
  coalesce((SELECT max(e.at) FROM submission_events e WHERE e.submission_id = s.id
    AND (e.agency IS NULL OR e.agency = s.owning_agency)), s.submitted_at) AS last_at
FROM submissions s
WHERE NOT EXISTS (SELECT 1 FROM submission_facts f WHERE f.submission_id = s.id)
) m
"""
"""Milestones from the timeline for submissions without facts, counting only the owning
agency's events (as ``record_event``); ``backfill_sql`` fills in the dialect's week and
duration arithmetic."""


def backfill_sql(dialect: str) -> str:
    key = "postgresql" if dialect == "postgresql" else "sqlite"
    seconds = SECONDS_SQL[key]
    return BACKFILL_SQL.format(
        week=WEEK_SQL[key].format(t="m.submitted_at"),
        response_s=seconds.format(a="m.responded_at", b="m.submitted_at"),
        decision_s=seconds.format(a="m.decided_at", b="m.submitted_at"),
    )


async def backfill(session: AsyncSession) -> None:
    await session.execute(text(backfill_sql(session.get_bind().dialect.name)))
