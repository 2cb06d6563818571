"""OPM's redundancy audit: clusters of fields that ask the same fact, ranked, with bars drawn
as SVG next to the figures (the tables are the charts' text alternative), burden hours and
hours a tell-once prefill saves, drill-down to a cluster's fields (whose answer each one is),
confirm it as a data element (the resident's own fields, or exactly the ticked ones), split
fields off or reject them, and the CSV and PDF downloads."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query
from starlette.responses import Response

from tellonce_portal.api import ApiError, Confirmation
from tellonce_portal.deps import PageContext, PageDep
from tellonce_portal.i18n import STRINGS, Translator
from tellonce_portal.web import limits

router = APIRouter()

OWN = frozenset({"filer", "applicant", "claimant"})
"""The *whose* readings the registry counts as the filer's own (its ``clustering.OWN``): a
confirmation that names no fields maps only these (docs/audit.md)."""


def _whose(t: Translator, whose: Any) -> dict[str, Any]:
    """How the page says whose a field is: ``text``; ``own`` (None when the registry did not
    say); ``english`` when the text is the registry's own words, not the portal's."""
    if not isinstance(whose, str) or not whose:
        return {"text": "", "own": None, "english": False}
    if whose in OWN:
        return {"text": t("whose_own"), "own": True, "english": False}
    known = f"whose_{whose}" in STRINGS["en"]
    return {"text": t.term("whose_", whose), "own": False, "english": not known}


def _find(clusters: list[dict[str, Any]], cluster: str | None) -> dict[str, Any] | None:
    return next((c for c in clusters if str(c.get("id")) == cluster), None) if cluster else None


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
    ticked: list[tuple[str, str]] | None = None,
    confirmation: Confirmation | None = None,
) -> Response:
    """``typed``: what was posted (``element``, ``note``, ``label``), shown again next to
    the errors, and ``ticked`` the fields that were ticked. ``confirmation``: the answer to a
    confirmation that left fields out, listed above the cluster's fields. After a
    confirmation the fields mapped are in the element's cluster ``e-<element>``
    (docs/redundancy-audit.md), shown if the report has it."""
    report = await (await ctx.api()).audit()
    clusters = _clusters(report)
    most = max((c.get("forms") or 0 for c in clusters), default=0) or 1
    selected = _find(clusters, cluster)
    if confirmation is not None:
        selected = _find(clusters, f"e-{confirmation.element}") or selected
    gone = bool(cluster) and selected is None and confirmation is None
    """A cluster asked for (a link or a bookmark from before) that the report no longer
    lists: said so, above the overview, not the overview alone as if nothing was asked."""
    rows = [
        {"field": f, "whose": _whose(ctx.t, f.get("whose"))}
        for f in (selected.get("fields") or [] if selected else [])
        if isinstance(f, dict)
    ]
    left_out = [
        {"item": item, "whose": _whose(ctx.t, item.whose)}
        for item in (confirmation.left_out if confirmation else [])
    ]
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
        gone=gone,
        rows=rows,
        left_out=left_out,
        ticked={f"{form} {pointer}" for form, pointer in ticked or []},
        pairs=pairs[:20],
        burden=burden,
        per_form=per_form,
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
    scope: Annotated[str, Form()] = "",
) -> Response:
    """Both confirm buttons of the cluster's form: "Confirm the cluster" (the registry maps
    the resident's own fields and says which it left out) and "Confirm the ticked fields"
    (``scope=ticked``: exactly the fields ticked). With fields left out, the answer is the page
    itself, listing them (dozens at times: more than the session cookie carries to a
    redirect); otherwise it redirects to the element's cluster with the counts."""
    ctx.require("auditor", "admin")
    fields = await _ticked(ctx)
    named = scope == "ticked"
    note = limits.typed(note)
    typed = {"element": element, "note": note}
    errors = [("fields", ctx.t("select_confirm_fields"))] if named and not fields else []
    errors += [] if element.strip() else [("element", ctx.t("enter_element"))]
    errors += limits.too_long(
        ctx.t,
        [
            ("element", "data_element", element, limits.ELEMENT),
            ("note", "confirm_note", note, limits.CONFIRM_NOTE),
        ],
    )
    if errors:
        return await _page(ctx, cluster_id, errors, 422, typed, fields)
    try:
        done = await (await ctx.api()).confirm_cluster(
            cluster_id, element.strip(), note.strip(), fields if named else None
        )
    except ApiError as exc:
        return await _page(ctx, cluster_id, [_refusal(ctx, exc, named)], 422, typed, fields)
    ctx.session.flash = ctx.t(
        "confirmed_counts", element=done.element, n=len(done.fields), m=len(done.left_out)
    )
    ctx.session.dirty = True
    if done.left_out:
        return await _page(ctx, cluster_id, [], confirmation=done)
    return ctx.redirect(f"/audit?cluster={quote('e-' + done.element, safe='')}#cluster")


def _refusal(ctx: PageContext, exc: ApiError, named: bool) -> tuple[str, str]:
    """Where a refused confirmation's message goes: next to the ticked fields when the
    registry's errors are all about ``/fields`` (none of the cluster's fields is the
    resident's own, a field not in the cluster, a ticked field that cannot hold the element),
    else on the element box (an unknown element, fields whose values cannot hold it)."""
    pointers = [str(e.get("pointer") or "") for e in exc.errors]
    on_fields = bool(pointers) and all(p.split("/")[1:2] == ["fields"] for p in pointers)
    if not on_fields:
        return ("element", exc.detail or ctx.t("check_element"))
    if exc.status == 422 and not named and all(p == "/fields" for p in pointers):
        return ("fields", ctx.t("none_own", n=len(pointers)))
    return ("fields", exc.detail or ctx.t("check_fields"))


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
        return await _page(ctx, cluster_id, errors, 422, typed, fields)
    try:
        await (await ctx.api()).split_cluster(cluster_id, fields, label.strip())
    except ApiError as exc:
        return await _page(
            ctx, cluster_id, [("fields", exc.detail or ctx.t("check_fields"))], 422, typed, fields
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
        return await _page(
            ctx, cluster_id, [("fields", exc.detail or ctx.t("check_fields"))], 422, None, fields
        )
    ctx.session.flash = ctx.t("rejected_fields", n=len(fields))
    ctx.session.dirty = True
    return ctx.redirect(f"/audit?cluster={quote(cluster_id, safe='')}#cluster")


CSV_TABLES = ("fields", "clusters", "forms", "pairs")
"""The audit's tables as CSV (the API's ``?table=``); the hours are in ``clusters`` and
``forms``."""


@router.get("/audit/redundancy.{fmt}")
async def audit_download(ctx: PageDep, fmt: str, table: str = "fields") -> Response:
    ctx.require("auditor", "admin")
    if fmt not in ("csv", "pdf") or table not in CSV_TABLES:
        return ctx.render(
            "error.html",
            status=404,
            title=ctx.t("not_found"),
            body=ctx.t("not_found_body"),
            detail="",
        )
    download = await (await ctx.api()).audit_download(fmt, table)
    return ctx.finish(
        Response(
            download.content,
            media_type=download.media_type,
            headers={"Content-Disposition": f'attachment; filename="{download.filename}"'},
        )
    )
