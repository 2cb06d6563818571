"""Agencies own forms and receive answers."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_registry.agencies import repository
from tellonce_registry.db import flush_new
from tellonce_registry.models import Agency
from tellonce_shared.problems import Conflict, NotFound


async def create(session: AsyncSession, code: str, name: str) -> Agency:
    already = f"The agency {code} already exists."
    if await repository.get(session, code) is not None:
        raise Conflict(already)
    agency = repository.add(session, code, name)
    await flush_new(session, already)
    return agency


async def get(session: AsyncSession, code: str) -> Agency:
    agency = await repository.get(session, code)
    if agency is None:
        raise NotFound(f"No agency {code}.")
    return agency


async def page(session: AsyncSession, after: str | None, limit: int) -> list[Agency]:
    return await repository.page(session, after, limit + 1)
