"""The transactional outbox: the submission's own transaction writes one Delivery per
receiving agency, so a submission accepted is a submission that will be delivered."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_submissions.deliveries.models import PENDING, Delivery

NOTIFY_CHANNEL = "tellonce_deliveries"
"""PostgreSQL channel the workers LISTEN on; NOTIFY is sent when the caller commits."""


async def enqueue_deliveries(
    session: AsyncSession,
    *,
    submission_id: str,
    reference: str,
    form: str,
    version: int,
    submitted_at: datetime,
    receivers: list[tuple[str, dict[str, Any], list[str]]],
) -> list[Delivery]:
    """Add one outbox row per receiving agency to the caller's transaction (no commit).

    ``receivers`` holds ``(agency code, the answers that agency may see, the field pointers
    it gets)``. Each row is due at once; the workers are woken when the caller commits.
    """
    now = datetime.now(UTC)
    seen: set[str] = set()
    rows: list[Delivery] = []
    for agency, answers, fields in receivers:
        if agency in seen:
            raise ValueError(f"agency {agency} is listed twice for one submission")
        seen.add(agency)
        rows.append(
            Delivery(
                id=str(uuid.uuid4()),
                submission_id=submission_id,
                reference=reference,
                agency=agency,
                form=form,
                version=version,
                submitted_at=submitted_at,
                fields=list(fields),
                answers=dict(answers),
                status=PENDING,
                created_at=now,
                attempts=0,
                next_attempt_at=now,
                replays=0,
            )
        )
    session.add_all(rows)
    await session.flush()
    if rows and session.get_bind().dialect.name == "postgresql":
        # Delivered by PostgreSQL only if and when the caller's transaction commits.
        await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})
    return rows
