"""OPM's performance dashboard: the service measures per form, agency or priority with
charts, filters by priority, agency and period, targets red/amber/green, the weekly trend and
the referral funnel. A client of the gateway API like every portal page; figures the API
suppresses (fewer than 10 applications) show as a dash."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from starlette.responses import Response

from tellonce_portal.api import ApiError, Gateway
from tellonce_portal.dashboard.charts import funnel_bars, shape
from tellonce_portal.dashboard.referrals import router as referrals_router
from tellonce_portal.deps import PageDep
from tellonce_portal.i18n import Translator, utc_instant

router = APIRouter()
router.include_router(referrals_router)

PRIORITIES = ("jobs-economy", "child-family", "transportation", "community-vitality")
PERIOD = re.compile(r"^(\d{4}(-Q[1-4]|-(0[1-9]|1[0-2]))?|last-[1-9]\d{0,3}d)$")
GroupBy = Literal["form", "agency", "priority"]


async def _get(api: Gateway, path: str, params: dict[str, Any]) -> dict[str, Any]:
    body = await api._call("GET", path, params=params)
    return body if isinstance(body, dict) else {}


@router.get("/dashboard")
async def dashboard(
    ctx: PageDep,
    period: Annotated[str, Query(max_length=16)] = "last-90d",
    group_by: GroupBy = "agency",
    priority: Annotated[str, Query(max_length=32)] = "",
    agency: Annotated[str, Query(max_length=32)] = "",
) -> Response:
    ctx.require("auditor", "admin")
    errors: list[tuple[str, str]] = []
    if not PERIOD.match(period):
        errors.append(("period", ctx.t("bad_period")))
        period = "last-90d"
    if priority and priority not in PRIORITIES:
        errors.append(("priority", ctx.t("bad_priority")))
        priority = ""
    params = {"period": period, "group_by": group_by, "priority": priority, "agency": agency}
    api = await ctx.api()
    report: dict[str, Any] = {}
    funnel: dict[str, Any] | None = None
    """The referral funnel as the API answered it; None when it refused (then the page never
    says there were no referrals)."""
    needs_postgresql = False
    try:
        report = await _get(api, "/api/v1/performance", params)
    except ApiError as exc:
        if _needs_postgresql(exc):
            needs_postgresql = True
        else:
            errors.append(("period", exc.detail or ctx.t("measures_failed")))
    if not needs_postgresql:
        try:
            funnel = await _get(api, "/api/v1/performance/referrals", {"period": period})
        except ApiError as exc:
            if _needs_postgresql(exc):
                needs_postgresql = True
            elif report:
                errors.append(("period", exc.detail or ctx.t("referrals_failed")))
    rows = [r for r in (funnel or {}).get("rows") or [] if isinstance(r, dict)]
    total = (funnel or {}).get("total")
    total = total if isinstance(total, dict) else None
    return ctx.render(
        "dashboard/performance.html",
        status=422 if errors and not report else 200,
        errors=errors,
        needs_postgresql=needs_postgresql,
        report=report,
        period_range=period_range(ctx.t, report),
        groups=shape(report),
        funnel_known=funnel is not None,
        funnel_rows=[{**r, "bars": funnel_bars(r)} for r in rows],
        funnel_total={**total, "bars": funnel_bars(total)} if total else None,
        funnel_min_cell=(funnel or {}).get("min_cell") or 10,
        filters=params,
        priorities=PRIORITIES,
        csv_query="&".join(f"{k}={v}" for k, v in params.items() if v),
    )


def _needs_postgresql(exc: ApiError) -> bool:
    """The API's 409 ``needs-postgresql``: this deployment (the SQLite demo) cannot compute the
    measures. Not an error of the auditor's: the page says so plainly."""
    return exc.status == 409 and str(exc.body.get("type") or "").endswith("/needs-postgresql")


def period_range(t: Translator, report: dict[str, Any]) -> str:
    """ "From 1 January 2026 to 31 December 2026." for the period 2026. The API's period is
    half-open ``[start, end)`` in UTC. A calendar period (a year, quarter or month: both ends
    at midnight UTC) is shown as the API counts it, by its UTC days, the last one being the
    day before ``end`` (in Eastern Time 2026 would start on "31 December 2025"). A rolling
    period (``last-Nd``, ending now) is shown by the Eastern dates of its two moments, as
    every other date in the portal."""
    start, end = _instant(report.get("start")), _instant(report.get("end"))
    if start is None or end is None:
        return ""
    if _midnight(start) and _midnight(end) and end > start:
        last = end - timedelta(days=1)
        return t("perf_range", start=t.day(start.date()), end=t.day(last.date()))
    return t("perf_range", start=t.date(report.get("start")), end=t.date(report.get("end")))


def _midnight(moment: datetime) -> bool:
    return moment.time() == time(0)


def _instant(value: Any) -> datetime | None:
    return utc_instant(value) if isinstance(value, str) else None


@router.get("/dashboard/performance.csv")
async def dashboard_csv(
    ctx: PageDep,
    period: Annotated[str, Query(max_length=16)] = "last-90d",
    group_by: GroupBy = "agency",
    priority: Annotated[str, Query(max_length=32)] = "",
    agency: Annotated[str, Query(max_length=32)] = "",
) -> Response:
    ctx.require("auditor", "admin")
    api = await ctx.api()
    params = {
        "period": period,
        "group_by": group_by,
        "priority": priority,
        "agency": agency,
        "format": "csv",
    }
    resp = await api._call("GET", "/api/v1/performance", params=params, raw=True)
    return ctx.finish(
        Response(
            resp.content,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="performance.csv"'},
        )
    )
