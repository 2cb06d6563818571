"""Queries on OAuth clients."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_identity.models import Client


async def by_id(session: AsyncSession, client_id: str) -> Client | None:
    return await session.get(Client, client_id)


async def all_clients(session: AsyncSession, agency: str | None) -> Sequence[Client]:
    stmt = select(Client).order_by(Client.created_at, Client.client_id)
    if agency is not None:
        stmt = stmt.where(Client.agency == agency)
    return (await session.execute(stmt)).scalars().all()


def add(session: AsyncSession, client: Client) -> None:
    session.add(client)
