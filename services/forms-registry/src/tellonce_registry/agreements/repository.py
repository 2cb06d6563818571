from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_registry.models import Agreement, Form, FormVersion

DRAFT = "draft"


async def form_is_public(session: AsyncSession, form_id: int) -> bool:
    """Residents see the form: it has a published (or retired) version, not only drafts."""
    query = select(exists().where(FormVersion.form_id == form_id, FormVersion.status != DRAFT))
    return bool(await session.scalar(query))


async def for_form(session: AsyncSession, form_id: int) -> list[Agreement]:
    query = select(Agreement).where(Agreement.form_id == form_id).order_by(Agreement.agency_code)
    return list((await session.scalars(query)).all())


async def find(session: AsyncSession, form_id: int, agency: str) -> Agreement | None:
    return await session.scalar(
        select(Agreement).where(Agreement.form_id == form_id, Agreement.agency_code == agency)
    )


async def get(
    session: AsyncSession, agreement_id: int, *, for_update: bool = False
) -> Agreement | None:
    """``for_update``: its row locked first (a delete: of two at once, the second waits and
    finds none, a 404)."""
    return await session.get(
        Agreement, agreement_id, with_for_update=for_update, populate_existing=for_update
    )


async def page(
    session: AsyncSession,
    *,
    form_id: int | None,
    agency: str | None,
    after: int | None,
    limit: int,
    public_only: bool = False,
) -> list[tuple[Agreement, str]]:
    query = (
        select(Agreement, Form.slug)
        .join(Form, Form.id == Agreement.form_id)
        .order_by(Agreement.id)
        .limit(limit)
    )
    if form_id is not None:
        query = query.where(Agreement.form_id == form_id)
    if agency is not None:
        query = query.where(Agreement.agency_code == agency)
    if after is not None:
        query = query.where(Agreement.id > after)
    if public_only:
        query = query.where(
            exists().where(FormVersion.form_id == Agreement.form_id, FormVersion.status != DRAFT)
        )
    return [(a, slug) for a, slug in (await session.execute(query)).all()]


def add(session: AsyncSession, agreement: Agreement) -> None:
    session.add(agreement)


async def delete(session: AsyncSession, agreement: Agreement) -> None:
    await session.delete(agreement)
