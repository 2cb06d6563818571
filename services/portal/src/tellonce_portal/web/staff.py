"""Agency staff: the inbox of deliveries to their agency (only the fields its agreement
allows), one delivery's answers, and posting a status the resident then sees."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query
from starlette.responses import Response

from tellonce_portal.api import ApiError, Delivery, Gateway
from tellonce_portal.deps import PageDep
from tellonce_portal.forms import pointers

router = APIRouter()

STATUSES = ("received", "in_review", "needs_info", "approved", "denied")
MAX_PAGES = 20


async def _all_deliveries(gateway: Gateway) -> list[Delivery]:
    """The agency's feed, oldest first, read to the end (bounded)."""
    items: list[Delivery] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = await gateway.deliveries(after=cursor, limit=100)
        items.extend(page.items)
        if not page.next_cursor or not page.items:
            break
        cursor = page.next_cursor
    return items


def flat_answers(answers: object, prefix: str = "") -> list[tuple[str, str]]:
    """(pointer, value) rows of a delivered answers document."""
    if isinstance(answers, dict):
        rows: list[tuple[str, str]] = []
        for key, value in answers.items():
            rows.extend(flat_answers(value, pointers.join(prefix, key)))
        return rows
    if isinstance(answers, list):
        rows = []
        for index, value in enumerate(answers):
            rows.extend(flat_answers(value, pointers.join(prefix, index)))
        return rows
    if isinstance(answers, bool):
        return [(prefix, "Yes" if answers else "No")]
    return [(prefix, "" if answers is None else str(answers))]


@router.get("/inbox")
async def inbox(ctx: PageDep) -> Response:
    ctx.require("agency")
    deliveries = await _all_deliveries(await ctx.api())
    deliveries.reverse()
    return ctx.render("inbox.html", deliveries=deliveries)


@router.get("/inbox/{delivery_id}")
async def delivery(
    ctx: PageDep, delivery_id: str, posted: Annotated[bool, Query()] = False
) -> Response:
    ctx.require("agency")
    found = next((d for d in await _all_deliveries(await ctx.api()) if d.id == delivery_id), None)
    if found is None:
        raise ApiError(404, {"detail": f"No delivery {delivery_id} for your agency."})
    return ctx.render(
        "delivery.html",
        delivery=found,
        rows=flat_answers(found.answers),
        statuses=STATUSES,
        errors=[],
        posted=posted,
    )


@router.post("/inbox/{delivery_id}/status")
async def post_status(
    ctx: PageDep,
    delivery_id: str,
    submission_id: Annotated[str, Form()] = "",
    status: Annotated[str, Form()] = "",
    message: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    ctx.require("agency")
    gateway = await ctx.api()
    errors: list[tuple[str, str]] = []
    if status not in STATUSES:
        errors.append(("status", "Select a status"))
    if status == "needs_info" and not message.strip():
        errors.append(("message", "Say what information you need"))
    if not errors:
        try:
            await gateway.post_status(submission_id, status, message.strip() or None)
        except ApiError as exc:
            errors.append(("status", exc.detail or "The status could not be posted"))
    if not errors:
        return ctx.redirect(f"/inbox/{delivery_id}?posted=true")
    found = next((d for d in await _all_deliveries(gateway) if d.id == delivery_id), None)
    if found is None:
        raise ApiError(404, {"detail": f"No delivery {delivery_id} for your agency."})
    return ctx.render(
        "delivery.html",
        status=422,
        delivery=found,
        rows=flat_answers(found.answers),
        statuses=STATUSES,
        errors=errors,
        posted=False,
    )
