"""OPM's redundancy audit: clusters of fields that ask the same fact, ranked, with bars drawn
in CSS next to the figures (the table is the chart's text alternative), and the CSV and PDF
downloads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.responses import Response

from tellonce_portal.deps import PageDep

router = APIRouter()


def _clusters(report: dict[str, Any]) -> list[dict[str, Any]]:
    clusters = [c for c in report.get("clusters") or [] if isinstance(c, dict)]
    clusters.sort(key=lambda c: (-(c.get("forms") or 0), -(c.get("agencies") or 0)))
    return clusters


@router.get("/audit")
async def audit(
    ctx: PageDep, cluster: Annotated[str | None, Query(max_length=200)] = None
) -> Response:
    ctx.require("auditor", "admin")
    report = await (await ctx.api()).audit()
    clusters = _clusters(report)
    most = max((c.get("forms") or 0 for c in clusters), default=0) or 1
    selected = next((c for c in clusters if str(c.get("id")) == cluster), None) if cluster else None
    pairs = [p for p in report.get("form_pairs") or [] if isinstance(p, dict)]
    burden = report.get("burden") if isinstance(report.get("burden"), dict) else {}
    return ctx.render(
        "audit.html",
        clusters=clusters,
        most=most,
        selected=selected,
        pairs=pairs[:20],
        burden=burden,
    )


@router.get("/audit/redundancy.{fmt}")
async def audit_download(ctx: PageDep, fmt: str) -> Response:
    ctx.require("auditor", "admin")
    if fmt not in ("csv", "pdf"):
        return ctx.render(
            "error.html", status=404, title=ctx.t("not_found"), body=ctx.t("not_found_body")
        )
    download = await (await ctx.api()).audit_download(fmt)
    return ctx.finish(
        Response(
            download.content,
            media_type=download.media_type,
            headers={"Content-Disposition": f'attachment; filename="{download.filename}"'},
        )
    )
