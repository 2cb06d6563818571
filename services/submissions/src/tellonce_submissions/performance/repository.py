"""The measure queries: SQL aggregation on PostgreSQL (``percentile_cont`` for medians and
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
    """One row per group (``week`` NULL) and one per group and week."""
    # only fixed fragments of Scope (never request text) are interpolated
    return f"""
WITH scope AS (
  SELECT s.id, s.form, s.submitted_at, {scope.key()} AS grp
  FROM submissions s{scope.join()}
  WHERE s.submitted_at >= :start AND s.submitted_at < :end{scope.where()}
), facts AS MATERIALIZED (
  SELECT sc.grp, sc.form, sc.submitted_at,
    (SELECT min(e.at) FROM submission_events e
      WHERE e.submission_id = sc.id AND e.agency IS NOT NULL AND e.at <= :as_of) AS responded_at,
    (SELECT min(e.at) FROM submission_events e
      WHERE e.submission_id = sc.id AND e.status IN ('approved', 'denied')
        AND e.at <= :as_of) AS decided_at,
    EXISTS (SELECT 1 FROM submission_events e
      WHERE e.submission_id = sc.id AND e.status = 'needs_info' AND e.at <= :as_of)
      AS needed_info
  FROM scope sc
), judged AS (
  SELECT f.*, date_trunc('week', f.submitted_at AT TIME ZONE 'UTC')::date AS week, t.share,
    t.form IS NOT NULL AND (f.decided_at IS NOT NULL
      OR f.submitted_at + t.days * interval '1 day' < :as_of) AS due,
    t.form IS NOT NULL AND f.decided_at IS NOT NULL
      AND f.decided_at <= f.submitted_at + t.days * interval '1 day' AS met
  FROM facts f LEFT JOIN performance_targets t ON t.form = f.form
)
SELECT grp, week, count(*) AS volume,
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
    """Applications open at ``as_of`` (no decision yet), by current status and age. The
    backlog is a stock: every open application submitted before ``as_of`` counts, whatever
    the period start."""
    # only fixed fragments of Scope (never request text) are interpolated
    return f"""
WITH open AS (
  SELECT s.id, s.submitted_at, {scope.key()} AS grp
  FROM submissions s{scope.join()}
  WHERE s.submitted_at < :as_of{scope.where()}
    AND NOT EXISTS (SELECT 1 FROM submission_events e
      WHERE e.submission_id = s.id AND e.status IN ('approved', 'denied') AND e.at <= :as_of)
)
SELECT o.grp, coalesce(latest.status, 'submitted') AS status,
  CASE WHEN o.submitted_at > :as_of - interval '7 days' THEN '0-7d'
       WHEN o.submitted_at > :as_of - interval '30 days' THEN '8-30d'
       WHEN o.submitted_at > :as_of - interval '90 days' THEN '31-90d'
       ELSE '90d+' END AS age,
  count(*) AS n
FROM open o
LEFT JOIN LATERAL (SELECT e.status FROM submission_events e
  WHERE e.submission_id = o.id AND e.at <= :as_of
  ORDER BY e.at DESC, e.id DESC LIMIT 1) latest ON true
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
FROM submissions s{scope.join()}
JOIN deliveries d ON d.submission_id = s.id
WHERE s.submitted_at >= :start AND s.submitted_at < :end{scope.where()}
GROUP BY 1
ORDER BY 1
"""  # noqa: S608


FUNNEL_SQL = """
SELECT from_form, to_form, count(*) AS suggested,
  count(*) FILTER (WHERE status IN ('started', 'submitted')) AS started,
  count(*) FILTER (WHERE status = 'submitted') AS submitted
FROM referrals
WHERE created_at >= :start AND created_at < :end
GROUP BY 1, 2
ORDER BY 1, 2
"""


async def _rows(session: AsyncSession, sql: str, params: dict[str, Any]) -> list[Any]:
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
FROM submissions s{scope.join()}
WHERE s.submitted_at >= :start AND s.submitted_at < :end{scope.where()}
GROUP BY 1, 2
"""  # noqa: S608


async def form_volumes(session: AsyncSession, scope: Scope) -> list[Any]:
    return await _rows(session, form_volumes_sql(scope), scope.params())
