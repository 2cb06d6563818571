"""Re-sealing the outbox's answers with the active answer key (``tellonce-submissions
reseal``): rows sealed with the webhook-secret ring before the rings were separated, and
rows sealed with an answer key since rotated out."""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import select

from tellonce_submissions.db import Database
from tellonce_submissions.deliveries.models import Delivery
from tellonce_submissions.deliveries.outbox import ShareBox, delivery_rows, open_answers
from tellonce_submissions.deliveries.reseal import reseal_deliveries

from .conftest import make_settings

NEW_KEY = "n2:" + base64.b64encode(b"7" * 32).decode()


async def _add(database: Database, box: ShareBox, agency: str, answers: dict[str, Any]) -> None:
    from datetime import UTC, datetime

    rows = delivery_rows(
        submission_id=f"s-{agency}",
        reference=f"CT-TEST-{agency}",
        form="test-form",
        version=1,
        submitted_at=datetime.now(UTC),
        receivers=[(agency, answers, ["/x"])],
        box=box,
    )
    async with database.sessions() as session, session.begin():
        session.add_all([Delivery(**row) for row in rows])


async def test_old_rows_are_resealed_with_the_active_answer_key(fresh_database_url: str) -> None:
    settings = make_settings(fresh_database_url)
    answer_keys = settings.answer_keys.get_secret_value()
    webhook_keys = settings.webhook_secret_keys.get_secret_value()
    database = Database(fresh_database_url)
    try:
        await _add(database, ShareBox(webhook_keys), "OLDRING", {"x": 1})  # before the split
        await _add(database, ShareBox(answer_keys), "CURRENT", {"x": 2})
        rotated = make_settings(fresh_database_url, answer_keys=f"{NEW_KEY},{answer_keys}")
        assert await reseal_deliveries(database, rotated, batch=1) == {
            "resealed": 2,  # the old ring's row, and the row of the key now second
            "current": 0,
            "unreadable": 0,
        }
        only_new = ShareBox(NEW_KEY)  # no old key, no fallback: every row must open
        async with database.sessions() as session:
            rows = (await session.execute(select(Delivery).order_by(Delivery.agency))).scalars()
            opened = {row.agency: open_answers(row, only_new) for row in rows}
        assert opened == {"CURRENT": {"x": 2}, "OLDRING": {"x": 1}}
        assert await reseal_deliveries(database, rotated) == {
            "resealed": 0,
            "current": 2,
            "unreadable": 0,
        }
    finally:
        await database.dispose()


async def test_a_row_no_key_opens_is_counted_and_left(fresh_database_url: str) -> None:
    settings = make_settings(fresh_database_url)
    database = Database(fresh_database_url)
    stray = "s9:" + base64.b64encode(b"9" * 32).decode()
    try:
        await _add(database, ShareBox(stray), "STRAY", {"x": 3})
        assert await reseal_deliveries(database, settings) == {
            "resealed": 0,
            "current": 0,
            "unreadable": 1,
        }
    finally:
        await database.dispose()
