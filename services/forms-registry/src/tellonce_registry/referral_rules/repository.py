"""Queries of referral rules."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_registry.models import Form
from tellonce_registry.referral_rules.models import ReferralRule


async def page(
    session: AsyncSession, *, form: str | None, after: str | None, limit: int
) -> Sequence[ReferralRule]:
    stmt = select(ReferralRule).order_by(ReferralRule.id).limit(limit)
    if form is not None:
        stmt = stmt.where(ReferralRule.from_form == form)
    if after is not None:
        stmt = stmt.where(ReferralRule.id > after)
    return (await session.execute(stmt)).scalars().all()


async def get(
    session: AsyncSession, rule_id: str, *, for_update: bool = False
) -> ReferralRule | None:
    return await session.get(
        ReferralRule, rule_id, with_for_update=for_update, populate_existing=for_update
    )


def add(session: AsyncSession, rule: ReferralRule) -> None:
    session.add(rule)


async def remove(session: AsyncSession, rule: ReferralRule) -> None:
    await session.delete(rule)


async def existing_forms(session: AsyncSession, slugs: Sequence[str]) -> set[str]:
    rows = await session.execute(select(Form.slug).where(Form.slug.in_(list(slugs))))
    return set(rows.scalars())
