"""A target set and removed at the same moment: each request reads its clock before it waits
for the form's target row, so the one that commits second may carry the earlier time. The
history the reports judge by must still end with the write that committed last, as the
current target does (concurrency review, 2026-11-26: 15 of 25 concurrent PUT + DELETE pairs
left the two disagreeing). Each case below is that interleaving, run in order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from sqlalchemy import select

from tellonce_submissions.performance.models import PerformanceTarget, PerformanceTargetChange
from tellonce_submissions.performance.repository import remove_target, upsert_target

EARLY = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LATE = EARLY + timedelta(milliseconds=3)


async def history(app: FastAPI, form: str) -> list[tuple[int | None, datetime]]:
    """(days, effective_from) of each change, latest first, as the reports order them."""
    async with app.state.database.sessions() as s:
        rows = await s.execute(
            select(PerformanceTargetChange.days, PerformanceTargetChange.effective_from)
            .where(PerformanceTargetChange.form == form)
            .order_by(
                PerformanceTargetChange.effective_from.desc(), PerformanceTargetChange.id.desc()
            )
        )
        return [(days, at) for days, at in rows]


async def current(app: FastAPI, form: str) -> int | None:
    async with app.state.database.sessions() as s:
        target = await s.get(PerformanceTarget, form)
        return None if target is None else target.days


async def test_a_set_committed_after_a_removal_is_in_force_though_its_clock_was_earlier(
    perf_app: FastAPI,
) -> None:
    form = "race-" + uuid.uuid4().hex[:8]
    async with perf_app.state.database.sessions() as s, s.begin():
        await upsert_target(s, form, days=10, share=0.5, at=EARLY - timedelta(days=1), by="a")
    async with perf_app.state.database.sessions() as s, s.begin():  # the DELETE, its clock LATE
        assert await remove_target(s, form, at=LATE, by="b") == 1
    async with perf_app.state.database.sessions() as s, s.begin():  # the PUT, its clock EARLY
        await upsert_target(s, form, days=30, share=0.7, at=EARLY, by="c")
    assert await current(perf_app, form) == 30
    latest_days, latest_at = (await history(perf_app, form))[0]
    assert latest_days == 30
    assert latest_at >= LATE  # no earlier than the removal it came after


async def test_a_removal_committed_after_a_set_is_in_force_though_its_clock_was_earlier(
    perf_app: FastAPI,
) -> None:
    form = "race-" + uuid.uuid4().hex[:8]
    async with perf_app.state.database.sessions() as s, s.begin():
        await upsert_target(s, form, days=10, share=0.5, at=EARLY - timedelta(days=1), by="a")
    async with perf_app.state.database.sessions() as s, s.begin():  # the PUT, its clock LATE
        await upsert_target(s, form, days=30, share=0.7, at=LATE, by="b")
    async with perf_app.state.database.sessions() as s, s.begin():  # the DELETE, clock EARLY
        assert await remove_target(s, form, at=EARLY, by="c") == 1
    assert await current(perf_app, form) is None
    latest_days, latest_at = (await history(perf_app, form))[0]
    assert latest_days is None  # the removal
    assert latest_at >= LATE
