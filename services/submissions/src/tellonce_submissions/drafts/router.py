"""Drafts routes: a resident's own drafts only (someone else's is a 404)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from tellonce_shared.auth import Principal, require_roles
from tellonce_submissions.context import ClockDep, RegistryDep, SealerDep, SettingsDep
from tellonce_submissions.deps import SessionDep
from tellonce_submissions.drafts.schemas import DraftCreate, DraftOut, DraftPage, DraftUpdate
from tellonce_submissions.drafts.service import DraftService

router = APIRouter(prefix="/api/v1/drafts", tags=["drafts"])

Resident = Annotated[Principal, require_roles("resident")]


async def _service(
    session: SessionDep,
    registry: RegistryDep,
    sealer: SealerDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> DraftService:
    return DraftService(session, registry=registry, sealer=sealer, settings=settings, now=clock())


Drafts = Annotated[DraftService, Depends(_service)]


@router.post("", status_code=201, response_model=DraftOut)
async def create_draft(body: DraftCreate, principal: Resident, drafts: Drafts) -> DraftOut:
    """Start a draft pinned to a version; ``prefill: true`` fills it from the profile."""
    return await drafts.create(principal.sub, body)


@router.get("", response_model=DraftPage)
async def list_drafts(principal: Resident, drafts: Drafts) -> DraftPage:
    return DraftPage(items=await drafts.list_own(principal.sub))


@router.get("/{draft_id}", response_model=DraftOut)
async def get_draft(draft_id: str, principal: Resident, drafts: Drafts) -> DraftOut:
    return await drafts.get(principal.sub, draft_id)


@router.patch("/{draft_id}", response_model=DraftOut)
async def update_draft(
    draft_id: str, body: DraftUpdate, principal: Resident, drafts: Drafts
) -> DraftOut:
    """Replace the answers (the retention clock restarts)."""
    return await drafts.update(principal.sub, draft_id, body.answers)


@router.delete("/{draft_id}", status_code=204)
async def delete_draft(draft_id: str, principal: Resident, drafts: Drafts) -> Response:
    await drafts.delete(principal.sub, draft_id)
    return Response(status_code=204)
