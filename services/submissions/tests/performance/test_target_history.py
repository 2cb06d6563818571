"""Targets over time: a period is judged against the target in force at its end (or now,
for the current period). A form's first target applies to every earlier period; a later
change or a removal does not recolour the periods before it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tellonce_shared.testing import TokenFactory
from tellonce_submissions.performance.models import PerformanceTargetChange

from .conftest import Catalog, Clock
from .test_measures_disclosure import D, event, sub_row, write

Q2 = datetime(2026, 4, 6, tzinfo=UTC)
Q3 = datetime(2026, 7, 6, tzinfo=UTC)


@pytest.fixture
def opm(perf_tokens: TokenFactory) -> dict[str, str]:
    return perf_tokens.headers("opm-targets", role="auditor")


async def form_with_decisions(app: FastAPI, catalog: Catalog) -> str:
    """A form with 12 applications in each of 2026-Q2 and 2026-Q3, every one decided after
    5 days by its owning agency."""
    form = "th-" + uuid.uuid4().hex[:8]
    catalog.add(form, "THA", [], None)
    subs = [sub_row(form, "THA", start + i * D) for start in (Q2, Q3) for i in range(12)]
    await write(app, subs, [event(s, 5 * D, "approved", "THA") for s in subs])
    return form


async def target_of(
    client: httpx.AsyncClient, opm: dict[str, str], form: str, period: str
) -> dict[str, Any]:
    r = await client.get(
        "/api/v1/performance",
        params={"period": period, "group_by": "form", "form": form},
        headers=opm,
    )
    assert r.status_code == 200, r.text
    [row] = [g for g in r.json()["groups"] if g["key"] == form]
    target: dict[str, Any] = row["target"]
    return target


async def put(
    client: httpx.AsyncClient, opm: dict[str, str], form: str, days: int, share: float
) -> None:
    r = await client.put(
        f"/api/v1/performance/targets/{form}", json={"days": days, "share": share}, headers=opm
    )
    assert r.status_code == 200, r.text


async def test_a_changed_target_does_not_recolour_the_periods_before_it(
    perf_client: httpx.AsyncClient,
    perf_app: FastAPI,
    catalog: Catalog,
    opm: dict[str, str],
    clock: Clock,
) -> None:
    form = await form_with_decisions(perf_app, catalog)
    clock.now = datetime(2026, 8, 15, tzinfo=UTC)
    await put(perf_client, opm, form, 7, 0.9)  # the first target: every period judged by it
    for period in ("2026-Q2", "2026-Q3"):
        first = await target_of(perf_client, opm, form, period)
        assert (first["target_share"], first["met"], first["rag"]) == (0.9, 12, "green")

    clock.now = datetime(2026, 9, 1, tzinfo=UTC)
    await put(perf_client, opm, form, 3, 0.8)  # decided in 5 days: none within 3
    q2 = await target_of(perf_client, opm, form, "2026-Q2")
    assert (q2["target_share"], q2["met"], q2["rag"]) == (0.9, 12, "green"), "kept its target"
    q3 = await target_of(perf_client, opm, form, "2026-Q3")  # judged now, by the new one
    assert (q3["target_share"], q3["met"], q3["rag"]) == (0.8, 0, "red")
    listed = (await perf_client.get("/api/v1/performance/targets", headers=opm)).json()
    [current] = [t for t in listed["items"] if t["form"] == form]
    assert (current["days"], current["share"]) == (3, 0.8)


async def test_a_removed_target_still_judges_the_periods_it_was_in_force(
    perf_client: httpx.AsyncClient,
    perf_app: FastAPI,
    catalog: Catalog,
    opm: dict[str, str],
    clock: Clock,
) -> None:
    form = await form_with_decisions(perf_app, catalog)
    clock.now = datetime(2026, 8, 15, tzinfo=UTC)
    await put(perf_client, opm, form, 7, 0.9)
    clock.now = datetime(2026, 9, 1, tzinfo=UTC)
    r = await perf_client.delete(f"/api/v1/performance/targets/{form}", headers=opm)
    assert r.status_code == 204, r.text
    q2 = await target_of(perf_client, opm, form, "2026-Q2")
    assert (q2["target_share"], q2["rag"]) == (0.9, "green")
    q3 = await target_of(perf_client, opm, form, "2026-Q3")
    assert (q3["target_share"], q3["rag"]) == (None, None)

    clock.now = datetime(2026, 9, 2, tzinfo=UTC)
    await put(perf_client, opm, form, 30, 0.5)  # set again: from now on, not back in time
    q2 = await target_of(perf_client, opm, form, "2026-Q2")
    assert q2["target_share"] == 0.9
    async with perf_app.state.database.sessions() as s:
        changes = (
            await s.execute(
                select(PerformanceTargetChange)
                .where(PerformanceTargetChange.form == form)
                .order_by(PerformanceTargetChange.id)
            )
        ).scalars()
        history = [(c.days, c.share, c.effective_from.year, c.set_by) for c in changes]
    assert history == [
        (7, 0.9, 1970, "opm-targets"),
        (None, None, 2026, "opm-targets"),
        (30, 0.5, 2026, "opm-targets"),
    ]
