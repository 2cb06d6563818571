from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_registry.models import DataElement
from tellonce_registry.paging import NUL


async def get(session: AsyncSession, element_id: str) -> DataElement | None:
    if NUL in element_id:  # no element id holds one: such an id names none
        return None
    return await session.get(DataElement, element_id)


async def page(
    session: AsyncSession, after: str | None, limit: int, prefix: str | None
) -> list[DataElement]:
    query = select(DataElement).order_by(DataElement.id).limit(limit)
    if after is not None:
        query = query.where(DataElement.id > after)
    if prefix:
        query = query.where(DataElement.id.startswith(prefix, autoescape=True))
    return list((await session.scalars(query)).all())


async def all_elements(session: AsyncSession) -> list[DataElement]:
    return list((await session.scalars(select(DataElement).order_by(DataElement.id))).all())


async def by_ids(session: AsyncSession, ids: Iterable[str]) -> dict[str, DataElement]:
    wanted = {i for i in ids if NUL not in i}
    if not wanted:
        return {}
    rows = await session.scalars(select(DataElement).where(DataElement.id.in_(wanted)))
    return {e.id: e for e in rows}


def add(session: AsyncSession, element: DataElement) -> None:
    session.add(element)
