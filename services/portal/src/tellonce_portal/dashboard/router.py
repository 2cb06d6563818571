"""OPM's performance dashboard: the service measures per form, agency or priority with
charts, filters by priority, agency and period, targets red/amber/green, the weekly trend and
the referral funnel. A client of the gateway API like every portal page; figures the API
suppresses (fewer than 10 applications) show as a dash."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from starlette.responses import Response

from tellonce_portal.api import ApiError, Gateway
from tellonce_portal.dashboard.charts import funnel_bars, shape
from tellonce_portal.dashboard.referrals import router as referrals_router
from tellonce_portal.deps import PageDep

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
    funnel: dict[str, Any] = {}
    try:
        report = await _get(api, "/api/v1/performance", params)
        funnel = await _get(api, "/api/v1/performance/referrals", {"period": period})
    except ApiError as exc:
        errors.append(("period", exc.detail or ctx.t("measures_failed")))
    rows = [r for r in funnel.get("rows") or [] if isinstance(r, dict)]
    total = funnel.get("total") if isinstance(funnel.get("total"), dict) else None
    return ctx.render(
        "dashboard/performance.html",
        status=422 if errors and not report else 200,
        errors=errors,
        report=report,
        groups=shape(report),
        funnel_rows=[{**r, "bars": funnel_bars(r)} for r in rows],
        funnel_total={**total, "bars": funnel_bars(total)} if total else None,
        funnel_min_cell=funnel.get("min_cell") or 10,
        filters=params,
        priorities=PRIORITIES,
        csv_query="&".join(f"{k}={v}" for k, v in params.items() if v),
    )


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
