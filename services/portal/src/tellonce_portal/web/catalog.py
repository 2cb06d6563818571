"""The catalog: browse and search by agency and topic, and a form's start page showing which
agencies will receive which answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query
from starlette.responses import Response

from tellonce_portal.account_prefill import account_values, fill_from_account, mapped_questions
from tellonce_portal.api import ApiError, ApiUnavailable, Draft, Gateway, Profile, Sharing
from tellonce_portal.deps import PageContext, PageDep
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
    errors: list[tuple[str, str]] = []
    try:
        forms = await gateway.forms(agency=agency or None, q=(q or "").strip() or None)
    except ApiError as exc:
        # The API refused the search itself (a control character, say): the search box
        # again with what to fix, not the service-problem page.
        if exc.status not in (400, 422):
            raise
        forms = []
        errors.append(("q", ctx.t("bad_search")))
    topics = sorted({f.topic for f in forms if f.topic})
    if topic:
        forms = [f for f in forms if f.topic == topic]
    names = {a.code: a.name for a in agencies}
    return ctx.render(
        "catalog.html",
        status=422 if errors else 200,
        errors=errors,
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
    only when something would be filled in on this form (from the account or the profile),
    saying what (``from_account``, ``from_profile``: the form's question labels); ``reason``
    says why the profile adds nothing."""

    offer: bool
    reason: str = ""
    """``"off"``: keeping answers is turned off; ``"empty"``: on, but nothing kept yet;
    ``"elsewhere"``: values are kept, but none of them is asked on this form."""
    from_account: list[str] = field(default_factory=list)
    from_profile: list[str] = field(default_factory=list)


def prefill_offer(
    profile: Profile | None,
    defn: FormDefinition,
    mapped: dict[str, str],
    account: dict[str, str],
) -> PrefillOffer:
    """What the box would fill for this form: the profile's kept elements the form maps
    (``mapped``: every mapped question, pointer -> element), then the account's values for
    the questions left (the profile wins there, as when the draft is made)."""
    labels = defn.field_labels()
    profile_pointers: list[str] = []
    if profile is not None and profile.keep:
        kept = {v.element for v in profile.values}
        profile_pointers = [p for p, element in mapped.items() if element in kept]
    filled = fill_from_account(defn, {}, mapped, account, skip=profile_pointers)
    offer = PrefillOffer(
        offer=bool(filled.filled or profile_pointers),
        from_account=[labels.get(p, p) for p in filled.filled],
        from_profile=[labels.get(p, p) for p in profile_pointers],
    )
    if profile is None:  # the profile could not be read: offer the box as before
        offer.offer = True
    elif not profile.keep:
        offer.reason = "off"
    elif not profile.values:
        offer.reason = "empty"
    elif not profile_pointers:
        offer.reason = "elsewhere"
    return offer


async def form_mappings(
    gateway: Gateway, defn: FormDefinition, slug: str, version: int
) -> dict[str, str]:
    """Pointer -> data element of the form's questions outside lists: the registry's fields
    document (with the audit's confirmed mappings) and the schema's ``x-element``. A fields
    document the API does not give leaves the schema's own mappings."""
    try:
        listed = await gateway.field_elements(slug, version)
    except (ApiError, ApiUnavailable):
        listed = {}
    return mapped_questions(defn, listed)


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
        mapped = await form_mappings(mine, defn, slug, version.version)
        offer = prefill_offer(
            profile, defn, mapped, account_values(ctx.session.email, ctx.session.name)
        )
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
    from_account = await fill_in_account(ctx, gateway, draft) if prefill == "yes" else []
    response = ctx.redirect(f"/drafts/{draft.id}/pages/1")
    if draft.prefilled or from_account:
        ctx.codec.save_prefilled(response, draft.id, draft.prefilled, from_account)
    return response


async def fill_in_account(ctx: PageContext, gateway: Gateway, draft: Draft) -> list[str]:
    """Write the account's name and email into the new draft's still-empty questions mapped
    to them (``PATCH`` of its answers: ordinary answers the resident can change); the
    pointers filled. What the profile filled stays. A version that cannot be read or a
    refused ``PATCH`` fills nothing: the draft stays as the API made it."""
    values = account_values(ctx.session.email, ctx.session.name)
    if not values:
        return []
    form = await gateway.form(draft.form)
    defn = await draft_definition(ctx, gateway, draft, form.localized_title(ctx.locale))
    if defn is None:
        return []
    mapped = await form_mappings(gateway, defn, draft.form, draft.version)
    filled = fill_from_account(defn, draft.answers, mapped, values, skip=draft.prefilled)
    if not filled.filled:
        return []
    try:
        await gateway.save_draft(draft.id, filled.answers)
    except ApiError:
        return []
    return filled.filled
