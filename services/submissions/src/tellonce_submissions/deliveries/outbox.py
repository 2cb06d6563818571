"""The transactional outbox: the submission's own transaction writes one Delivery per
receiving agency, so a submission accepted is a submission that will be delivered."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_shared.ids import uuid7
from tellonce_submissions.config import Settings, get_settings
from tellonce_submissions.deliveries.models import PENDING, Delivery
from tellonce_submissions.deliveries.signing import SecretBox, SecretBoxError

NOTIFY_CHANNEL = "tellonce_deliveries"
"""PostgreSQL channel the workers LISTEN on; NOTIFY is sent when the caller commits."""


def delivery_rows(
    *,
    submission_id: str,
    reference: str,
    form: str,
    version: int,
    submitted_at: datetime,
    receivers: list[tuple[str, dict[str, Any], list[str]]],
    box: ShareBox | None = None,
) -> list[dict[str, Any]]:
    """One outbox row per receiving agency, due at once.

    ``receivers`` holds ``(agency code, the answers that agency may see, the field pointers
    it gets)``. The answers are sealed at rest (``box``: by default the stored-answers keys
    of the service settings, see :class:`ShareBox`), bound to the row's id.
    """
    box = box or default_box()
    now = datetime.now(UTC)
    seen: set[str] = set()
    rows: list[dict[str, Any]] = []
    for agency, answers, fields in receivers:
        if agency in seen:
            raise ValueError(f"agency {agency} is listed twice for one submission")
        seen.add(agency)
        delivery_id = uuid7()
        rows.append(
            {
                "id": delivery_id,
                "submission_id": submission_id,
                "reference": reference,
                "agency": agency,
                "form": form,
                "version": version,
                "submitted_at": submitted_at,
                "fields": list(fields),
                "answers": {},
                "sealed_answers": box.seal(orjson.dumps(answers).decode(), context=delivery_id),
                "status": PENDING,
                "created_at": now,
                "attempts": 0,
                "next_attempt_at": now,
                "replays": 0,
            }
        )
    return rows


async def notify_workers(session: AsyncSession) -> None:
    """``pg_notify`` for the workers' LISTEN: PostgreSQL delivers it only if and when the
    caller's transaction commits (SQLite: the workers poll)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_notify(:c, '')"), {"c": NOTIFY_CHANNEL})


async def enqueue_deliveries(
    session: AsyncSession,
    *,
    submission_id: str,
    reference: str,
    form: str,
    version: int,
    submitted_at: datetime,
    receivers: list[tuple[str, dict[str, Any], list[str]]],
    box: ShareBox | None = None,
) -> list[Delivery]:
    """Add one outbox row per receiving agency to the caller's transaction (no commit) and
    wake the workers when it commits (see ``delivery_rows``)."""
    rows = [
        Delivery(**row)
        for row in delivery_rows(
            submission_id=submission_id,
            reference=reference,
            form=form,
            version=version,
            submitted_at=submitted_at,
            receivers=receivers,
            box=box,
        )
    ]
    session.add_all(rows)
    await session.flush()
    if rows:
        await notify_workers(session)
    return rows


class ShareBox:
    """Seals the answers an outbox row carries with the stored-answers key ring
    (``answer_keys``, the ring that seals drafts and submissions), not the ring that seals
    webhook secrets: one key leaked then opens one kind of data. Rows sealed before the two
    were separated (2026-11-26) were sealed with the webhook-secret ring, and still open with
    it (``legacy``). A row keeps its share until the retention job erases it (after
    ``delivery_share_retention_days`` in a final state), so the fallback stays until those
    rows are re-sealed with the answer ring (``tellonce-submissions reseal``,
    :mod:`tellonce_submissions.deliveries.reseal`) or erased."""

    def __init__(self, answer_keys: str, legacy_keys: str | None = None) -> None:
        self.box = SecretBox(answer_keys, what="answer key")
        self.legacy = None if legacy_keys is None else SecretBox(legacy_keys)

    def seal(self, answers: str, *, context: str) -> str:
        return self.box.seal(answers, context=context)

    def open(self, sealed: str, *, context: str) -> str:
        try:
            return self.box.open(sealed, context=context)
        except SecretBoxError:
            if self.legacy is None:
                raise
            return self.legacy.open(sealed, context=context)


def share_box(settings: Settings) -> ShareBox:
    """The settings' box, made once per pair of key rings (the pull feed asks per request)."""
    return _share_box(
        settings.answer_keys.get_secret_value(), settings.webhook_secret_keys.get_secret_value()
    )


@lru_cache(maxsize=8)
def _share_box(answer_keys: str, legacy_keys: str) -> ShareBox:
    return ShareBox(answer_keys, legacy_keys)


def webhook_secret_box(settings: Settings) -> SecretBox:
    """The box of the agencies' webhook secrets (``webhook_secret_keys``), made once per
    key ring rather than per request (it holds only the parsed keys, no state)."""
    return _webhook_secret_box(settings.webhook_secret_keys.get_secret_value())


@lru_cache(maxsize=8)
def _webhook_secret_box(keys: str) -> SecretBox:
    return SecretBox(keys)


def default_box() -> ShareBox:
    return share_box(get_settings())


def open_answers(row: Delivery, box: ShareBox) -> dict[str, Any]:
    """The answers a delivery carries (sealed rows opened; older clear rows as stored). A row
    whose share was erased (``share_purged_at``) gives ``{}``: callers that show answers
    check ``share_purged_at`` first."""
    if row.sealed_answers is None:
        return dict(row.answers)
    value = orjson.loads(box.open(row.sealed_answers, context=row.id))
    if not isinstance(value, dict):
        raise ValueError(f"delivery {row.id} holds answers that are not an object")
    return value
