"""The measure queries over ``submission_facts`` (one row of milestones per application, kept
by ``facts.py``): SQL aggregation on PostgreSQL (``percentile_cont`` for medians and
90th percentiles, ``GROUPING SETS`` for the group and its weekly trend in one pass). Rows are
never loaded into Python; only one row per group, week or backlog cell comes back.

Grouping: ``form`` and ``agency`` (the owning agency stored on each submission) are columns;
``priority`` joins a (form, priority) mapping taken from the registry and passed as two
arrays, so a form tagged with two priorities counts in both."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_submissions.performance.models import PerformanceTarget

DECISIONS = ("approved", "denied")


@dataclass(frozen=True)
class Scope:
    """Which submissions: the period, the grouping and the filters."""

    start: datetime
    end: datetime
    as_of: datetime
    group_by: str
    agency: str | None = None
    form: str | None = None
    forms: Sequence[str] | None = None
    """Only these forms (a priority filter, resolved through the registry)."""
    mapping: Sequence[tuple[str, str]] = field(default_factory=tuple)
    """(form, priority) pairs, for ``group_by=priority``."""

    def key(self) -> str:
        return {"form": "s.form", "agency": "s.owning_agency", "priority": "m.priority"}[
            self.group_by
        ]

    def join(self) -> str:
        if self.group_by != "priority":
            return ""
        return (
            " JOIN (SELECT unnest(CAST(:map_forms AS text[])) AS form,"
            " unnest(CAST(:map_priorities AS text[])) AS priority) m ON m.form = s.form"
        )

    def where(self) -> str:
        sql = ""
        if self.agency is not None:
            sql += " AND s.owning_agency = :agency"
        if self.form is not None:
            sql += " AND s.form = :form"
        if self.forms is not None:
            sql += " AND s.form = ANY(CAST(:forms AS text[]))"
        return sql

    def params(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "as_of": self.as_of,
            "agency": self.agency,
            "form": self.form,
            "forms": list(self.forms or ()),
            "map_forms": [f for f, _ in self.mapping],
            "map_priorities": [p for _, p in self.mapping],
        }


def measures_sql(scope: Scope) -> str:
    """One pass over the period's rows of ``submission_facts`` (one per application, with its
    milestones), grouped two ways (``kind``): ``total`` per group and ``week`` per group and
    week of submission. Milestones after ``as_of`` are ignored."""
    # only fixed fragments of Scope (never request text) are interpolated
    return f"""
WITH scope AS (
  SELECT s.form, s.submitted_at, {scope.key()} AS grp,
    CASE WHEN s.responded_at <= :as_of THEN s.responded_at END AS responded_at,
    CASE WHEN s.decided_at <= :as_of THEN s.decided_at END AS decided_at,
    coalesce(s.needs_info_at <= :as_of, false) AS needed_info
  FROM submission_facts s{scope.join()}
  WHERE s.submitted_at >= :start AND s.submitted_at < :end{scope.where()}
), judged AS (
  SELECT f.*, date_trunc('week', f.submitted_at AT TIME ZONE 'UTC')::date AS week, t.share,
    t.form IS NOT NULL AND (f.decided_at IS NOT NULL
      OR f.submitted_at + t.days * interval '1 day' < :as_of) AS due,
    t.form IS NOT NULL AND f.decided_at IS NOT NULL
      AND f.decided_at <= f.submitted_at + t.days * interval '1 day' AS met
  FROM scope f LEFT JOIN performance_targets t ON t.form = f.form
)
SELECT grp, week, CASE WHEN GROUPING(week) = 0 THEN 'week' ELSE 'total' END AS kind,
  count(*) AS volume,
  count(responded_at) AS responded,
  percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP
    (ORDER BY extract(epoch FROM responded_at - submitted_at)) AS response_s,
  count(decided_at) AS decided,
  percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP
    (ORDER BY extract(epoch FROM decided_at - submitted_at)) AS decision_s,
  count(*) FILTER (WHERE needed_info) AS needed_info,
  count(*) FILTER (WHERE due) AS due,
  count(*) FILTER (WHERE due AND met) AS met,
  avg(share) FILTER (WHERE due) AS target_share
FROM judged
GROUP BY GROUPING SETS ((grp), (grp, week))
ORDER BY grp, week NULLS FIRST
"""  # noqa: S608


def backlog_sql(scope: Scope) -> str:
    """The period's applications still open at ``as_of``, by status at ``as_of`` and age.
    The status is the stored latest one unless that came later; only then is the
    application's timeline read (its index finds the event without visiting the table)."""
    # only fixed fragments of Scope (never request text) are interpolated
    return f"""
WITH open AS (
  SELECT s.submitted_at, {scope.key()} AS grp,
    CASE WHEN s.last_at <= :as_of THEN s.last_status
         ELSE coalesce((SELECT e.status FROM submission_events e
           WHERE e.submission_id = s.submission_id AND e.at <= :as_of
           ORDER BY e.at DESC, e.id DESC LIMIT 1), 'submitted') END AS status
  FROM submission_facts s{scope.join()}
  WHERE s.submitted_at >= :start AND s.submitted_at < :end{scope.where()}
    AND s.submitted_at <= :as_of AND (s.decided_at IS NULL OR s.decided_at > :as_of)
)
SELECT grp, status,
  CASE WHEN submitted_at > :as_of - interval '7 days' THEN '0-7d'
       WHEN submitted_at > :as_of - interval '30 days' THEN '8-30d'
       WHEN submitted_at > :as_of - interval '90 days' THEN '31-90d'
       ELSE '90d+' END AS age,
  count(*) AS n
FROM open
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
"""  # noqa: S608


def deliveries_sql(scope: Scope) -> str:
    """Deliveries of the period's submissions, in their current state."""
    # only fixed fragments of Scope (never request text) are interpolated
    return f"""
SELECT {scope.key()} AS grp, count(*) AS total,
  count(*) FILTER (WHERE d.status = 'dead') AS dead,
  percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP
    (ORDER BY extract(epoch FROM coalesce(d.delivered_at, d.acked_at) - d.created_at))
    AS deliver_s
FROM submission_facts s{scope.join()}
JOIN deliveries d ON d.submission_id = s.submission_id
WHERE s.submitted_at >= :start AND s.submitted_at < :end{scope.where()}
GROUP BY 1
ORDER BY 1
"""  # noqa: S608


FUNNEL_SQL = """
SELECT r.from_form, r.to_form, count(*) AS suggested,
  count(*) FILTER (WHERE r.status IN ('started', 'submitted')) AS started,
  count(*) FILTER (WHERE r.status = 'submitted' OR (r.status = 'started' AND EXISTS (
    SELECT 1 FROM submissions s WHERE s.owner = r.owner AND s.form = r.to_form
      AND s.submitted_at >= r.started_at))) AS submitted
FROM referrals r
WHERE r.created_at >= :start AND r.created_at < :end
GROUP BY 1, 2
ORDER BY 1, 2
"""
"""``submitted`` also counts started referrals whose form the resident has submitted since,
even if they have not listed their referrals again (which is when the row is updated)."""


async def _rows(session: AsyncSession, sql: str, params: dict[str, Any]) -> list[Any]:
    # These queries are costed high (percentiles over many rows), which tempts PostgreSQL to
    # JIT-compile them: that compilation alone took longer than the query in the benchmark.
    await session.execute(text("SET LOCAL jit = off"))
    return list((await session.execute(text(sql), params)).mappings())


async def measures(session: AsyncSession, scope: Scope) -> list[Any]:
    return await _rows(session, measures_sql(scope), scope.params())


async def backlog(session: AsyncSession, scope: Scope) -> list[Any]:
    return await _rows(session, backlog_sql(scope), scope.params())


async def deliveries(session: AsyncSession, scope: Scope) -> list[Any]:
    return await _rows(session, deliveries_sql(scope), scope.params())


async def funnel(session: AsyncSession, start: datetime, end: datetime) -> list[Any]:
    return await _rows(session, FUNNEL_SQL, {"start": start, "end": end})


async def targets(session: AsyncSession) -> Sequence[PerformanceTarget]:
    return (
        (await session.execute(select(PerformanceTarget).order_by(PerformanceTarget.form)))
        .scalars()
        .all()
    )


async def target(session: AsyncSession, form: str) -> PerformanceTarget | None:
    return await session.get(PerformanceTarget, form)


def add_target(session: AsyncSession, target: PerformanceTarget) -> None:
    session.add(target)


async def remove_target(session: AsyncSession, form: str) -> int:
    result = await session.execute(delete(PerformanceTarget).where(PerformanceTarget.form == form))
    return int(getattr(result, "rowcount", 0) or 0)


def form_volumes_sql(scope: Scope) -> str:
    # only fixed fragments of Scope (never request text) are interpolated
    return f"""
SELECT {scope.key()} AS grp, s.form, count(*) AS n
FROM submission_facts s{scope.join()}
WHERE s.submitted_at >= :start AND s.submitted_at < :end{scope.where()}
GROUP BY 1, 2
"""  # noqa: S608


async def form_volumes(session: AsyncSession, scope: Scope) -> list[Any]:
    return await _rows(session, form_volumes_sql(scope), scope.params())
