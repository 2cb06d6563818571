"""Filling a form: one page at a time, saved to the draft on every step, check your answers,
and submit with an Idempotency-Key derived from the draft and its answers, so a double click
(or a reload of the POST) never files twice."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query
from starlette.responses import Response

from tellonce_portal.api import ApiError, ApiUnavailable, Draft, FormSummary, FormVersion, Gateway
from tellonce_portal.deps import PageContext, PageDep
from tellonce_portal.forms import pointers
from tellonce_portal.forms.model import FieldError, Page, answering, html_id
from tellonce_portal.forms.parse import ListAction, parse_fields
from tellonce_portal.forms.render import FieldState, error_summary, render_fields
from tellonce_portal.forms.schema import FormDefinition
from tellonce_portal.forms.summary import built_pages, sections, visible_answers
from tellonce_portal.forms.validate import from_api, on_fields, validate
from tellonce_portal.templating import environment
from tellonce_portal.web.catalog import receivers

log = logging.getLogger("tellonce.portal")
router = APIRouter()

RETURN_CHECK = "check"
"""The return marker of a page reached from check your answers (``?return=check``, then the
page's hidden ``_return``): Continue and Back go back there."""


class PageMissing(Exception):
    """A page number outside the form."""


@dataclass
class Filling:
    gateway: Gateway
    draft: Draft
    form: FormSummary
    version: FormVersion
    defn: FormDefinition
    prefilled: set[str]
    from_account: set[str]
    """Pointers the portal filled from the account when the draft was started (the prefill
    cookie), marked "From your account"."""
    shown: dict[str, Any]
    """The draft's answers as its pages show them (``FormDefinition.as_shown``: an old
    "United States" as ``USA``), read once per request: the one view every page, check
    your answers, and what is saved and sent use (docs/portal.md, "Showing saved
    answers")."""


async def load(ctx: PageContext, draft_id: str) -> Filling:
    ctx.require("resident")
    gateway = await ctx.api()
    draft = await gateway.draft(draft_id)
    form = await gateway.form(draft.form)
    version = await gateway.version(draft.form, draft.version)
    defn = ctx.definition(version, title=form.localized_title(ctx.locale))
    cookie = ctx.request.cookies.get(ctx.codec.prefill_cookie)
    prefilled = set(draft.prefilled) | ctx.codec.prefilled(cookie, draft.id)
    from_account = ctx.codec.from_account(cookie, draft.id) - prefilled
    shown = defn.as_shown(draft.answers)
    return Filling(gateway, draft, form, version, defn, prefilled, from_account, shown)


def _page(pages: list[Page], n: int) -> Page:
    if n < 1 or n > len(pages):
        raise PageMissing()
    return pages[n - 1]


def merge_errors(first: list[FieldError], then: list[FieldError]) -> list[FieldError]:
    """Parse errors first (the value as typed), then schema errors on other fields."""
    out = list(first)
    seen = {e.pointer for e in first}
    for error in then:
        if error.pointer not in seen:
            seen.add(error.pointer)
            out.append(error)
    return out


def render_page(
    ctx: PageContext,
    filling: Filling,
    n: int,
    answers: dict[str, Any],
    errors: list[FieldError],
    raw: dict[str, str],
    status: int = 200,
    returning: bool = False,
) -> Response:
    """Page ``n`` for ``answers`` (``Filling.shown``, or what was just posted onto it).
    ``returning``: reached from check your answers (a Change link or an error link), so
    the page carries ``_return=check`` and Back goes to check your answers."""
    pages = filling.defn.pages(answers)
    page = _page(pages, n)
    fields = filling.defn.page_fields(page, answers)
    state = FieldState.build(
        answers, errors, raw, filling.prefilled, fields, from_account=filling.from_account
    )
    return ctx.render(
        "page.html",
        status=status,
        filling=filling,
        page=page,
        n=n,
        total=len(pages),
        fields_html=render_fields(environment(), fields, state, ctx.t),
        summary=error_summary(errors, fields, answers),
        back=f"/drafts/{filling.draft.id}/check"
        if returning
        else f"/drafts/{filling.draft.id}/pages/{n - 1}"
        if n > 1
        else f"/forms/{filling.form.slug}",
        action=f"/drafts/{filling.draft.id}/pages/{n}",
        returning=returning,
    )


@router.get("/drafts/{draft_id}")
async def resume(ctx: PageDep, draft_id: str) -> Response:
    await load(ctx, draft_id)
    return ctx.redirect(f"/drafts/{draft_id}/pages/1")


@router.get("/drafts/{draft_id}/pages/{n}")
async def show_page(
    ctx: PageDep,
    draft_id: str,
    n: int,
    check: Annotated[bool, Query()] = False,
    return_to: Annotated[str, Query(alias="return", max_length=20)] = "",
) -> Response:
    filling = await load(ctx, draft_id)
    answers = filling.shown
    errors: list[FieldError] = []
    if check:
        page = _page(filling.defn.pages(answers), n)
        fields = filling.defn.page_fields(page, answers)
        found = validate(filling.defn.schema, answers, fields, ctx.locale)
        errors = on_fields(found, fields, ctx.locale, answers)
    return render_page(ctx, filling, n, answers, errors, {}, returning=return_to == RETURN_CHECK)


@router.post("/drafts/{draft_id}/pages/{n}")
async def save_page(ctx: PageDep, draft_id: str, n: int) -> Response:
    filling = await load(ctx, draft_id)
    # The posted page is found, checked and followed in the answers as shown, and that is
    # what is saved.
    answers = filling.shown
    page = _page(filling.defn.pages(answers), n)
    fields = filling.defn.page_fields(page, answers)
    posted = await ctx.request.form()
    data = {key: [str(v) for v in posted.getlist(key)] for key in posted if key.startswith("/")}
    result = parse_fields(fields, data, answers, ctx.locale)
    # Switching an address type drops the other type's answers (docs/portal.md).
    filling.defn.drop_other_types(result.answers, page.pointers)
    updated: dict[str, Any] = pointers.prune(result.answers)
    action_text = str(posted.get("_action") or "continue")
    returning = posted.get("_return") == RETURN_CHECK
    base = f"/drafts/{draft_id}/pages/{n}"

    list_action = ListAction.parse(action_text)
    if list_action is not None:
        list_action.apply(updated, fields)
        await filling.gateway.save_draft(draft_id, updated)
        if result.errors:
            return render_page(ctx, filling, n, updated, result.errors, result.raw, 422, returning)
        target = list_action.pointer
        if list_action.verb == "add":
            items = pointers.get(updated, target)
            anchor = html_id(pointers.join(target, len(items) - 1)) if items else html_id(target)
        else:
            anchor = html_id(target.rsplit("/", 1)[0])
        query = f"?return={RETURN_CHECK}" if returning else ""
        return ctx.redirect(f"{base}{query}#{anchor}")

    await filling.gateway.save_draft(draft_id, updated)
    if action_text == "save":
        ctx.session.flash = ctx.t("saved")
        ctx.session.dirty = True
        return ctx.redirect("/applications")

    fields_now = filling.defn.page_fields(page, updated)
    found = validate(filling.defn.schema, updated, fields_now, ctx.locale)
    checked = on_fields(found, fields_now, ctx.locale, updated)
    errors = merge_errors(result.errors, checked)
    if errors:
        return render_page(ctx, filling, n, updated, errors, result.raw, 422, returning)
    pages = filling.defn.pages(updated)
    index = next((i for i, p in enumerate(pages) if p.id == page.id), n - 1)
    if returning:
        opened = _opened_by_change(filling.defn, pages, index, answers, updated, ctx.locale)
        if opened is not None:
            return ctx.redirect(f"/drafts/{draft_id}/pages/{opened}?return={RETURN_CHECK}")
        return ctx.redirect(f"/drafts/{draft_id}/check")
    if index + 1 >= len(pages):
        return ctx.redirect(f"/drafts/{draft_id}/check")
    return ctx.redirect(f"/drafts/{draft_id}/pages/{index + 2}")


def _opened_by_change(
    defn: FormDefinition,
    pages: list[Page],
    index: int,
    before: dict[str, Any],
    after: dict[str, Any],
    locale: str,
) -> int | None:
    """Of a page changed from check your answers (``pages[index]``, the pages for the
    answers ``after`` the change), the number of the first later page the change opened:
    one not shown for the answers ``before`` it, or one with a question now missing or
    wrong that was not before (a question it revealed there). None: back to check your
    answers. A page opened this way keeps the return marker, so each one after it is
    checked the same way in turn (docs/portal.md, "Change from check your answers")."""
    later = pages[index + 1 :]
    if not later:
        return None
    shown_before = {p.id for p in defn.pages(before)}
    found_before: list[FieldError] | None = None
    found_after = validate(defn.schema, after, defn.fields(after), locale)
    for offset, page in enumerate(later, start=index + 2):
        if page.id not in shown_before:
            return offset
        fields_after = defn.page_fields(page, after)
        now = {e.pointer for e in on_fields(found_after, fields_after, locale, after)}
        if not now:
            continue
        if found_before is None:
            found_before = validate(defn.schema, before, defn.fields(before), locale)
        fields_before = defn.page_fields(page, before)
        then = {e.pointer for e in on_fields(found_before, fields_before, locale, before)}
        if now - then:
            return offset
    return None


def idempotency_key(draft_id: str, answers: dict[str, Any]) -> str:
    """Stable for one draft with one set of answers: a double click sends the same key (the
    API returns the first result); changed answers after an error send a new one."""
    canonical = json.dumps(answers, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "portal-" + hashlib.sha256(f"{draft_id}\n{canonical}".encode()).hexdigest()[:48]


async def render_check(
    ctx: PageContext,
    filling: Filling,
    errors: list[tuple[str, str]],
    status: int = 200,
    keep_ticked: bool = False,
) -> Response:
    """Check your answers for the draft's answers as shown (``Filling.shown``). When the
    resident's answers are not kept yet, "Accept and send" comes with a choice to keep them
    (docs/portal.md, "Keeping answers, offered in the journey"): unticked, or ``keep_ticked``
    as the resident left it on a send that was refused."""
    shown = filling.shown
    built = built_pages(filling.defn, shown)  # once, for the summary and the key
    answers = visible_answers(filling.defn, shown, built)
    gateway = filling.gateway
    sharing = await gateway.sharing(filling.form.slug, filling.draft.version)
    names = {a.code: a.name for a in await gateway.agencies()}
    try:
        offer_keep = not (await gateway.profile()).keep
    except ApiError:  # the profile cannot be read: no choice rather than a wrong one
        offer_keep = False
    return ctx.render(
        "check.html",
        status=status,
        filling=filling,
        sections=sections(filling.defn, shown, ctx.t, built),
        receivers=receivers(sharing, filling.defn, names, ctx.t),
        summary=errors,
        key=idempotency_key(filling.draft.id, answers),
        offer_keep=offer_keep,
        keep_ticked=keep_ticked,
    )


SENT_DRAFT = "draft:"
"""The prefix of a sent draft's id among the session's remembered submissions
(``Session.submitted``): reloading its check your answers shows what became of it."""


def _names_a_draft(draft_id: str) -> bool:
    """Whether ``draft_id`` could name a draft (the submissions service's ids are UUIDs):
    anything else is "Page not found", not an application that is no longer saved."""
    try:
        uuid.UUID(draft_id)
    except ValueError:
        return False
    return True


@router.get("/drafts/{draft_id}/check")
async def check(ctx: PageDep, draft_id: str) -> Response:
    try:
        filling = await load(ctx, draft_id)
    except ApiError as exc:
        if exc.status != 404 or not _names_a_draft(draft_id):
            raise
        # Sent since (a reload, Back after sending): its application, or a page saying the
        # draft is no longer saved with a link to My applications, not "Page not found".
        sent = ctx.session.submitted.get(SENT_DRAFT + draft_id)
        if sent:
            ctx.session.flash = ctx.t("draft_already_sent")
            ctx.session.dirty = True
            return ctx.redirect(f"/applications/{sent}")
        return ctx.render("draft_gone.html", status=404)
    return await render_check(ctx, filling, [])


def _link_errors(filling: Filling, errors: list[FieldError], locale: str) -> list[tuple[str, str]]:
    """Each API error as a link to the page (and the field) that can fix it, for the answers
    as shown."""
    answers = filling.shown
    fields = filling.defn.fields(answers)
    placed = {e.pointer: e for e in on_fields(errors, fields, locale, answers)}
    chosen = answering(fields, answers)
    out = []
    for error in errors:
        owner = next(
            (
                p
                for p in sorted(placed, key=len, reverse=True)
                if pointers.is_within(error.pointer, p)
            ),
            None,
        )
        message = placed[owner].message if owner else error.message
        page = filling.defn.page_of(owner or error.pointer, answers) if error.pointer else None
        n = (page or 0) + 1
        anchor = (
            "#" + (chosen[owner].html_id if owner in chosen else html_id(owner)) if owner else ""
        )
        out.append(
            (f"/drafts/{filling.draft.id}/pages/{n}?check=1&return={RETURN_CHECK}{anchor}", message)
        )
    return out


@router.post("/drafts/{draft_id}/submit")
async def submit(
    ctx: PageDep,
    draft_id: str,
    key: Annotated[str, Form()] = "",
    form: Annotated[str, Form()] = "",
    keep: Annotated[str | None, Form(max_length=8)] = None,
) -> Response:
    earlier = ctx.session.submitted.get(key) if key else None
    try:
        filling = await load(ctx, draft_id)
    except ApiError as exc:
        if exc.status != 404:
            raise
        # The draft is gone because a first click already filed it: show that filing.
        if earlier:
            return ctx.redirect(f"/applications/{earlier}/confirmation")
        latest = await _latest_submission(await ctx.api(), form)
        if latest:
            return ctx.redirect(f"/applications/{latest}/confirmation")
        raise
    # What check your answers showed is what is sent (a saved "United States" as ``USA``).
    answers = visible_answers(filling.defn, filling.shown)
    idem = idempotency_key(draft_id, answers)
    # Keeping was off and this send turned it on: only then may a refusal turn it off again
    # (withdrawing erases every kept value; the check page may be older than the profile).
    turned_on = False
    if keep == "yes":
        try:
            kept = (await filling.gateway.profile()).keep
        except ApiError:  # not known: turned on, and never turned off again here
            kept = None
        if not kept:
            # Consent first, so the answers of this very submission are kept for prefill.
            await filling.gateway.set_consent(True)
            turned_on = kept is False
    submission = None
    for attempt in range(4):
        try:
            submission = await filling.gateway.submit(
                filling.form.slug, filling.draft.version, answers, draft_id, idem
            )
            break
        except ApiError as exc:
            if exc.status == 409 and attempt < 3:
                await asyncio.sleep(0.5 * (attempt + 1))  # the same key is still in flight
                continue
            if exc.status in (400, 409, 422):
                errors = from_api(exc.errors)
                links = _link_errors(filling, errors, ctx.locale) if errors else []
                if not links:
                    links = [(f"/drafts/{draft_id}/pages/1", exc.detail or ctx.t("unavailable"))]
                if turned_on and exc.status != 409:  # 409: that send is still in flight
                    await _undo_consent(filling.gateway)
                return await render_check(
                    ctx, filling, links, status=422, keep_ticked=keep == "yes"
                )
            raise
    assert submission is not None
    ctx.session.remember_submission(SENT_DRAFT + draft_id, submission.id)
    ctx.session.remember_submission(idem, submission.id)
    if key and key != idem:
        ctx.session.remember_submission(key, submission.id)
    return ctx.redirect(f"/applications/{submission.id}/confirmation")


async def _undo_consent(gateway: Gateway) -> None:
    """Keeping turned off again after a send that was refused: the box said "save my answers"
    of this form as it is sent, and nothing was sent (keeping was off before, or the box
    would not have been offered, so turning it off erases nothing kept). The check page shows
    the box ticked as the resident left it, for the next try. If the call fails, keeping
    stays on, as the resident asked, and the profile page shows it."""
    try:
        await gateway.set_consent(False)
    except (ApiError, ApiUnavailable):
        log.warning("keeping answers could not be turned off again after a refused send")


async def _latest_submission(gateway: Gateway, form: str) -> str | None:
    """The resident's newest submission of ``form`` in the last few minutes, if any."""
    if not form:
        return None
    recent = datetime.now(UTC) - timedelta(minutes=5)
    for item in await gateway.submissions():
        try:
            at = datetime.fromisoformat(item.submitted_at.replace("Z", "+00:00"))
        except ValueError:
            continue
        if item.form == form and at.tzinfo is not None and at >= recent:
            return item.id
    return None
