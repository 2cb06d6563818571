from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_registry.models import Agency
from tellonce_registry.paging import NUL


async def get(session: AsyncSession, code: str) -> Agency | None:
    if NUL in code:  # no code holds one (nor can PostgreSQL compare it): no such agency
        return None
    return await session.get(Agency, code)


async def page(session: AsyncSession, after: str | None, limit: int) -> list[Agency]:
    query = select(Agency).order_by(Agency.code).limit(limit)
    if after is not None:
        query = query.where(Agency.code > after)
    return list((await session.scalars(query)).all())


def add(session: AsyncSession, code: str, name: str) -> Agency:
    agency = Agency(code=code, name=name)
    session.add(agency)
    return agency
