"""Queries on refresh tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CursorResult, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_identity.models import RefreshToken


async def by_hash(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    stmt = select(RefreshToken).where(RefreshToken.token_hash == token_hash)
    return (await session.execute(stmt)).scalar_one_or_none()


async def family_revoked(session: AsyncSession, family_id: str) -> bool:
    """Whether the sign-in has been ended: any token of the family is revoked. A refresh
    racing the end of its sign-in can insert a successor the revoking ``UPDATE`` never sees
    (its snapshot predates the insert), so a family with one revoked token is ended as a
    whole, whatever its other rows say."""
    stmt = select(
        exists().where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_not(None))
    )
    return bool((await session.execute(stmt)).scalar())


async def mark_used(session: AsyncSession, token_id: str, at: datetime) -> bool:
    """Claim the token for one rotation; False when another request used it first."""
    stmt = (
        update(RefreshToken)
        .where(
            RefreshToken.id == token_id,
            RefreshToken.used_at.is_(None),
            RefreshToken.revoked_at.is_(None),
        )
        .values(used_at=at)
    )
    result = await session.execute(stmt)
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


async def claim_reuse(session: AsyncSession, token_id: str, at: datetime, since: datetime) -> bool:
    """Claim the one reuse allowed within the reuse interval: the token was rotated at or
    after ``since``, not reused before and not revoked. The conditional ``UPDATE`` takes the
    row lock, so of several racing reuses exactly one gets True."""
    stmt = (
        update(RefreshToken)
        .where(
            RefreshToken.id == token_id,
            RefreshToken.used_at.is_not(None),
            RefreshToken.used_at >= since,
            RefreshToken.reused_at.is_(None),
            RefreshToken.revoked_at.is_(None),
        )
        .values(reused_at=at)
    )
    result = await session.execute(stmt)
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


async def revoke_family(session: AsyncSession, family_id: str, at: datetime) -> int:
    """End a sign-in. Under READ COMMITTED this misses a successor inserted by a refresh
    that commits while the statement runs, but it always revokes at least one token the
    family had when it started (or finds one already revoked): :func:`family_revoked` then
    refuses the successor, and :func:`revoke_all_for_user` relies on the same."""
    stmt = (
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    result = await session.execute(stmt)
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


def add(session: AsyncSession, token: RefreshToken) -> None:
    session.add(token)


async def revoke_all_for_user(session: AsyncSession, user_id: str, at: datetime) -> int:
    """Sign a user out everywhere (account disabled, password changed). A family whose
    successor this misses (a racing refresh) still has a revoked token, so
    :func:`family_revoked` ends it; a sign-in racing the change holds the user's row
    (``accounts.repository.lock``), so none is created unseen."""
    stmt = (
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    result = await session.execute(stmt)
    assert isinstance(result, CursorResult)
    return int(result.rowcount)
