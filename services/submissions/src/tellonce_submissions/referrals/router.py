"""Referral routes: a resident's own referrals only (someone else's is a 404)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from tellonce_shared.auth import Principal, require_roles
from tellonce_shared.middleware import head_only
from tellonce_submissions.context import ClockDep, RegistryDep, SealerDep, SettingsDep
from tellonce_submissions.deps import SessionDep
from tellonce_submissions.performance.catalog import CatalogDep
from tellonce_submissions.referrals.schemas import ReferralPage, ReferralStarted
from tellonce_submissions.referrals.service import ReferralService

router = APIRouter(prefix="/api/v1/referrals", tags=["referrals"])

Resident = Annotated[Principal, require_roles("resident")]


def _service(
    session: SessionDep,
    catalog: CatalogDep,
    registry: RegistryDep,
    sealer: SealerDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> ReferralService:
    return ReferralService(
        session,
        catalog=catalog,
        registry=registry,
        sealer=sealer,
        settings=settings,
        now=clock(),
    )


Referrals = Annotated[ReferralService, Depends(_service)]


@router.get("", response_model=ReferralPage)
async def list_referrals(
    request: Request, principal: Resident, referrals: Referrals
) -> ReferralPage:
    """Programs the resident may be eligible for, from the rules matching their submissions.
    A HEAD shows the resident nothing, so it evaluates no submission (no referral is made)."""
    return await referrals.list_own(principal.sub, evaluate=not head_only(request))


@router.post("/{referral_id}/start", status_code=201, response_model=ReferralStarted)
async def start_referral(
    referral_id: str, principal: Resident, referrals: Referrals
) -> ReferralStarted:
    """Start the referred form: a draft prefilled from what the resident already told."""
    return await referrals.start(principal.sub, referral_id)
