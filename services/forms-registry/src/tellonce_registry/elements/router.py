from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tellonce_registry.deps import AdminOnly, SessionDep
from tellonce_registry.elements import service
from tellonce_registry.elements.schemas import ElementCreate, ElementOut, ElementPage
from tellonce_registry.paging import Cursor, Limit, after_key, next_cursor
from tellonce_shared.params import Text

router = APIRouter(prefix="/api/v1/elements", tags=["catalog"])


@router.get("")
async def list_elements(
    session: SessionDep,
    limit: Limit = 100,
    cursor: Cursor = None,
    prefix: Annotated[Text | None, Query(max_length=100)] = None,
) -> ElementPage:
    rows = await service.page(session, after_key(cursor), limit, prefix)
    return ElementPage(
        items=[service.to_out(e) for e in rows[:limit]],
        next_cursor=next_cursor([e.id for e in rows], limit),
    )


@router.post("", status_code=201, dependencies=[AdminOnly])
async def create_element(body: ElementCreate, session: SessionDep) -> ElementOut:
    return service.to_out(await service.create(session, body))


@router.get("/{element_id}")
async def get_element(element_id: str, session: SessionDep) -> ElementOut:
    return service.to_out(await service.get(session, element_id))
