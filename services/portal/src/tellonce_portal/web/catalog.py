"""The catalog: browse and search by agency and topic, and a form's start page showing which
agencies will receive which answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query
from starlette.responses import Response

from tellonce_portal.api import ApiError, Profile, Sharing
from tellonce_portal.deps import PageDep
from tellonce_portal.forms.schema import FormDefinition
from tellonce_portal.web.applications import SavedDraft, draft_definition, newest_draft, saved_draft

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


@dataclass
class PrefillOffer:
    """What the start page says about filling in answers given before: ``offer`` the box
    only when the profile keeps something; otherwise why nothing can be filled in."""

    offer: bool
    reason: str = ""
    """``"off"``: keeping answers is turned off; ``"empty"``: on, but nothing kept yet."""


def prefill_offer(profile: Profile | None) -> PrefillOffer:
    if profile is None:  # the profile could not be read: offer the box as before
        return PrefillOffer(offer=True)
    if not profile.keep:
        return PrefillOffer(offer=False, reason="off")
    if not profile.values:
        return PrefillOffer(offer=False, reason="empty")
    return PrefillOffer(offer=True)


@router.get("/forms/{slug}")
async def start_page(ctx: PageDep, slug: str) -> Response:
    gateway = ctx.anonymous()
    form = await gateway.form(slug)
    version = await gateway.version(slug, "latest")
    sharing = await gateway.sharing(slug, version.version)
    names = {a.code: a.name for a in await gateway.agencies()}
    defn = ctx.definition(version, title=form.localized_title(ctx.locale))
    offer = PrefillOffer(offer=False)
    saved: SavedDraft | None = None
    if ctx.session.signed_in and ctx.session.role == "resident":
        mine = await ctx.api()
        try:
            profile: Profile | None = await mine.profile()
        except ApiError:
            profile = None
        offer = prefill_offer(profile)
        newest = newest_draft([d for d in await mine.drafts() if d.form == slug])
        if newest is not None:
            saved = saved_draft(
                ctx,
                newest,
                await draft_definition(ctx, mine, newest, form.localized_title(ctx.locale)),
            )
    return ctx.render(
        "start.html",
        form=form,
        title=defn.title,
        owner=names.get(form.agency, form.agency),
        receivers=receivers(sharing, defn, names, ctx.t),
        pages=len(defn.pages({})),
        version=version.version,
        prefill=offer,
        saved=saved,
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
