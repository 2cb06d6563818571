"""The measure queries over ``submission_facts`` (one row of milestones per application, kept
by ``facts.py``): SQL aggregation on PostgreSQL (``percentile_cont`` for medians and
90th percentiles, ``GROUPING SETS`` for the group and its weekly trend in one pass). Rows are
never loaded into Python; only one row per group, week or backlog cell comes back.

Grouping: ``form`` and ``agency`` (the owning agency stored on each submission) are columns;
``priority`` uses a (form, priority) mapping taken from the registry and passed as two
arrays, so a form tagged with two priorities counts in both. The measures and deliveries
are computed group by group from covering indexes in (group, week) order (see
docs/performance-management.md, "Database and speed")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_submissions.performance.models import PerformanceTarget, PerformanceTargetChange

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


MEASURE_COLUMNS = """
  count(*) AS volume,
  count(response_s) AS responded,
  percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY response_s) AS response_s,
  count(decision_s) AS decided,
  percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY decision_s) AS decision_s,
  count(*) FILTER (WHERE needed_info) AS needed_info,
  count(*) FILTER (WHERE due) AS due,
  count(*) FILTER (WHERE due AND met) AS met,
  avg(share) FILTER (WHERE due) AS target_share"""
"""The aggregates of one group or week (``percentile_cont`` ignores the NULLs of
applications without the milestone by ``as_of``)."""

TARGETS = """(
  SELECT t.form, t.form AS target_form, t.share, t.days * 86400.0 AS days_s,
    CAST(:as_of AS timestamptz) - t.days * interval '1 day' AS late_before
  FROM (
    SELECT DISTINCT ON (h.form) h.form, h.days, h.share
    FROM performance_target_history h
    WHERE h.effective_from <= :as_of
    ORDER BY h.form, h.effective_from DESC, h.id DESC
  ) t
  WHERE t.share IS NOT NULL
)"""
"""Per form with a target in force at ``as_of`` (the latest change by then, unless it was a
removal): the share, the allowed time in seconds (24-hour days) and the submission time
before which an undecided application is late at ``as_of``. A target set or changed later
does not recolour the period."""


def _judged_rows(where: str, target: str | None) -> str:
    """One row per application of the scope: its week, durations reached by ``as_of`` (NULL
    otherwise) and its judgement against its form's target: ``target`` names the outer row
    holding it when all rows share one form; ``None`` looks it up per row."""
    t = target or "t"
    join = "" if target else f" LEFT JOIN {TARGETS} t ON t.form = s.form"
    return f"""
    SELECT s.week,
      CASE WHEN s.responded_at <= :as_of THEN s.response_s END AS response_s,
      CASE WHEN s.decided_at <= :as_of THEN s.decision_s END AS decision_s,
      coalesce(s.needs_info_at <= :as_of, false) AS needed_info,
      {t}.share,
      {t}.target_form IS NOT NULL
        AND (s.decided_at <= :as_of OR s.submitted_at < {t}.late_before) AS due,
      s.decided_at <= :as_of AND s.decision_s <= {t}.days_s AS met
    FROM submission_facts s{join}
    WHERE {where}{FACTS_IN_PERIOD}"""  # noqa: S608


FACTS_IN_PERIOD = """
      AND s.week >= CAST(date_trunc('week', CAST(:start AS timestamptz) AT TIME ZONE 'UTC') AS date)
      AND s.week <= CAST(date_trunc('week', CAST(:end AS timestamptz) AT TIME ZONE 'UTC') AS date)
      AND s.submitted_at >= :start AND s.submitted_at < :end"""
"""The period on ``submission_facts s``: its weeks (an index range) and its exact bounds."""


def _keys_cte(scope: Scope) -> str:
    """The groups: by form or agency, the distinct values of the column, found by skipping
    through its index (one probe per value); by priority, each priority with its forms."""
    if scope.group_by == "priority":
        return """keys AS (
  SELECT priority AS grp, array_agg(form) AS forms
  FROM (SELECT unnest(CAST(:map_forms AS text[])) AS form,
    unnest(CAST(:map_priorities AS text[])) AS priority) m
  GROUP BY priority
)"""
    column = {"form": "form", "agency": "owning_agency"}[scope.group_by]
    return f"""keys AS (
  (SELECT {column} AS grp FROM submission_facts ORDER BY {column} LIMIT 1)
  UNION ALL
  SELECT (SELECT s.{column} FROM submission_facts s WHERE s.{column} > k.grp
    ORDER BY s.{column} LIMIT 1)
  FROM keys k WHERE k.grp IS NOT NULL
)"""  # noqa: S608


def group_keys_sql(scope: Scope) -> str:
    """The distinct forms or owning agencies that have facts (any period)."""
    return f"WITH RECURSIVE {_keys_cte(scope)} SELECT grp FROM keys WHERE grp IS NOT NULL"  # noqa: S608


def measures_sql(scope: Scope, groups: Sequence[tuple[str, Sequence[str]]]) -> str:
    """The period's rows of ``submission_facts`` (one per application, with its milestones
    and their durations), grouped two ways (``kind``): ``total`` per group and ``week`` per
    group and week of submission. Milestones after ``as_of`` are ignored.

    ``groups``: (key, forms) per group (forms only for priorities); bound as ``:g<i>`` and
    ``:f<i>`` (see ``measures_params``). One branch of a ``UNION ALL`` per group, so that
    PostgreSQL can give branches to parallel workers (a Parallel Append), and each group's
    rows come from index ranges of ``ix_submission_facts_form_week`` / ``..._agency_week``
    (index-only, already in week order for a form or an agency: no sort, no heap page
    read). By form or priority, each form's range is read with its target as a constant;
    a priority's rows (several forms) are sorted by week in memory."""
    # only fixed fragments of Scope and parameter names (never request text) are interpolated
    branches = []
    for i, _ in enumerate(groups):
        if scope.group_by == "agency":
            rows = _judged_rows(f"s.owning_agency = :g{i}" + scope.where(), None)
        else:
            per_form = _judged_rows("s.form = f.form" + scope.where(), "f")
            rows = f"""SELECT r.* FROM (SELECT u.form, t.target_form, t.share, t.days_s,
      t.late_before FROM unnest(CAST(:f{i} AS text[])) AS u(form)
      LEFT JOIN {TARGETS} t ON t.form = u.form) f
    CROSS JOIN LATERAL ({per_form}
    ) r"""  # noqa: S608
        branches.append(f"""(
  SELECT CAST(:g{i} AS text) AS grp, week,
    CASE WHEN GROUPING(week) = 0 THEN 'week' ELSE 'total' END AS kind,
{MEASURE_COLUMNS}
  FROM ({rows}
  ) r
  GROUP BY GROUPING SETS ((), (week))
  HAVING count(*) > 0
)""")  # noqa: S608
    if not branches:
        return "SELECT NULL AS grp WHERE false"
    union = "\nUNION ALL\n".join(branches)
    return f"SELECT * FROM ({union}) m\nORDER BY grp, week NULLS FIRST"  # noqa: S608


def measures_params(scope: Scope, groups: Sequence[tuple[str, Sequence[str]]]) -> dict[str, Any]:
    params = scope.params()
    for i, (key, forms) in enumerate(groups):
        params[f"g{i}"] = key
        params[f"f{i}"] = list(forms)
    return params


def backlog_sql(scope: Scope) -> str:
    """The period's applications still open at ``as_of``, by status at ``as_of`` and age in
    completed days at ``as_of`` (7 days 23 hours is ``0-7d``, 8 days ``8-30d``, 30.5 days
    ``8-30d``, 31 days ``31-90d``, 91 days ``90d+``).
    The status is the stored latest one unless that came later; only then is the
    application's timeline read, the owning agency's events only, as the facts count them (a
    receiving agency's status posts are its own handling, not the application's state)."""
    # only fixed fragments of Scope (never request text) are interpolated
    return f"""
WITH open AS (
  SELECT s.submitted_at, {scope.key()} AS grp,
    CASE WHEN s.last_at <= :as_of THEN s.last_status
         ELSE coalesce((SELECT e.status FROM submission_events e
           WHERE e.submission_id = s.submission_id AND e.at <= :as_of
             AND (e.agency IS NULL OR e.agency = s.owning_agency)
           ORDER BY e.at DESC, e.id DESC LIMIT 1), 'submitted') END AS status
  FROM submission_facts s{scope.join()}
  WHERE s.submitted_at >= :start AND s.submitted_at < :end{scope.where()}
    AND s.submitted_at <= :as_of AND (s.decided_at IS NULL OR s.decided_at > :as_of)
)
SELECT grp, status,
  CASE WHEN submitted_at > :as_of - interval '8 days' THEN '0-7d'
       WHEN submitted_at > :as_of - interval '31 days' THEN '8-30d'
       WHEN submitted_at > :as_of - interval '91 days' THEN '31-90d'
       ELSE '90d+' END AS age,
  count(*) AS n
FROM open
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
"""  # noqa: S608


DELIVERY_COLUMNS = """
  count(*) AS total,
  count(*) FILTER (WHERE d.status = 'dead') AS dead,
  percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP
    (ORDER BY date_part('epoch', coalesce(d.delivered_at, d.acked_at) - d.created_at))
    AS deliver_s"""


def _form_keys(table: str) -> str:
    """The distinct forms of ``table``, one index probe each (``form`` leads an index)."""
    return f"""form_keys AS (
  (SELECT form AS grp FROM {table} ORDER BY form LIMIT 1)
  UNION ALL
  SELECT (SELECT x.form FROM {table} x WHERE x.form > k.grp ORDER BY x.form LIMIT 1)
  FROM form_keys k WHERE k.grp IS NOT NULL
)"""  # noqa: S608


OWNERS_CTE = f"""owners AS (
  SELECT f.grp AS form, o.agency, EXISTS (SELECT 1 FROM submission_facts s
    WHERE s.form = f.grp AND s.owning_agency <> o.agency{FACTS_IN_PERIOD}) AS shared
  FROM form_keys f CROSS JOIN LATERAL (
    SELECT s.owning_agency AS agency FROM submission_facts s
    WHERE s.form = f.grp{FACTS_IN_PERIOD}
    LIMIT 1
  ) o
  WHERE f.grp IS NOT NULL
), agencies AS (
  SELECT grp,
    coalesce(array_agg(form) FILTER (WHERE NOT shared), '{{}}') AS sole,
    coalesce(array_agg(form) FILTER (WHERE shared), '{{}}') AS shared
  FROM (
    SELECT agency AS grp, form, false AS shared FROM owners WHERE NOT shared
    UNION
    SELECT s.owning_agency, o.form, true FROM owners o
    JOIN submission_facts s ON s.form = o.form{FACTS_IN_PERIOD}
    WHERE o.shared
  ) x
  GROUP BY grp
)"""  # noqa: S608
"""Which agencies owned each form's applications of the period (read from the facts' form
index: one probe per form, and a scan of its range that finds no other owner), and per
agency the forms it owned alone and those it shared with another."""


def _owned_by(row: str, agency: str) -> str:
    """Condition on delivery ``d`` of one of the forms of ``agencies`` row ``row``: its
    submission is owned by ``agency``; looked up only for a form with several owners."""
    # only fixed fragments (aliases, a bind parameter name) are interpolated
    lookup = (
        "SELECT s.owning_agency FROM submission_facts s WHERE s.submission_id = d.submission_id"
    )
    return f" AND (d.form <> ALL({row}.shared) OR ({lookup}) = {agency})"


def deliveries_sql(scope: Scope) -> str:
    """Deliveries of the period's submissions, in their current state. A delivery carries
    its submission's form and submission time (copied when the outbox row is written), so
    the cohort is read group by group from ``ix_deliveries_form_submitted_at`` (index-only,
    no sort of the rows).

    The owning agency (to group or filter by agency) is not on the delivery: a form owned
    by one agency throughout the period (the rule) gives it to all its deliveries; only
    for a form that changed hands in the period is each delivery's submission looked up."""
    # only fixed fragments of Scope (never request text) are interpolated
    where = " AND d.submitted_at >= :start AND d.submitted_at < :end"
    if scope.form is not None:
        where += " AND d.form = :form"
    if scope.forms is not None:
        where += " AND d.form = ANY(CAST(:forms AS text[]))"
    ctes = []
    if scope.group_by == "agency" or scope.agency is not None:
        ctes += [_form_keys("submission_facts"), OWNERS_CTE]
    if scope.group_by == "agency":
        keys = "agencies a"
        if scope.agency is not None:
            keys += " WHERE a.grp = :agency"
        keys = f"(SELECT a.grp, a.sole, a.shared FROM {keys}) k"  # noqa: S608
        match = "= ANY(k.sole || k.shared)" + _owned_by("k", "k.grp")
    else:
        if scope.group_by == "form":
            ctes.append(_form_keys("deliveries").replace("form_keys", "keys"))
            match = "= k.grp"
        else:
            ctes.append(_keys_cte(scope))
            match = "= ANY(k.forms)"
        keys = "keys k"
        if scope.agency is not None:
            keys += " CROSS JOIN (SELECT * FROM agencies WHERE grp = :agency) a"
            match += " AND d.form = ANY(a.sole || a.shared)" + _owned_by("a", ":agency")
    return f"""
WITH RECURSIVE {", ".join(ctes)}
SELECT k.grp, x.*
FROM {keys} CROSS JOIN LATERAL (
  SELECT {DELIVERY_COLUMNS}
  FROM deliveries d
  WHERE d.form {match}{where}
  HAVING count(*) > 0
) x
WHERE k.grp IS NOT NULL
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


WORK_MEM = "64MB"
"""Memory each sort of a measure query may use before spilling to disk (the percentile of a
priority over two years sorts about 300,000 durations): set for these queries only."""


async def _rows(session: AsyncSession, sql: str, params: dict[str, Any]) -> list[Any]:
    # These queries are costed high (percentiles over many rows), which tempts PostgreSQL to
    # JIT-compile them: that compilation alone took longer than the query in the benchmark.
    await session.execute(text("SET LOCAL jit = off"))
    await session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
    return list((await session.execute(text(sql), params)).mappings())


async def measures(session: AsyncSession, scope: Scope) -> list[Any]:
    groups: list[tuple[str, Sequence[str]]]
    if scope.group_by == "priority":
        by_priority: dict[str, list[str]] = {}
        for form, priority in scope.mapping:
            by_priority.setdefault(priority, []).append(form)
        groups = sorted(by_priority.items())
    else:
        keys = await session.execute(text(group_keys_sql(scope)))
        groups = [(key, [key]) for key in keys.scalars()]
    # One branch per group: let the planner hand branches to parallel workers (a Parallel
    # Append), which its default costs judge not worth starting for a few hundred rows out;
    # reset afterwards, so that the report's other queries are planned as usual.
    await session.execute(text("SET LOCAL parallel_setup_cost = 0"))
    await session.execute(text("SET LOCAL parallel_tuple_cost = 0"))
    rows = await _rows(session, measures_sql(scope, groups), measures_params(scope, groups))
    await session.execute(text("RESET parallel_setup_cost"))
    await session.execute(text("RESET parallel_tuple_cost"))
    return rows


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


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""When a form's first target is in force from: every period before it is judged against it
(OPM sets a target and sees the past quarters against it); later changes are in force from
when they are made."""


async def upsert_target(
    session: AsyncSession, form: str, *, days: int, share: float, at: datetime, by: str
) -> PerformanceTarget:
    """Set a form's target in one statement (``INSERT ... ON CONFLICT (form) DO UPDATE``), so
    that two first writes for the same form at once both succeed (the last one wins) instead
    of one failing on the primary key."""
    values = {"form": form, "days": days, "share": share, "updated_at": at, "updated_by": by}
    changes = {k: v for k, v in values.items() if k != "form"}
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(PerformanceTarget)
        .values(**values)
        .on_conflict_do_update(index_elements=[PerformanceTarget.form], set_=changes)
        .returning(PerformanceTarget)
        .execution_options(populate_existing=True)
    )
    target: PerformanceTarget = (await session.scalars(statement)).one()
    latest = await _latest_change(session, form)
    session.add(
        PerformanceTargetChange(
            form=form,
            days=days,
            share=share,
            effective_from=EPOCH if latest is None else max(at, latest),
            set_by=by,
        )
    )
    return target


async def _latest_change(session: AsyncSession, form: str) -> datetime | None:
    """When the form's latest target change took effect (None: it never had a target).

    Read after the statement that locked the form's target row (the upsert, or the delete),
    so in a statement of its own it sees what a write that held the lock before committed:
    a change takes effect no earlier than the one before it. ``at`` is the request's clock,
    read before the lock: without this, a PUT and a DELETE of one form at once could leave
    the current target and the history the reports judge by saying different things."""
    latest = await session.scalar(
        select(func.max(PerformanceTargetChange.effective_from)).where(
            PerformanceTargetChange.form == form
        )
    )
    if latest is not None and latest.tzinfo is None:  # SQLite drops the zone
        latest = latest.replace(tzinfo=UTC)
    return latest


async def remove_target(session: AsyncSession, form: str, *, at: datetime, by: str) -> int:
    """Remove a form's current target; its history keeps a removal from ``at`` on, so the
    periods before it are still judged against the target they had."""
    result = await session.execute(delete(PerformanceTarget).where(PerformanceTarget.form == form))
    removed = int(getattr(result, "rowcount", 0) or 0)
    if removed:
        latest = await _latest_change(session, form)
        effective = at if latest is None else max(at, latest)
        session.add(
            PerformanceTargetChange(
                form=form, days=None, share=None, effective_from=effective, set_by=by
            )
        )
    return removed


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
