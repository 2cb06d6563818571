"""The resident's profile: the element values kept for prefill, consent, and erase."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from starlette.responses import Response

from tellonce_portal.api import ApiError, ApiUnavailable
from tellonce_portal.deps import PageDep

router = APIRouter()


@router.get("/profile")
async def profile(ctx: PageDep) -> Response:
    ctx.require("resident")
    gateway = await ctx.api()
    kept = await gateway.profile()
    labels: dict[str, str] = {}
    if kept.values:
        try:  # each kept value named by its element's label, in the page's language
            labels = await gateway.element_labels(ctx.locale)
        except (ApiError, ApiUnavailable):
            labels = {}  # the element's id, rather than no page
    return ctx.render("profile.html", profile=kept, labels=labels)


@router.post("/profile/consent")
async def consent(ctx: PageDep, keep: Annotated[str | None, Form()] = None) -> Response:
    ctx.require("resident")
    await (await ctx.api()).set_consent(keep == "yes")
    ctx.session.flash = ctx.t("consent_saved")
    ctx.session.dirty = True
    return ctx.redirect("/profile")


@router.post("/profile/erase")
async def erase(ctx: PageDep) -> Response:
    ctx.require("resident")
    await (await ctx.api()).erase_profile()
    ctx.session.flash = ctx.t("erased")
    ctx.session.dirty = True
    return ctx.redirect("/profile")
