from __future__ import annotations

from fastapi import APIRouter

from tellonce_registry.agencies import service
from tellonce_registry.agencies.schemas import AgencyCreate, AgencyOut, AgencyPage
from tellonce_registry.deps import AdminOnly, SessionDep
from tellonce_registry.paging import Cursor, Limit, after_key, next_cursor

router = APIRouter(prefix="/api/v1/agencies", tags=["catalog"])


@router.get("")
async def list_agencies(
    session: SessionDep, limit: Limit = 100, cursor: Cursor = None
) -> AgencyPage:
    rows = await service.page(session, after_key(cursor), limit)
    return AgencyPage(
        items=[AgencyOut.model_validate(a) for a in rows[:limit]],
        next_cursor=next_cursor([a.code for a in rows], limit),
    )


@router.post("", status_code=201, dependencies=[AdminOnly])
async def create_agency(body: AgencyCreate, session: SessionDep) -> AgencyOut:
    return AgencyOut.model_validate(await service.create(session, body.code, body.name))


@router.get("/{code}")
async def get_agency(code: str, session: SessionDep) -> AgencyOut:
    return AgencyOut.model_validate(await service.get(session, code))
