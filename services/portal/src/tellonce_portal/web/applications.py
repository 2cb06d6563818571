"""My applications: sent ones with their timeline across agencies, saved drafts to resume, the
confirmation page and the PDF receipt."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter
from starlette.responses import Response

from tellonce_portal.api import ApiError, Draft, Gateway, Submission
from tellonce_portal.deps import PageContext, PageDep
from tellonce_portal.forms import pointers
from tellonce_portal.forms.schema import FormDefinition
from tellonce_portal.forms.summary import sections
from tellonce_portal.i18n import Translator, in_state_time, state_zone
from tellonce_shared.middleware import head_answer, head_only

router = APIRouter()


def local_datetime(t: Translator, value: str | None) -> str:
    """An ISO timestamp in the state's time, with its zone named: "25 November 2026 at
    6:05 a.m. Eastern Time" / "25 de noviembre de 2026 a las 6:05 a. m., hora del Este"
    (daylight saving time included). A bare date is shown as ``t.date`` does, a timestamp
    without an offset is read as UTC, and one that does not parse as it came."""
    if not value or "T" not in value:
        return t.date(value)
    if state_zone() is None:
        return t.datetime(value)
    local = in_state_time(value)
    if local is None:
        return value
    hour = local.hour % 12 or 12
    clock = f"{hour}:{local.minute:02d} {t('time_am' if local.hour < 12 else 'time_pm')}"
    return t("time_in_state", date=t.day(local.date()), time=clock)


@dataclass
class AgencyStatus:
    """Where one agency is with an application: its latest status (an agency's own update,
    else the delivery's), with the agency's message when it needs something."""

    agency: str
    name: str
    status: str
    message: str | None
    entry: int | None
    """The index of that update in the submission's timeline; None for a delivery state."""


def agency_statuses(submission: Submission, names: dict[str, str]) -> list[AgencyStatus]:
    """Per receiving agency, the latest of its timeline entries (they come oldest first)
    or, before it posted any, its delivery's state."""
    latest: dict[str, int] = {}
    for index, entry in enumerate(submission.timeline):
        if entry.agency and entry.status:
            latest[entry.agency] = index
    out = []
    for delivery in submission.deliveries:
        name = names.get(delivery.agency, delivery.agency)
        update = latest.get(delivery.agency)
        if update is None:
            out.append(AgencyStatus(delivery.agency, name, delivery.status, None, None))
        else:
            last = submission.timeline[update]
            out.append(AgencyStatus(delivery.agency, name, last.status, last.message, update))
    return out


async def _titles(gateway: Gateway, locale: str) -> dict[str, str]:
    return {f.slug: f.localized_title(locale) for f in await gateway.forms()}


async def _agency_names(gateway: Gateway) -> dict[str, str]:
    return {a.code: a.name for a in await gateway.agencies()}


@dataclass
class SavedDraft:
    """A saved application as the resident's pages describe it: when it was last saved (in
    the state's time), how far it got, and where "Continue" takes them."""

    draft: Draft
    saved: str
    """"25 November 2026 at 5:00 a.m. Eastern Time"; empty when the API gave no time."""
    reached: int
    """The last page holding an answer (1-based); 0 when nothing is answered yet."""
    total: int
    href: str


def saved_draft(ctx: PageContext, draft: Draft, defn: FormDefinition | None) -> SavedDraft:
    """``draft`` described for the start page and My applications (``defn``: its version's
    questions, None when the version could not be read: then no page is named)."""
    reached = total = 0
    if defn is not None:
        pages = defn.pages(draft.answers)
        total = len(pages)
        for n, page in enumerate(pages, start=1):
            if any(pointers.get(draft.answers, p) not in (None, "", [], {}) for p in page.pointers):
                reached = n
    saved = local_datetime(ctx.t, draft.updated_at) if draft.updated_at else ""
    return SavedDraft(draft, saved, reached, total, f"/drafts/{draft.id}/pages/{max(reached, 1)}")


def newest_draft(drafts: list[Draft]) -> Draft | None:
    """The most recently saved draft (ISO timestamps sort as text; one without a time last)."""
    return max(drafts, key=lambda d: d.updated_at or "", default=None)


async def draft_definition(
    ctx: PageContext, gateway: Gateway, draft: Draft, title: str
) -> FormDefinition | None:
    """The questions of the version ``draft`` is pinned to, as its pages build them (the
    form's ``title``: the same kept definition); None if the version cannot be read."""
    try:
        version = await gateway.version(draft.form, draft.version)
    except ApiError:
        return None
    return ctx.definition(version, title=title)


@router.get("/applications")
async def applications(ctx: PageDep) -> Response:
    ctx.require("resident")
    gateway = await ctx.api()
    submissions = await gateway.submissions()
    drafts = await gateway.drafts()
    titles = await _titles(gateway, ctx.locale)
    # Each saved draft told apart by when it was saved and how far it got (newest first).
    definitions: dict[tuple[str, int], FormDefinition | None] = {}
    saved = []
    for draft in sorted(drafts, key=lambda d: d.updated_at or "", reverse=True):
        pinned = (draft.form, draft.version)
        if pinned not in definitions:
            title = titles.get(draft.form, draft.form)
            definitions[pinned] = await draft_definition(ctx, gateway, draft, title)
        saved.append(saved_draft(ctx, draft, definitions[pinned]))
    return ctx.render("applications.html", submissions=submissions, drafts=saved, titles=titles)


@router.get("/applications/{submission_id}/confirmation")
async def confirmation(ctx: PageDep, submission_id: str) -> Response:
    ctx.require("resident")
    gateway = await ctx.api()
    submission = await gateway.submission(submission_id)
    return ctx.render(
        "confirmation.html",
        submission=submission,
        titles=await _titles(gateway, ctx.locale),
        statuses=agency_statuses(submission, await _agency_names(gateway)),
    )


@router.get("/applications/{submission_id}")
async def application(ctx: PageDep, submission_id: str) -> Response:
    ctx.require("resident")
    gateway = await ctx.api()
    submission = await gateway.submission(submission_id)
    answer_sections = []
    if submission.answers:
        try:
            version = await gateway.version(submission.form, submission.version)
        except ApiError:
            version = None
        if version is not None:
            defn = ctx.definition(version)
            answer_sections = [s for s in sections(defn, submission.answers, ctx.t) if s.rows]
    names = await _agency_names(gateway)
    return ctx.render(
        "application.html",
        submission=submission,
        titles=await _titles(gateway, ctx.locale),
        agencies=names,
        statuses=agency_statuses(submission, names),
        answer_sections=answer_sections,
        when=lambda value: local_datetime(ctx.t, value),
    )


@router.get("/applications/{submission_id}/receipt.pdf")
async def receipt(ctx: PageDep, submission_id: str) -> Response:
    """The receipt. A HEAD asks the API with a HEAD, which renders nothing: the same status
    and fields, without a ``Content-Length`` (only the render would know it)."""
    ctx.require("resident")
    head = head_only(ctx.request)
    download = await (await ctx.api()).receipt(submission_id, ctx.locale, head=head)
    fields = {"Content-Disposition": f'attachment; filename="{download.filename}"'}
    if head:
        return ctx.finish(head_answer(download.media_type, fields))
    return ctx.finish(Response(download.content, media_type=download.media_type, headers=fields))
