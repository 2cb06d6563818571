"""A resident's referrals: programs they may be eligible for after what they filed, each with
the reason in their language and a one-click start (a draft prefilled from what they already
told, made by the submissions service; then the usual draft pages)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from tellonce_portal.api import ApiError, seg
from tellonce_portal.deps import PageDep
from tellonce_shared.middleware import head_only

router = APIRouter()


@router.get("/referrals")
async def referrals(ctx: PageDep) -> Response:
    ctx.require("resident")
    api = await ctx.api()
    # Listing makes the referrals the resident is shown (the API evaluates their rules): a
    # HEAD shows nothing, so it asks with a HEAD (the same status; no content, no items).
    method = "HEAD" if head_only(ctx.request) else "GET"
    body = await api._call(method, "/api/v1/referrals")
    items = [i for i in (body or {}).get("items") or [] if isinstance(i, dict)]
    titles: dict[str, str] = {}
    for form in {str(i.get("to_form")) for i in items}:
        try:
            titles[form] = (await api.form(form)).localized_title(ctx.locale)
        except ApiError:
            titles[form] = form
    return ctx.render("dashboard/referrals.html", items=items, titles=titles)


@router.post("/referrals/{referral_id}/start")
async def start(ctx: PageDep, referral_id: str) -> Response:
    ctx.require("resident")
    api = await ctx.api()
    try:
        started: Any = await api._call("POST", f"/api/v1/referrals/{seg(referral_id)}/start")
    except ApiError as exc:
        if exc.status == 404:
            return ctx.render(
                "error.html",
                status=404,
                title=ctx.t("not_found"),
                body=ctx.t("not_found_body"),
                detail="",
            )
        raise
    draft = (started or {}).get("draft") or {}
    return ctx.redirect(f"/drafts/{draft.get('id')}")
