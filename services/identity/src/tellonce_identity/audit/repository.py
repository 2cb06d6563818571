"""The audit trail: who did what, when, from where. Callers pass no secrets; ``detail`` is
for ids, roles and reasons only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_identity.models import AuditEvent
from tellonce_shared.logging import request_id_var


def record(
    session: AsyncSession,
    action: str,
    *,
    outcome: str = "success",
    actor: str | None = None,
    subject: str | None = None,
    address: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEvent(
            at=datetime.now(UTC),
            action=action,
            outcome=outcome,
            actor=actor,
            subject=subject,
            address=address,
            request_id=request_id_var.get(),
            detail=detail or {},
        )
    )


async def page(
    session: AsyncSession, *, before_id: int | None, limit: int, action: str | None
) -> Sequence[AuditEvent]:
    """Newest first, keyset-paged by id."""
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if before_id is not None:
        stmt = stmt.where(AuditEvent.id < before_id)
    if action is not None:
        stmt = stmt.where(AuditEvent.action == action)
    return (await session.execute(stmt)).scalars().all()
