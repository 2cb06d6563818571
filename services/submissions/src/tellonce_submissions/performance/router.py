"""Performance routes (OPM: auditors and admins). JSON by default; CSV with
``Accept: text/csv`` or ``?format=csv``."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Response

from tellonce_shared.auth import Principal, require_roles
from tellonce_shared.params import Text
from tellonce_submissions.context import ClockDep
from tellonce_submissions.deps import SessionDep
from tellonce_submissions.performance.catalog import CatalogDep
from tellonce_submissions.performance.schemas import (
    FunnelReport,
    GroupBy,
    PerformanceReport,
    TargetIn,
    TargetOut,
    TargetPage,
)
from tellonce_submissions.performance.service import PerformanceService, report_csv

router = APIRouter(prefix="/api/v1/performance", tags=["performance"])

Opm = Annotated[Principal, require_roles("auditor", "admin")]
Priority = Literal["jobs-economy", "child-family", "transportation", "community-vitality"]
PeriodQuery = Annotated[
    str | None, Query(max_length=16, description="YYYY, YYYY-Qn, YYYY-MM or last-Nd")
]
FormSlug = Annotated[Text, Path(description="the form's slug")]


def _service(session: SessionDep, catalog: CatalogDep, clock: ClockDep) -> PerformanceService:
    return PerformanceService(session, catalog=catalog, now=clock())


Performance = Annotated[PerformanceService, Depends(_service)]


@router.get("", response_model=PerformanceReport, responses={409: {}, 422: {}})
async def get_performance(
    principal: Opm,
    performance: Performance,
    period: PeriodQuery = None,
    group_by: GroupBy = "form",
    agency: Annotated[Text | None, Query(max_length=32)] = None,
    priority: Priority | None = None,
    form: Annotated[Text | None, Query(max_length=128)] = None,
    format: Literal["json", "csv"] | None = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """Every measure per group over the period; small groups are suppressed."""
    report = await performance.report(
        period=period, group_by=group_by, agency=agency, priority=priority, form=form
    )
    wants_csv = format == "csv" or (
        format is None and accept is not None and "text/csv" in accept.lower()
    )
    if wants_csv:
        # the period is normalised (ASCII) by parse_period; keep the header plain regardless
        name = re.sub(r"[^A-Za-z0-9-]", "", f"performance-{report.period}-{group_by}")
        return Response(
            report_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return Response(report.model_dump_json(), media_type="application/json")


@router.get("/referrals", response_model=FunnelReport, responses={409: {}, 422: {}})
async def get_referral_funnel(
    principal: Opm, performance: Performance, period: PeriodQuery = None
) -> FunnelReport:
    """Referral funnel counts (suggested, started, submitted); never answers."""
    return await performance.funnel(period=period)


@router.get("/targets", response_model=TargetPage)
async def list_targets(principal: Opm, performance: Performance) -> TargetPage:
    return await performance.targets()


@router.put("/targets/{form}", response_model=TargetOut, responses={404: {}, 422: {}})
async def put_target(
    form: FormSlug,
    body: TargetIn,
    principal: Opm,
    performance: Performance,
) -> TargetOut:
    """Set (or replace) a form's target: decide within ``days`` for ``share`` of them."""
    return await performance.set_target(principal, form, body)


@router.delete("/targets/{form}", status_code=204, responses={404: {}})
async def delete_target(form: FormSlug, principal: Opm, performance: Performance) -> Response:
    await performance.remove_target(principal, form)
    return Response(status_code=204)
