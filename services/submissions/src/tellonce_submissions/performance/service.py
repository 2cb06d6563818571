"""Performance management for OPM: the measures per form, agency or priority over a period,
targets with red/amber/green, the weekly trend, and the referral funnel.

Privacy: only aggregates leave this module, and any figure resting on fewer than
``MIN_CELL`` applications is replaced by ``null`` (small-cell suppression)."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_shared.auth import Principal
from tellonce_shared.problems import NotFound, Problem
from tellonce_submissions.performance import repository
from tellonce_submissions.performance.catalog import CatalogClient, FormFacts
from tellonce_submissions.performance.models import PerformanceTarget
from tellonce_submissions.performance.periods import Period, parse_period
from tellonce_submissions.performance.repository import Scope
from tellonce_submissions.performance.schemas import (
    BacklogCell,
    Deliveries,
    Durations,
    FunnelReport,
    FunnelRow,
    GroupBy,
    GroupMeasures,
    PerformanceReport,
    Rag,
    TargetIn,
    TargetOut,
    TargetPage,
    TargetResult,
    WeekPoint,
)

MIN_CELL = 10
"""Fewer applications than this behind a figure: the figure is not shown."""
AMBER_BAND = 0.10
"""Within ten points below the target share is amber; further below is red."""
PRIORITIES = ("jobs-economy", "child-family", "transportation", "community-vitality")


class NeedsPostgreSQL(Problem):
    status, slug, title = 409, "needs-postgresql", "Needs PostgreSQL"


def rag(share_met: float | None, target_share: float | None) -> Rag | None:
    if share_met is None or target_share is None:
        return None
    if share_met >= target_share - 1e-9:
        return "green"
    if share_met >= target_share - AMBER_BAND - 1e-9:
        return "amber"
    return "red"


def _days(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 86400, 2)


def _durations(count: int, seconds: Sequence[float | None] | None) -> Durations:
    if count < MIN_CELL or not seconds:
        return Durations(count=None if count < MIN_CELL else count, median_days=None, p90_days=None)
    return Durations(count=count, median_days=_days(seconds[0]), p90_days=_days(seconds[1]))


def _share(part: int, whole: int) -> float | None:
    return None if whole < MIN_CELL else round(part / whole, 4)


def _target(due: int, met: int, target_share: float | None) -> TargetResult:
    if due < MIN_CELL or target_share is None:
        return TargetResult(
            due=None if due < MIN_CELL else due,
            met=None,
            share_met=None,
            target_share=None if target_share is None else round(target_share, 4),
            rag=None,
        )
    share = round(met / due, 4)
    return TargetResult(
        due=due,
        met=met,
        share_met=share,
        target_share=round(target_share, 4),
        rag=rag(share, target_share),
    )


class PerformanceService:
    def __init__(self, session: AsyncSession, *, catalog: CatalogClient, now: datetime) -> None:
        self.session = session
        self.catalog = catalog
        self.now = now

    def _require_postgresql(self) -> None:
        bind = self.session.get_bind()
        if bind.dialect.name != "postgresql":
            raise NeedsPostgreSQL(
                "Performance measures are computed by SQL aggregation that needs PostgreSQL "
                "(percentile_cont, FILTER, GROUPING SETS); this deployment runs on "
                f"{bind.dialect.name}."
            )

    async def report(
        self,
        *,
        period: str | None,
        group_by: GroupBy,
        agency: str | None = None,
        priority: str | None = None,
        form: str | None = None,
    ) -> PerformanceReport:
        self._require_postgresql()
        window = parse_period(period, self.now)
        as_of = min(window.end, self.now)
        catalog = await self.catalog.forms()
        forms = None
        if priority is not None:
            forms = sorted(slug for slug, f in catalog.items() if priority in f.priorities)
        mapping = [(slug, p) for slug, f in sorted(catalog.items()) for p in f.priorities]
        if priority is not None:
            mapping = [(f, p) for f, p in mapping if p == priority]
        scope = Scope(
            start=window.start,
            end=window.end,
            as_of=as_of,
            group_by=group_by,
            agency=agency,
            form=form,
            forms=forms,
            mapping=mapping,
        )
        measure_rows = await repository.measures(self.session, scope)
        backlog_rows = await repository.backlog(self.session, scope)
        delivery_rows = await repository.deliveries(self.session, scope)
        volumes = await repository.form_volumes(self.session, scope)
        uptake = _uptake_volumes(scope, catalog, volumes)
        return PerformanceReport(
            period=window.label,
            start=window.start,
            end=window.end,
            as_of=as_of,
            group_by=group_by,
            min_cell=MIN_CELL,
            groups=_groups(
                window, as_of, group_by, catalog, measure_rows, backlog_rows, delivery_rows, uptake
            ),
        )

    async def funnel(self, *, period: str | None) -> FunnelReport:
        self._require_postgresql()
        window = parse_period(period, self.now)
        rules = await self.catalog.all_rules()
        rows = await repository.funnel(self.session, window.start, window.end)
        counts = {
            (r["from_form"], r["to_form"]): (r["suggested"], r["started"], r["submitted"])
            for r in rows
        }
        # A row for every enabled rule's pair, whether or not anything happened in the
        # period (all counts 0, suppressed), so that a suppressed row does not tell that a
        # rare referral was made; and one for every pair with referrals in the period (a
        # rule since disabled or removed).
        pairs = sorted(set(counts) | {(rule.from_form, rule.to_form) for rule in rules})
        out = [_funnel_row(f, t, *counts.get((f, t), (0, 0, 0))) for f, t in pairs]
        # The total adds up the rows shown only: with the suppressed rows in it, one hidden
        # row would be the total less the rows shown.
        shown = [r for r in rows if r["suggested"] >= MIN_CELL]
        total = _funnel_row(
            "*",
            "*",
            sum(r["suggested"] for r in shown),
            sum(r["started"] for r in shown),
            sum(r["submitted"] for r in shown),
        )
        return FunnelReport(
            period=window.label,
            start=window.start,
            end=window.end,
            min_cell=MIN_CELL,
            rows=out,
            total=total,
        )

    async def targets(self) -> TargetPage:
        return TargetPage(items=[_target_out(t) for t in await repository.targets(self.session)])

    async def set_target(self, principal: Principal, form: str, body: TargetIn) -> TargetOut:
        catalog = await self.catalog.forms()
        if form not in catalog:
            raise NotFound(f"There is no form {form!r} in the catalog.")
        target = await repository.upsert_target(
            self.session, form, days=body.days, share=body.share, at=self.now, by=principal.sub
        )
        return _target_out(target)

    async def remove_target(self, principal: Principal, form: str) -> None:
        if not await repository.remove_target(self.session, form, at=self.now, by=principal.sub):
            raise NotFound(f"There is no target for {form!r}.")


def _target_out(t: PerformanceTarget) -> TargetOut:
    return TargetOut(
        form=t.form, days=t.days, share=t.share, updated_at=t.updated_at, updated_by=t.updated_by
    )


def _funnel_row(
    from_form: str, to_form: str, suggested: int, started: int, submitted: int
) -> FunnelRow:
    hidden = suggested < MIN_CELL
    return FunnelRow(
        from_form=from_form,
        to_form=to_form,
        suppressed=hidden,
        suggested=None if hidden else suggested,
        started=None if hidden else started,
        submitted=None if hidden else submitted,
    )


def _label(group_by: str, key: str, catalog: dict[str, FormFacts]) -> str:
    if group_by == "form" and key in catalog:
        return catalog[key].title
    return key


def _uptake_volumes(
    scope: Scope, catalog: dict[str, FormFacts], volumes: list[Any]
) -> dict[str, tuple[int, int]]:
    """Per group: (hub submissions in the period, yearly volume) over the group's forms that
    have a yearly volume in the catalog. The group's forms are those with submissions in the
    group in the period (``volumes``: one row per group and form) and, with none anywhere in
    the scope, the forms the catalog gives the group (its agency, its priorities) within the
    filters: they count with 0 submissions, so a quiet form lowers the uptake instead of
    vanishing from both sides."""
    members: dict[str, set[str]] = defaultdict(set)
    hub: dict[str, int] = defaultdict(int)
    for row in volumes:
        facts = catalog.get(row["form"])
        if facts is not None and facts.yearly_volume:
            members[row["grp"]].add(row["form"])
            hub[row["grp"]] += int(row["n"])
    with_rows = {row["form"] for row in volumes}
    for slug, facts in catalog.items():
        if not facts.yearly_volume or slug in with_rows:
            continue
        if scope.form is not None and slug != scope.form:
            continue
        if scope.agency is not None and facts.agency != scope.agency:
            continue
        if scope.forms is not None and slug not in scope.forms:
            continue
        if scope.group_by == "form":
            keys: Sequence[str] = [slug]
        elif scope.group_by == "agency":
            keys = [facts.agency]
        else:
            keys = sorted({p for f, p in scope.mapping if f == slug})
        for key in keys:
            members[key].add(slug)
    return {
        key: (hub[key], sum(catalog[slug].yearly_volume or 0 for slug in forms))
        for key, forms in members.items()
    }


def _complement(counts: Sequence[int], shown: Sequence[bool]) -> int | None:
    """Complementary suppression of one set of cells whose total is shown: the hidden cells
    are none, or at least two adding up to ``MIN_CELL`` or more (their sum is the total less
    the cells shown: a sum under ``MIN_CELL`` is a small cell too); zeros do not count. Returns
    the index of the next cell to hide (the smallest shown, the first of equal ones), or
    None."""
    total = len(counts)
    sets: list[tuple[int | None, list[int]]] = [(None, list(range(total)))]
    return _next_to_hide(sets, counts, shown, [0] * total)


def _next_to_hide(
    sets: Sequence[tuple[int | None, Sequence[int]]],
    counts: Sequence[int],
    shown: Sequence[bool],
    rank: Sequence[int],
) -> int | None:
    """The first cell to hide for the first set not protected, or None when all are. A set
    is ``(total, parts)``: the parts add up to the total, a cell (``None``: the group's
    volume, always shown). With the total shown, the hidden parts must be none, or two or
    more adding up to ``MIN_CELL`` or more; with the total hidden, at least one part must be
    hidden too (else the total is the sum of the parts). Zeros are left out: a hidden zero
    (a count under ``MIN_CELL`` like any other) has no one in it to protect and hiding one
    protects nothing. The cell hidden is the shown part
    of lowest ``rank``, then smallest count, then first; with no part left, the total."""
    for total, parts in sets:
        # a zero is not protected (no one is in it) and protects nothing
        hidden = [i for i in parts if not shown[i] and counts[i] > 0]
        if total is not None and not shown[total]:
            protected = counts[total] == 0 or bool(hidden)
        else:
            protected = not hidden or (
                len(hidden) >= 2 and sum(counts[i] for i in hidden) >= MIN_CELL
            )
        if protected:
            continue
        candidates = [(rank[i], counts[i], i) for i in parts if shown[i] and counts[i] > 0]
        if candidates:
            return min(candidates)[2]
        if total is not None and shown[total]:
            return total
    return None


@dataclass(frozen=True, slots=True)
class Shown:
    """Which counts of a shown group are shown after complementary suppression
    (``_protect``)."""

    responded: bool
    decided: bool
    backlog: list[bool]
    decided_weeks: list[bool]


def _protect(
    responded: int,
    decided: int,
    cells: Sequence[tuple[str, int]],
    decided_weeks: Sequence[tuple[int, bool]],
) -> Shown:
    """Complementary suppression over every set of counts of one shown group that adds up
    (docs/performance-management.md, Small-cell suppression). The counts: ``responded``
    (R), ``decided`` (D), the backlog cells ``(status, n)`` and the weeks' decided counts
    ``(n, shown)`` (a week hidden whole, or with fewer than ``MIN_CELL`` decided, is not
    shown). The sets, with V the group's volume (always shown):

    - V = D + every backlog cell (the backlog is the cohort not decided by ``as_of``);
    - V = R + the ``submitted`` cells (an application no agency has answered is open and
      still ``submitted``);
    - R = D + the other cells (the difference of the two above);
    - D = the weeks' decided counts;
    - and the last one put into the first and third, for when D is hidden:
      V = the weeks' decided + every cell, R = the weeks' decided + the other cells.

    These are all the ways the shown counts add up, so when each set is protected no hidden
    count is the sum or difference of shown ones. Hidden first: backlog cells, then a
    week's decided count, then R, then D (a headline figure, and hiding it hides the
    target's counts too)."""
    r, d = 0, 1
    b = list(range(2, 2 + len(cells)))
    w = list(range(2 + len(cells), 2 + len(cells) + len(decided_weeks)))
    sub = [i for i, (status, _) in zip(b, cells, strict=True) if status == "submitted"]
    other = [i for i in b if i not in sub]
    counts = [responded, decided] + [n for _, n in cells] + [n for n, _ in decided_weeks]
    shown = [responded >= MIN_CELL, decided >= MIN_CELL] + [n >= MIN_CELL for _, n in cells]
    shown += [ok for _, ok in decided_weeks]
    rank = [2, 3] + [0] * len(b) + [1] * len(w)
    sets: list[tuple[int | None, Sequence[int]]] = [
        (None, [d, *b]),
        (None, [r, *sub]),
        (r, [d, *other]),
        (d, w),
        (None, w + b),
        (r, w + other),
    ]
    while (extra := _next_to_hide(sets, counts, shown, rank)) is not None:
        shown[extra] = False
    return Shown(shown[r], shown[d], [shown[i] for i in b], [shown[i] for i in w])


def _groups(
    window: Period,
    as_of: datetime,
    group_by: str,
    catalog: dict[str, FormFacts],
    measure_rows: list[Any],
    backlog_rows: list[Any],
    delivery_rows: list[Any],
    uptake_volumes: dict[str, tuple[int, int]],
) -> list[GroupMeasures]:
    totals: dict[str, Any] = {}
    weeks: dict[str, list[Any]] = defaultdict(list)
    for row in measure_rows:
        if row["kind"] == "total":
            totals[row["grp"]] = row
        else:
            weeks[row["grp"]].append(row)
    cells: dict[str, list[Any]] = defaultdict(list)
    for row in backlog_rows:
        cells[row["grp"]].append(row)
    delivered = {row["grp"]: row for row in delivery_rows}
    elapsed_days = max((as_of - window.start).total_seconds() / 86400, 0.0)
    result = []
    for key in sorted(set(totals) | set(cells)):
        row = totals.get(key)
        volume = int(row["volume"]) if row is not None else 0
        hidden = volume < MIN_CELL
        hub, yearly_sum = uptake_volumes.get(key, (0, 0))
        yearly = yearly_sum or None
        uptake = None
        if not hidden and yearly and elapsed_days > 0:
            uptake = round(hub / (yearly * elapsed_days / 365), 4)
        d = delivered.get(key)
        if hidden or row is None:
            result.append(
                GroupMeasures(
                    key=key,
                    label=_label(group_by, key, catalog),
                    suppressed=True,
                    volume=None,
                    first_response=Durations(count=None, median_days=None, p90_days=None),
                    decision=Durations(count=None, median_days=None, p90_days=None),
                    needs_info_share=None,
                    # not even which (status, age) cells are not empty: on a short period
                    # and one form, they follow a lone application from status to status
                    backlog=[],
                    deliveries=Deliveries(
                        total=None,
                        dead_letters=None,
                        median_minutes_to_deliver=None,
                        p90_minutes_to_deliver=None,
                    ),
                    yearly_volume=yearly,
                    digital_uptake=None,
                    target=_target(0, 0, None),
                    trend=[],
                )
            )
            continue
        first_response = _durations(row["responded"], row["response_s"])
        decision = _durations(row["decided"], row["decision_s"])
        target = _target(row["due"], row["met"], row["target_share"])
        group_cells = cells.get(key, [])
        counts = [(str(c["status"]), int(c["n"])) for c in group_cells]
        trend = _trend(weeks.get(key, []))
        decided_weeks = [
            (int(w["decided"]), p.decided is not None)
            for w, p in zip(weeks.get(key, []), trend, strict=True)
        ]
        shown = _protect(int(row["responded"]), int(row["decided"]), counts, decided_weeks)
        if not shown.responded:
            first_response = first_response.model_copy(update={"count": None})
        if not shown.decided:
            decision = decision.model_copy(update={"count": None})
            # due = decided + open past the target's days (with the cells' ages, often
            # known): due, and met with share_met = met / due, would give decided back
            target = target.model_copy(update={"due": None, "met": None, "share_met": None})
        for i, ok in enumerate(shown.decided_weeks):
            if not ok and trend[i].decided is not None:
                trend[i] = trend[i].model_copy(
                    update={"decided": None, "median_days_to_decision": None}
                )
        result.append(
            GroupMeasures(
                key=key,
                label=_label(group_by, key, catalog),
                suppressed=False,
                volume=volume,
                first_response=first_response,
                decision=decision,
                needs_info_share=_share(row["needed_info"], volume),
                backlog=_backlog(group_cells, shown.backlog),
                deliveries=_deliveries(d),
                yearly_volume=yearly,
                digital_uptake=uptake,
                target=target,
                trend=trend,
            )
        )
    return result


def _backlog(cells: list[Any], shown: Sequence[bool]) -> list[BacklogCell]:
    """The open applications of a shown group (volume less decided) split into cells, each
    shown or not as ``_protect`` decided. A suppressed group lists no cell at all; that
    takes no figure away from any set that adds up across groups (there is none: each
    group's cells add up to that group's own open applications only)."""
    return [
        BacklogCell(status=c["status"], age=c["age"], count=int(c["n"]) if ok else None)
        for c, ok in zip(cells, shown, strict=True)
    ]


def _trend(rows: list[Any]) -> list[WeekPoint]:
    """The weeks of a shown group. The weeks' volumes add up to the group's volume: a
    hidden week is covered as in any set (``_complement``: the next week is hidden whole).
    Their decided counts add up to the group's ``decision.count``: that set is protected
    with the group's other counts (``_protect``)."""
    points = [_week(w) for w in rows]
    volumes = [int(w["volume"]) for w in rows]
    while (extra := _complement(volumes, [p.volume is not None for p in points])) is not None:
        points[extra] = _hidden_week(points[extra].week)
    return points


def _hidden_week(week: Any) -> WeekPoint:
    return WeekPoint(
        week=week,
        volume=None,
        decided=None,
        median_days_to_decision=None,
        share_met=None,
        rag=None,
    )


def _deliveries(row: Any) -> Deliveries:
    total = int(row["total"]) if row is not None else 0
    if total < MIN_CELL:
        return Deliveries(
            total=None,
            dead_letters=None,
            median_minutes_to_deliver=None,
            p90_minutes_to_deliver=None,
        )
    seconds = row["deliver_s"] or [None, None]
    return Deliveries(
        total=total,
        dead_letters=int(row["dead"]),
        median_minutes_to_deliver=None if seconds[0] is None else round(seconds[0] / 60, 2),
        p90_minutes_to_deliver=None if seconds[1] is None else round(seconds[1] / 60, 2),
    )


def _week(row: Any) -> WeekPoint:
    volume = int(row["volume"])
    if volume < MIN_CELL:
        return _hidden_week(row["week"])
    decision = _durations(row["decided"], row["decision_s"])
    target = _target(row["due"], row["met"], row["target_share"])
    return WeekPoint(
        week=row["week"],
        volume=volume,
        decided=decision.count,
        median_days_to_decision=decision.median_days,
        share_met=target.share_met,
        rag=target.rag,
    )


CSV_COLUMNS = (
    "group_by", "key", "label", "suppressed", "volume",
    "first_response_count", "first_response_median_days", "first_response_p90_days",
    "decision_count", "decision_median_days", "decision_p90_days",
    "needs_info_share", "backlog_open", "deliveries", "dead_letters",
    "median_minutes_to_deliver", "p90_minutes_to_deliver", "yearly_volume", "digital_uptake",
    "target_due", "target_met", "share_met", "target_share", "rag",
)  # fmt: skip


def report_csv(report: PerformanceReport) -> str:
    """One line per group (the weekly trend and backlog cells stay in the JSON)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for g in report.groups:
        shown = [c.count for c in g.backlog if c.count is not None]
        writer.writerow(
            [
                report.group_by,
                g.key,
                g.label,
                g.suppressed,
                g.volume,
                g.first_response.count,
                g.first_response.median_days,
                g.first_response.p90_days,
                g.decision.count,
                g.decision.median_days,
                g.decision.p90_days,
                g.needs_info_share,
                sum(shown) if shown else None,
                g.deliveries.total,
                g.deliveries.dead_letters,
                g.deliveries.median_minutes_to_deliver,
                g.deliveries.p90_minutes_to_deliver,
                g.yearly_volume,
                g.digital_uptake,
                g.target.due,
                g.target.met,
                g.target.share_met,
                g.target.target_share,
                g.target.rag,
            ]
        )
    return buffer.getvalue()
