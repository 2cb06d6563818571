"""My applications: sent ones with their timeline across agencies, saved drafts to resume, the
confirmation page and the PDF receipt."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from tellonce_portal.api import ApiError, Gateway
from tellonce_portal.deps import PageDep
from tellonce_portal.forms.summary import sections

router = APIRouter()


async def _titles(gateway: Gateway, locale: str) -> dict[str, str]:
    return {f.slug: f.localized_title(locale) for f in await gateway.forms()}


async def _agency_names(gateway: Gateway) -> dict[str, str]:
    return {a.code: a.name for a in await gateway.agencies()}


@router.get("/applications")
async def applications(ctx: PageDep) -> Response:
    ctx.require("resident")
    gateway = await ctx.api()
    submissions = await gateway.submissions()
    drafts = await gateway.drafts()
    return ctx.render(
        "applications.html",
        submissions=submissions,
        drafts=drafts,
        titles=await _titles(gateway, ctx.locale),
    )


@router.get("/applications/{submission_id}/confirmation")
async def confirmation(ctx: PageDep, submission_id: str) -> Response:
    ctx.require("resident")
    gateway = await ctx.api()
    submission = await gateway.submission(submission_id)
    return ctx.render(
        "confirmation.html",
        submission=submission,
        titles=await _titles(gateway, ctx.locale),
        agencies=await _agency_names(gateway),
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
    return ctx.render(
        "application.html",
        submission=submission,
        titles=await _titles(gateway, ctx.locale),
        agencies=await _agency_names(gateway),
        answer_sections=answer_sections,
    )


@router.get("/applications/{submission_id}/receipt.pdf")
async def receipt(ctx: PageDep, submission_id: str) -> Response:
    ctx.require("resident")
    download = await (await ctx.api()).receipt(submission_id, ctx.locale)
    return ctx.finish(
        Response(
            download.content,
            media_type=download.media_type,
            headers={"Content-Disposition": f'attachment; filename="{download.filename}"'},
        )
    )
