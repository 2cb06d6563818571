"""OPM's redundancy audit: clusters of fields that ask the same fact, ranked, with bars drawn
as SVG next to the figures (the tables are the charts' text alternative), burden hours and
hours a tell-once prefill saves, drill-down to a cluster's fields, confirm it as a data
element, split fields off or reject them, and the CSV and PDF downloads."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query
from starlette.responses import Response

from tellonce_portal.api import ApiError
from tellonce_portal.deps import PageContext, PageDep
from tellonce_portal.web import limits

router = APIRouter()


def _clusters(report: dict[str, Any]) -> list[dict[str, Any]]:
    clusters = [c for c in report.get("clusters") or [] if isinstance(c, dict)]
    clusters.sort(key=lambda c: (-(c.get("forms") or 0), -(c.get("agencies") or 0)))
    return clusters


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


async def _page(
    ctx: PageContext,
    cluster: str | None,
    errors: list[tuple[str, str]],
    status: int = 200,
    typed: dict[str, str] | None = None,
) -> Response:
    """``typed``: what was posted (``element``, ``note``, ``label``), shown again next to
    the errors."""
    report = await (await ctx.api()).audit()
    clusters = _clusters(report)
    most = max((c.get("forms") or 0 for c in clusters), default=0) or 1
    selected = next((c for c in clusters if str(c.get("id")) == cluster), None) if cluster else None
    pairs = [p for p in report.get("form_pairs") or [] if isinstance(p, dict)]
    burden = report.get("burden") if isinstance(report.get("burden"), dict) else {}
    assert isinstance(burden, dict)
    per_form = [f for f in burden.get("forms") or [] if isinstance(f, dict)]
    per_form.sort(key=lambda f: -_number(f.get("burden_hours")))
    most_hours = max((_number(f.get("burden_hours")) for f in per_form), default=0.0) or 1.0
    return ctx.render(
        "audit.html",
        status=status,
        clusters=clusters,
        most=most,
        selected=selected,
        pairs=pairs[:20],
        burden=burden,
        per_form=per_form[:30],
        most_hours=most_hours,
        errors=errors,
        typed=typed or {},
        limits=limits,
    )


@router.get("/audit")
async def audit(
    ctx: PageDep, cluster: Annotated[str | None, Query(max_length=200)] = None
) -> Response:
    ctx.require("auditor", "admin")
    return await _page(ctx, cluster, [])


@router.post("/audit/clusters/{cluster_id}/confirm")
async def confirm(
    ctx: PageDep,
    cluster_id: str,
    element: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    ctx.require("auditor", "admin")
    note = limits.typed(note)
    typed = {"element": element, "note": note}
    errors = [] if element.strip() else [("element", ctx.t("enter_element"))]
    errors += limits.too_long(
        ctx.t,
        [
            ("element", "data_element", element, limits.ELEMENT),
            ("note", "confirm_note", note, limits.CONFIRM_NOTE),
        ],
    )
    if errors:
        return await _page(ctx, cluster_id, errors, 422, typed)
    try:
        await (await ctx.api()).confirm_cluster(cluster_id, element.strip(), note.strip())
    except ApiError as exc:
        return await _page(
            ctx, cluster_id, [("element", exc.detail or ctx.t("check_element"))], 422, typed
        )
    ctx.session.flash = ctx.t("confirmed", element=element.strip())
    ctx.session.dirty = True
    return ctx.redirect(f"/audit?cluster={cluster_id}")


async def _ticked(ctx: PageContext) -> list[tuple[str, str]]:
    """The (form, pointer) of each ticked field of the cluster's table."""
    posted = await ctx.request.form()
    fields = []
    for raw in posted.getlist("field"):
        form, _, pointer = str(raw).partition(" ")
        if form and pointer.startswith("/"):
            fields.append((form, pointer))
    return fields


@router.post("/audit/clusters/{cluster_id}/split")
async def split(
    ctx: PageDep,
    cluster_id: str,
    label: Annotated[str, Form()] = "",
) -> Response:
    ctx.require("auditor", "admin")
    fields = await _ticked(ctx)
    typed = {"label": label}
    errors = [] if fields else [("fields", ctx.t("select_split_fields"))]
    errors += limits.too_long(ctx.t, [("label", "new_cluster_name", label, limits.CLUSTER_LABEL)])
    if errors:
        return await _page(ctx, cluster_id, errors, 422, typed)
    try:
        await (await ctx.api()).split_cluster(cluster_id, fields, label.strip())
    except ApiError as exc:
        return await _page(
            ctx, cluster_id, [("fields", exc.detail or ctx.t("check_fields"))], 422, typed
        )
    ctx.session.flash = ctx.t("split_off", n=len(fields))
    ctx.session.dirty = True
    return ctx.redirect("/audit")


@router.post("/audit/clusters/{cluster_id}/reject")
async def reject(ctx: PageDep, cluster_id: str) -> Response:
    """The "Reject the ticked fields" button of the split form (its ``formaction``): the
    fields do not hold the cluster's fact (what a refused confirmation asks for first)."""
    ctx.require("auditor", "admin")
    fields = await _ticked(ctx)
    if not fields:
        return await _page(ctx, cluster_id, [("fields", ctx.t("select_reject_fields"))], 422)
    try:
        await (await ctx.api()).reject_cluster(cluster_id, fields)
    except ApiError as exc:
        return await _page(ctx, cluster_id, [("fields", exc.detail or ctx.t("check_fields"))], 422)
    ctx.session.flash = ctx.t("rejected_fields", n=len(fields))
    ctx.session.dirty = True
    return ctx.redirect(f"/audit?cluster={quote(cluster_id, safe='')}#cluster")


@router.get("/audit/redundancy.{fmt}")
async def audit_download(ctx: PageDep, fmt: str) -> Response:
    ctx.require("auditor", "admin")
    if fmt not in ("csv", "pdf"):
        return ctx.render(
            "error.html",
            status=404,
            title=ctx.t("not_found"),
            body=ctx.t("not_found_body"),
            detail="",
        )
    download = await (await ctx.api()).audit_download(fmt)
    return ctx.finish(
        Response(
            download.content,
            media_type=download.media_type,
            headers={"Content-Disposition": f'attachment; filename="{download.filename}"'},
        )
    )
