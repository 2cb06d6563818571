"""The catalog: browse and search by agency and topic, and a form's start page showing which
agencies will receive which answers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query
from starlette.responses import Response

from tellonce_portal.api import ApiError, Sharing
from tellonce_portal.deps import PageDep
from tellonce_portal.forms.schema import FormDefinition

router = APIRouter()


@router.get("/")
async def home(ctx: PageDep) -> Response:
    return await catalog(ctx)


@router.get("/forms")
async def catalog(
    ctx: PageDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    agency: Annotated[str | None, Query(max_length=16)] = None,
    topic: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    gateway = ctx.anonymous()
    agencies = await gateway.agencies()
    forms = await gateway.forms(agency=agency or None, q=(q or "").strip() or None)
    topics = sorted({f.topic for f in forms if f.topic})
    if topic:
        forms = [f for f in forms if f.topic == topic]
    names = {a.code: a.name for a in agencies}
    return ctx.render(
        "catalog.html",
        forms=forms,
        agencies=agencies,
        agency_names=names,
        topics=topics,
        q=q or "",
        agency=agency or "",
        topic=topic or "",
    )


def receivers(
    sharing: Sharing, defn: FormDefinition, names: dict[str, str], t: Any
) -> list[dict[str, Any]]:
    """Rows of "who receives what": the owner gets everything, others their agreed fields."""
    labels = defn.field_labels()
    rows: list[dict[str, Any]] = []
    if sharing.owner:
        rows.append(
            {
                "agency": names.get(sharing.owner, sharing.owner),
                "fields": [t("receives_all")],
                "purpose": "",
                "legal_basis": "",
            }
        )
    for agreement in sharing.agreements:
        rows.append(
            {
                "agency": names.get(agreement.agency, agreement.agency),
                "fields": [labels.get(p, p) for p in agreement.fields],
                "purpose": agreement.purpose,
                "legal_basis": agreement.legal_basis,
            }
        )
    return rows


@router.get("/forms/{slug}")
async def start_page(ctx: PageDep, slug: str) -> Response:
    gateway = ctx.anonymous()
    form = await gateway.form(slug)
    version = await gateway.version(slug, "latest")
    sharing = await gateway.sharing(slug, version.version)
    names = {a.code: a.name for a in await gateway.agencies()}
    defn = ctx.definition(version, title=form.localized_title(ctx.locale))
    return ctx.render(
        "start.html",
        form=form,
        title=defn.title,
        owner=names.get(form.agency, form.agency),
        receivers=receivers(sharing, defn, names, ctx.t),
        pages=len(defn.pages({})),
        version=version.version,
    )


@router.post("/forms/{slug}/start")
async def start(
    ctx: PageDep,
    slug: str,
    version: Annotated[int | None, Form()] = None,
    prefill: Annotated[str | None, Form()] = None,
) -> Response:
    ctx.require("resident")
    gateway = await ctx.api()
    try:
        draft = await gateway.create_draft(slug, version, prefill == "yes")
    except ApiError as exc:
        if exc.status in (404, 409, 422) and version is not None:
            draft = await gateway.create_draft(slug, None, prefill == "yes")
        else:
            raise
    response = ctx.redirect(f"/drafts/{draft.id}/pages/1")
    if draft.prefilled:
        ctx.codec.save_prefilled(response, draft.id, draft.prefilled)
    return response
