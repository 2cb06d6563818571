"""``/api/v1/audit``: the redundancy audit for auditors and admins, and their review decisions."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import HTMLResponse

from tellonce_registry.audit import service
from tellonce_registry.audit.config import AuditSettings, get_audit_settings
from tellonce_registry.audit.render import to_csv, to_html, to_pdf
from tellonce_registry.audit.report import Assumptions
from tellonce_registry.audit.schemas import (
    NO_NUL,
    ConfirmBody,
    ConfirmOut,
    DecisionList,
    DecisionOut,
    MappingList,
    MappingOut,
    RejectBody,
    SplitBody,
)
from tellonce_registry.deps import CacheDep as PublishedCacheDep
from tellonce_registry.deps import SessionDep, after_commit
from tellonce_registry.paging import RowId
from tellonce_shared.auth import Principal, require_roles

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])

Reviewer = Annotated[Principal, require_roles("auditor", "admin")]


def get_cache(request: Request) -> service.AuditCache:
    cache = getattr(request.app.state, "audit_cache", None)
    if cache is None:
        cache = service.AuditCache()
        request.app.state.audit_cache = cache
    return cache


CacheDep = Annotated[service.AuditCache, Depends(get_cache)]
ClusterId = Annotated[str, Path(min_length=1, max_length=120, pattern=NO_NUL)]
SettingsDep = Annotated[AuditSettings, Depends(get_audit_settings)]


def _wanted(fmt: str | None, accept: str) -> str:
    if fmt is not None:
        return fmt
    if "text/csv" in accept:
        return "csv"
    if "application/pdf" in accept:
        return "pdf"
    return "json"


@router.get(
    "/redundancy",
    responses={
        200: {
            "content": {
                "application/json": {},
                "text/csv": {},
                "text/html": {},
                "application/pdf": {},
            },
            "description": "The audit as JSON (default), CSV, HTML or PDF.",
        }
    },
)
async def redundancy(
    request: Request,
    session: SessionDep,
    cache: CacheDep,
    settings: SettingsDep,
    _reviewer: Reviewer,
    agency: Annotated[str | None, Query(min_length=1, max_length=16, pattern=NO_NUL)] = None,
    form: Annotated[str | None, Query(min_length=1, max_length=100, pattern=NO_NUL)] = None,
    format: Annotated[Literal["json", "csv", "html", "pdf"] | None, Query()] = None,
    table: Annotated[Literal["fields", "clusters", "pairs", "forms"], Query()] = "fields",
    min_forms: Annotated[int, Query(ge=1, le=1000)] = 2,
    pairs_limit: Annotated[int | None, Query(ge=1, le=10000)] = None,
    repeat_filer_share: Annotated[float | None, Query(ge=0, le=1)] = None,
    review_fraction: Annotated[float | None, Query(ge=0, le=1)] = None,
    fields: Annotated[bool, Query()] = True,
) -> Response:
    """Fields of all published forms grouped by the fact they collect, ranked by forms and
    agencies; the pairs of forms that overlap most; burden hours and the hours a tell-once
    prefill would save, with its assumptions. ``Accept: text/csv`` or ``?format=csv`` (one row
    per field; ``?table=clusters|pairs|forms`` for the other tables), ``?format=html`` (a page
    with charts), ``?format=pdf``. ``?fields=false`` leaves the clusters' field lists out of the
    JSON (a page listing clusters needs a fraction of the bytes)."""
    assumptions = Assumptions(
        repeat_filer_share=(
            settings.repeat_filer_share if repeat_filer_share is None else repeat_filer_share
        ),
        review_fraction=settings.review_fraction if review_fraction is None else review_fraction,
    )
    params: dict[str, Any] = {
        "agency": agency,
        "form": form,
        "min_forms": min_forms,
        "pairs_limit": pairs_limit or settings.pairs_limit,
        "assumptions": assumptions,
    }
    wanted = _wanted(format, request.headers.get("accept", ""))
    if wanted == "csv":
        body = await service.rendered(
            session, cache, lambda doc: to_csv(doc, table).encode(), ("csv", table), **params
        )
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="redundancy-{table}.csv"'},
        )
    if wanted == "html":
        body = await service.rendered(
            session, cache, lambda doc: to_html(doc).encode(), ("html",), **params
        )
        return HTMLResponse(body)
    if wanted == "pdf":
        limit = settings.pdf_clusters
        body = await service.rendered(
            session,
            cache,
            lambda doc: to_pdf(to_html(doc, for_pdf=True, max_clusters=limit)),
            ("pdf", limit),
            **params,
        )
        return Response(
            body,
            media_type="application/pdf",
            headers={"Content-Disposition": 'inline; filename="redundancy-audit.pdf"'},
        )
    doc = await service.report(session, cache, **params)
    if not fields:
        doc = {
            **doc,
            "clusters": [
                {k: v for k, v in c.items() if k != "fields"} | {"field_count": len(c["fields"])}
                for c in doc["clusters"]
            ],
        }
    return Response(orjson.dumps(doc), media_type="application/json")


async def _decide(
    session: SessionDep,
    cache: service.AuditCache,
    principal: Principal,
    kind: str,
    cluster_id: str,
    **kw: Any,
) -> DecisionOut:
    return await service.decide(session, cache, principal, kind=kind, cluster_id=cluster_id, **kw)


@router.post("/clusters/{cluster_id}/confirm", status_code=201)
async def confirm_cluster(
    cluster_id: ClusterId,
    body: ConfirmBody,
    session: SessionDep,
    cache: CacheDep,
    published: PublishedCacheDep,
    reviewer: Reviewer,
) -> ConfirmOut:
    """Confirm the cluster as a data element: the fields named, or, when none are named, the
    cluster's fields that are the filer's own (``whose`` filer, applicant or claimant), are
    mapped to it, which feeds prefill (the forms' ``.../fields`` documents show the element),
    and they stay in the element's cluster on every re-run. ``fields`` in the answer are the
    fields mapped; ``left_out`` the cluster's other fields, each with its ``whose`` and why."""
    decision = await service.confirm(
        session,
        cache,
        reviewer,
        cluster_id=cluster_id,
        element=body.element,
        fields=body.fields,
        note=body.note,
    )
    forms = {f.form for f in decision.fields}
    after_commit(session, lambda: published.drop_forms(forms))
    return decision


@router.post("/clusters/{cluster_id}/split", status_code=201)
async def split_cluster(
    cluster_id: ClusterId,
    body: SplitBody,
    session: SessionDep,
    cache: CacheDep,
    reviewer: Reviewer,
) -> DecisionOut:
    """Move the named fields to a cluster of their own."""
    return await _decide(
        session,
        cache,
        reviewer,
        "split",
        cluster_id,
        fields=body.fields,
        label=body.label,
        note=body.note,
    )


@router.post("/clusters/{cluster_id}/reject", status_code=201)
async def reject_members(
    cluster_id: ClusterId,
    body: RejectBody,
    session: SessionDep,
    cache: CacheDep,
    reviewer: Reviewer,
) -> DecisionOut:
    """The named fields do not hold the cluster's fact: take them out of it."""
    return await _decide(
        session,
        cache,
        reviewer,
        "reject",
        cluster_id,
        fields=body.fields,
        note=body.note,
    )


@router.get("/decisions")
async def list_decisions(session: SessionDep, _reviewer: Reviewer) -> DecisionList:
    return DecisionList(items=await service.list_decisions(session))


@router.delete("/decisions/{decision_id}", status_code=204)
async def undo_decision(
    decision_id: RowId, session: SessionDep, published: PublishedCacheDep, _reviewer: Reviewer
) -> Response:
    """Undo a decision (and the mappings a confirmation recorded)."""
    forms = await service.undo(session, decision_id)
    if forms:
        after_commit(session, lambda: published.drop_forms(forms))
    return Response(status_code=204)


@router.get("/mappings")
async def confirmed_mappings(
    session: SessionDep,
    form: Annotated[str | None, Query(max_length=100, pattern=NO_NUL)] = None,
) -> MappingList:
    """Field -> data element mappings confirmed through the audit (public, like the catalog:
    prefill reads them for published versions, whose ``x-element`` never changes)."""
    rows = await service.confirmed_mappings(session, form)
    return MappingList(items=[MappingOut(**r) for r in rows])
