"""Re-sealing the outbox's answers with the active answer key (``tellonce-submissions
reseal``): rows sealed with the webhook-secret ring before the rings were separated, and
rows sealed with an answer key since rotated out."""

from __future__ import annotations

import base64
from typing import Any

import pytest
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


async def test_each_row_is_committed_before_the_next_is_taken(
    fresh_database_url: str, monkeypatch: Any
) -> None:
    """Review finding (2026-11-27): the outbox's reseal held every row of a batch locked
    until the batch committed, so an admin's replay of dead letters (which locks rows in
    its own order) could deadlock with it. Now each row's compare-and-swap commits on its
    own: while the second row is being sealed, the first is already free to lock."""
    if not fresh_database_url.startswith("postgresql"):
        pytest.skip("row locks are PostgreSQL's")
    import psycopg

    settings = make_settings(fresh_database_url)
    answer_keys = settings.answer_keys.get_secret_value()
    database = Database(fresh_database_url)
    conninfo = fresh_database_url.replace("postgresql+psycopg://", "postgresql://")
    try:
        await _add(database, ShareBox(answer_keys), "FIRST", {"x": 1})
        await _add(database, ShareBox(answer_keys), "SECOND", {"x": 2})
        async with database.sessions() as session:
            first = (
                await session.execute(select(Delivery.id).order_by(Delivery.id).limit(1))
            ).scalar_one()
        sealed: list[str] = []
        free: list[bool] = []
        real_seal = ShareBox.seal

        def seal(self: ShareBox, answers: str, *, context: str) -> str:
            if sealed:  # the second row: is the first one's lock released?
                with psycopg.connect(conninfo) as other:
                    try:
                        other.execute(
                            "SELECT 1 FROM deliveries WHERE id = %s FOR UPDATE NOWAIT", (first,)
                        )
                        free.append(True)
                    except psycopg.errors.LockNotAvailable:
                        free.append(False)
            sealed.append(context)
            return real_seal(self, answers, context=context)

        monkeypatch.setattr(ShareBox, "seal", seal)
        rotated = make_settings(fresh_database_url, answer_keys=f"{NEW_KEY},{answer_keys}")
        counts = await reseal_deliveries(database, rotated)
        assert counts == {"resealed": 2, "current": 0, "unreadable": 0}
        assert sealed[0] == first
        assert free == [True], "the first row was still locked while the second was sealed"
    finally:
        await database.dispose()
