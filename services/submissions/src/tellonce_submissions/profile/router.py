"""Profile routes: a resident sees, corrects and erases what is kept for prefill."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response

from tellonce_shared.auth import Principal, require_roles
from tellonce_submissions.context import ClockDep, RegistryDep, SealerDep
from tellonce_submissions.deps import SessionDep
from tellonce_submissions.profile import service
from tellonce_submissions.profile.schemas import ConsentUpdate, ProfileOut, ValueUpdate

router = APIRouter(prefix="/api/v1/profile", tags=["profile"])

Resident = Annotated[Principal, require_roles("resident")]


@router.get("", response_model=ProfileOut)
async def get_profile(
    principal: Resident,
    session: SessionDep,
    sealer: SealerDep,
    registry: RegistryDep,
    reveal: bool = False,
) -> ProfileOut:
    """The kept element values; restricted ones masked unless ``?reveal=true``."""
    return await service.read(session, principal.sub, sealer, reveal=reveal, registry=registry)


@router.put("/consent", response_model=ProfileOut)
async def put_consent(
    body: ConsentUpdate,
    principal: Resident,
    session: SessionDep,
    sealer: SealerDep,
    registry: RegistryDep,
    clock: ClockDep,
) -> ProfileOut:
    """``keep: true`` keeps mapped answers of future submissions; ``false`` erases them."""
    await service.set_consent(session, principal.sub, body.keep, clock())
    return await service.read(session, principal.sub, sealer, reveal=False, registry=registry)


@router.delete("", status_code=204)
async def erase_profile(principal: Resident, session: SessionDep) -> Response:
    """Erase every kept value and the consent."""
    await service.erase(session, principal.sub)
    return Response(status_code=204)


@router.put("/values/{element}", response_model=ProfileOut)
async def correct_value(
    element: str,
    body: ValueUpdate,
    principal: Resident,
    session: SessionDep,
    sealer: SealerDep,
    registry: RegistryDep,
    clock: ClockDep,
) -> ProfileOut:
    """Correct one kept value."""
    await service.correct(
        session, principal.sub, element, body.value, sealer=sealer, registry=registry, now=clock()
    )
    return await service.read(session, principal.sub, sealer, reveal=False, registry=registry)


@router.delete("/values/{element}", status_code=204)
async def erase_value(element: str, principal: Resident, session: SessionDep) -> Response:
    await service.remove_value(session, principal.sub, element)
    return Response(status_code=204)
