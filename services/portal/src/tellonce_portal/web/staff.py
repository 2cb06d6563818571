"""Agency staff: the inbox of deliveries to their agency (only the fields its agreement
allows), one delivery's answers, and posting a status the resident then sees."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query
from starlette.responses import Response

from tellonce_portal.api import ApiError, Delivery, Endpoint, FormSummary, Gateway
from tellonce_portal.deps import PageContext, PageDep
from tellonce_portal.forms import pointers
from tellonce_portal.forms.schema import FormDefinition
from tellonce_portal.forms.summary import display
from tellonce_portal.i18n import Translator
from tellonce_portal.web import limits
from tellonce_shared.middleware import head_only

router = APIRouter()

STATUSES = ("received", "in_review", "needs_info", "approved", "denied")
HANDLING = ("received", "in_review", "needs_info")
"""What an agency that receives some answers but does not own the form may post: the
decisions (approved, denied) are the owning agency's alone (the API answers 403)."""
PAGE_SIZE = 50
"""Deliveries (and dead letters) a page lists; the rest are on the pages Previous and Next
link to (cursors of the API's ``order=newest`` listing)."""
Cursor = Annotated[str | None, Query()]
MAX_CURSOR = 500
"""A page link's cursor is far shorter; a longer one was edited by hand (the page not found,
as for any other cursor the API does not read)."""


async def _one_delivery(ctx: PageContext, gateway: Gateway, delivery_id: str) -> Delivery:
    """The delivery with its answers, read alone (``?include=answers``): the access log then
    holds exactly what the staff member saw, not every delivery of the agency's feed. For a
    HEAD (no content is sent, so no answers are seen) its state only: no read is logged."""
    try:
        return await gateway.delivery(delivery_id, answers=not head_only(ctx.request))
    except ApiError as exc:
        if exc.status != 404:
            raise
        raise ApiError(404, {"detail": ctx.t("no_such_delivery", id=delivery_id)}) from exc


async def _labelled(
    ctx: PageContext, gateway: Gateway, found: Delivery
) -> list[tuple[str, str, str]]:
    """(pointer, question, value) rows; the question and the value's display (option labels,
    Yes/No, dates per locale) from the form version when it can be read (a public catalog
    read), else the pointer and the raw value."""
    defn: FormDefinition | None = None
    labels: dict[str, str] = {}
    if found.form and found.version:
        try:
            version = await gateway.version(found.form, found.version)
            defn = ctx.definition(version)
            labels = defn.field_labels()
        except ApiError:
            defn = None
    rows = []
    for pointer, value in flat_answers(found.answers):
        generic = re.sub(r"/\d+(?=/|$)", "/*", pointer)
        field = defn.field_for(pointer, found.answers) if defn is not None else None
        shown = display(field, value, ctx.t) if field is not None else ""
        rows.append(
            (pointer, labels.get(pointer) or labels.get(generic) or "", shown or _raw(value, ctx.t))
        )
    return rows


def _raw(value: object, t: Translator) -> str:
    if isinstance(value, bool):
        return t("yes") if value else t("no")
    return "" if value is None else str(value)


def flat_answers(answers: object, prefix: str = "") -> list[tuple[str, object]]:
    """(pointer, value) rows of a delivered answers document, one per scalar or list of
    scalars."""
    if isinstance(answers, dict):
        rows: list[tuple[str, object]] = []
        for key, value in answers.items():
            rows.extend(flat_answers(value, pointers.join(prefix, key)))
        return rows
    if isinstance(answers, list) and any(isinstance(v, (dict, list)) for v in answers):
        rows = []
        for index, value in enumerate(answers):
            rows.extend(flat_answers(value, pointers.join(prefix, index)))
        return rows
    return [(prefix, answers)]


def _bad_cursor(ctx: PageContext, exc: ApiError) -> ApiError:
    """A page link the API no longer reads (an edited or truncated cursor: its 400) is a
    page not found."""
    if exc.status != 400:
        return exc
    return ApiError(404, {"detail": ctx.t("not_found_body")})


def _check_cursor(ctx: PageContext, cursor: str | None) -> None:
    if cursor is not None and len(cursor) > MAX_CURSOR:
        raise ApiError(404, {"detail": ctx.t("not_found_body")})


def page_link(path: str, name: str, cursor: str | None, fragment: str = "") -> str | None:
    return f"{path}?{urlencode({name: cursor})}{fragment}" if cursor else None


@router.get("/inbox")
async def inbox(ctx: PageDep, cursor: Cursor = None) -> Response:
    """One page of the agency's deliveries, newest first, with Previous (newer) and Next
    (older) links. The list shows references and states only, so opening the inbox reads
    no answers; answers are read (and logged by the API) when a delivery is opened."""
    ctx.require("agency")
    _check_cursor(ctx, cursor)
    gateway = await ctx.api()
    try:
        page = await gateway.delivery_states(ctx.session.agency or "", cursor, PAGE_SIZE)
    except ApiError as exc:
        raise _bad_cursor(ctx, exc) from exc
    return ctx.render(
        "inbox.html",
        deliveries=page.items,
        forms=await _catalog(gateway),
        previous_page=page_link("/inbox", "cursor", page.prev_cursor),
        next_page=page_link("/inbox", "cursor", page.next_cursor),
    )


async def _catalog(gateway: Gateway) -> dict[str, FormSummary]:
    """The catalog's forms by slug, for their titles (a form no longer listed shows its
    slug)."""
    try:
        forms = await gateway.forms()
    except ApiError:
        return {}
    return {f.slug: f for f in forms}


@router.get("/inbox/systems")
async def systems(ctx: PageDep, dead: Cursor = None) -> Response:
    """The agency's webhook endpoints and its dead letters (newest first, a page at a time:
    ``?dead=<cursor>``), with replay."""
    ctx.require("agency")
    _check_cursor(ctx, dead)
    return await _systems_page(ctx, created=None, errors=[], dead_cursor=dead)


async def _systems_page(
    ctx: PageContext,
    created: Endpoint | None,
    errors: list[tuple[str, str]],
    status: int = 200,
    notice: str | None = None,
    typed_url: str = "",
    dead_cursor: str | None = None,
) -> Response:
    gateway = await ctx.api()
    try:
        dead = await gateway.dead_letters(dead_cursor, PAGE_SIZE)
    except ApiError as exc:
        raise _bad_cursor(ctx, exc) from exc
    return ctx.render(
        "systems.html",
        status=status,
        endpoints=await gateway.endpoints(),
        dead=dead.items,
        forms=await _catalog(gateway) if dead.items else {},  # titles, as in the inbox
        previous_page=page_link("/inbox/systems", "dead", dead.prev_cursor, "#dead-letters"),
        next_page=page_link("/inbox/systems", "dead", dead.next_cursor, "#dead-letters"),
        created=created,
        errors=errors,
        notice=notice,
        typed_url=typed_url,
        url_limit=limits.ENDPOINT_URL,
    )


@router.post("/inbox/systems/endpoints")
async def add_endpoint(ctx: PageDep, url: Annotated[str, Form()] = "") -> Response:
    ctx.require("agency")
    errors = limits.too_long(ctx.t, [("url", "endpoint_url", url, limits.ENDPOINT_URL)])
    if not errors and not url.strip().startswith(("https://", "http://")):
        errors = [("url", ctx.t("enter_endpoint_url"))]
    if errors:
        return await _systems_page(ctx, None, errors, 422, typed_url=url)
    try:
        created = await (await ctx.api()).add_endpoint(url.strip())
    except ApiError as exc:
        return await _systems_page(
            ctx, None, [("url", exc.detail or ctx.t("check_endpoint_url"))], 422, typed_url=url
        )
    return await _systems_page(ctx, created, [], 201)


@router.post("/inbox/systems/endpoints/{endpoint_id}/rotate")
async def rotate_endpoint(ctx: PageDep, endpoint_id: str) -> Response:
    ctx.require("agency")
    rotated = await (await ctx.api()).rotate_endpoint(endpoint_id)
    return await _systems_page(ctx, rotated, [])


@router.post("/inbox/systems/endpoints/{endpoint_id}/delete")
async def delete_endpoint(ctx: PageDep, endpoint_id: str) -> Response:
    ctx.require("agency")
    await (await ctx.api()).delete_endpoint(endpoint_id)
    return ctx.redirect("/inbox/systems")


@router.post("/inbox/systems/replay")
async def replay(ctx: PageDep, delivery: Annotated[str, Form(max_length=64)] = "") -> Response:
    ctx.require("agency")
    gateway = await ctx.api()
    if delivery:
        try:
            await gateway.replay(delivery)
        except ApiError as exc:
            if exc.status != 410:
                raise
            # Its share of the answers was erased under the retention rule: nothing to send.
            return await _systems_page(ctx, None, [], 410, _not_replayed(ctx.t, exc))
        count = 1
    else:
        count = await gateway.replay_all()
    ctx.session.flash = ctx.t("replayed_one" if count == 1 else "replayed", n=count)
    ctx.session.dirty = True
    return ctx.redirect("/inbox/systems")


def _not_replayed(t: Translator, exc: ApiError) -> str:
    """The API's 410 for a replay: the share was erased (``delivery-share-erased``, with
    ``share_purged_at``), said in the page's language."""
    purged = exc.body.get("share_purged_at")
    if purged:
        return f"{t('not_replayed')} {t('share_erased', date=t.date(purged))}"
    if str(exc.body.get("type") or "").endswith("/delivery-share-erased"):
        return f"{t('not_replayed')} {t('share_erased_undated')}"
    return f"{t('not_replayed')} {exc.detail}".strip()


@router.get("/inbox/{delivery_id}")
async def delivery(
    ctx: PageDep, delivery_id: str, posted: Annotated[bool, Query()] = False
) -> Response:
    ctx.require("agency")
    gateway = await ctx.api()
    found = await _one_delivery(ctx, gateway, delivery_id)
    form = await _form_of(gateway, found)
    return ctx.render(
        "delivery.html",
        delivery=found,
        rows=await _labelled(ctx, gateway, found),
        statuses=_statuses(ctx, form),
        form=form,
        errors=[],
        posted=posted,
        chosen_status="",
        typed_message="",
        message_limit=limits.STATUS_MESSAGE,
        show_reopen=False,
        reopen_ticked=False,
    )


async def _form_of(gateway: Gateway, found: Delivery) -> FormSummary | None:
    """The delivery's form in the catalog (None when the catalog does not answer)."""
    try:
        return await gateway.form(found.form)
    except ApiError:
        return None


def _statuses(ctx: PageContext, form: FormSummary | None) -> tuple[str, ...]:
    """The statuses this staff member's agency may post on the delivery's application: all of
    them for the form's owning agency, the handling ones for an agency that only receives
    some answers. Should the catalog not answer, all of them (the API still decides)."""
    if form is None:
        return STATUSES
    return STATUSES if form.agency == ctx.session.agency else HANDLING


@router.post("/inbox/{delivery_id}/status")
async def post_status(
    ctx: PageDep,
    delivery_id: str,
    submission_id: Annotated[str, Form()] = "",
    status: Annotated[str, Form()] = "",
    message: Annotated[str, Form()] = "",
    reopen: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    ctx.require("agency")
    gateway = await ctx.api()
    errors: list[tuple[str, str]] = []
    message = limits.typed(message)
    reopening = reopen == "yes"
    show_reopen = reopening
    if status not in STATUSES:
        errors.append(("status", ctx.t("select_status")))
    if status == "needs_info" and not message.strip():
        errors.append(("message", ctx.t("say_what_info")))
    elif reopening and not message.strip():
        errors.append(("message", ctx.t("say_why_reopen")))
    errors += limits.too_long(ctx.t, [("message", "message", message, limits.STATUS_MESSAGE)])
    if not errors:
        try:
            await gateway.post_status(
                submission_id, status, message.strip() or None, reopen=reopening
            )
        except ApiError as exc:
            final = _decision_final(ctx.t, exc)
            if final is not None:
                show_reopen = True  # the way to change a decision, offered now
            errors.append(("status", final or exc.detail or ctx.t("status_not_posted")))
    if not errors:
        return ctx.redirect(f"/inbox/{delivery_id}?posted=true")
    found = await _one_delivery(ctx, gateway, delivery_id)
    form = await _form_of(gateway, found)
    return ctx.render(
        "delivery.html",
        status=422,
        delivery=found,
        rows=await _labelled(ctx, gateway, found),
        statuses=_statuses(ctx, form),
        form=form,
        errors=errors,
        posted=False,
        # What the staff member chose and typed, shown again next to the errors.
        chosen_status=status,
        typed_message=message,
        message_limit=limits.STATUS_MESSAGE,
        show_reopen=show_reopen,
        reopen_ticked=reopening,
    )


def _decision_final(t: Translator, exc: ApiError) -> str | None:
    """The API's 409 ``decision-final`` in words, with what to do: None for other errors."""
    if exc.status != 409 or not str(exc.body.get("type") or "").endswith("/decision-final"):
        return None
    decision = exc.body.get("decision")
    if not isinstance(decision, dict):
        return t("decision_final_undated")
    return t(
        "decision_final",
        status=t.status(str(decision.get("status") or "")),
        date=t.date(str(decision.get("at") or "")),
    )
