"""Complementary suppression across a group's counts (privacy review): a hidden backlog
cell, a hidden decided or responded count, or a small sum of hidden cells cannot be worked
out from the counts shown (docs/performance-management.md, Small-cell suppression).

Reviewer's item 5: a shown group whose open applications fall in ONE backlog cell below
MIN_CELL listed that cell as hidden, but its count was volume - decision.count, both shown
(the backlog is the period's applications not decided by as_of). Filed in 2023-10 and
2023-11 under agencies and forms of their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from tellonce_shared.testing import TokenFactory
from tellonce_submissions.performance.service import MIN_CELL, _protect

from .conftest import Catalog, Clock
from .test_measures_disclosure import event, only, report, sub_row, write

H = timedelta(hours=1)
D = timedelta(days=1)
WEEK1 = datetime(2023, 10, 2, tzinfo=UTC)  # a Monday
WEEK2 = WEEK1 + 7 * D


@pytest.fixture
def opm(perf_tokens: TokenFactory) -> dict[str, str]:
    return perf_tokens.headers("opm-lone-cell", role="auditor")


def test_a_lone_hidden_backlog_cell_is_covered() -> None:
    # 30 applications, 22 decided (12 and 10 by week), the 8 open all in one cell
    shown = _protect(30, 30, [("needs_info", MIN_CELL - 2)], [(12, True), (10, True)])
    assert shown.backlog == [False]
    # volume - decided would be the cell: the decided count is hidden, and one week's
    # decided count (the weeks add up to it), the smaller
    assert not shown.decided
    assert shown.decided_weeks == [True, False]
    assert shown.responded  # 30 = 22 + 8: R - D is the cell too, D hidden covers it


def test_two_hidden_cells_must_add_up_to_min_cell() -> None:
    # open: 12 submitted, 3 needs_info, 1 in review: 3 + 1 = volume - decided - 12
    cells = [("in_review", 1), ("needs_info", 3), ("submitted", 12)]
    shown = _protect(28, 24, cells, [(24, True)])
    assert shown.backlog == [False, False, False]
    # the 12 submitted hidden: V - R gives it back, so the responded count goes too
    assert not shown.responded
    assert shown.decided


def test_a_decided_count_under_min_cell_is_not_the_volume_less_the_backlog() -> None:
    shown = _protect(16, 4, [("in_review", 12), ("submitted", 14)], [(4, False)])
    assert not shown.decided
    assert shown.backlog == [False, True]  # 30 - 12 - 14 = 4 otherwise


async def seed(app: FastAPI, form: str, agency: str, open_: list[tuple[str, int]]) -> None:
    """30 applications in two weeks: 15 each, of which 12 and 10 approved; the 8 open left
    as ``open_`` says (status, how many)."""
    first = [sub_row(form, agency, WEEK1 + i * H) for i in range(15)]
    second = [sub_row(form, agency, WEEK2 + i * H) for i in range(15)]
    events = [event(s, D, "approved", agency) for s in first[:12] + second[:10]]
    rest = first[12:] + second[10:]
    assert sum(n for _, n in open_) == len(rest)
    for status, n in open_:
        if status != "submitted":
            events += [event(s, D, status, agency) for s in rest[:n]]
        rest = rest[n:]
    await write(app, first + second, events)


async def test_the_lone_cell_and_its_complements_over_the_api(
    perf_app: FastAPI,
    perf_client: httpx.AsyncClient,
    opm: dict[str, str],
    catalog: Catalog,
    clock: Clock,
) -> None:
    clock.now = datetime(2024, 7, 1, tzinfo=UTC)
    catalog.add("lc-form", "LCA", [], None)
    await seed(perf_app, "lc-form", "LCA", [("needs_info", 8)])
    put = await perf_client.put(
        "/api/v1/performance/targets/lc-form", json={"days": 30, "share": 0.9}, headers=opm
    )
    assert put.status_code == 200, put.text
    g = only(await report(perf_client, opm, period="2023-10", form="lc-form"), "lc-form")
    assert g["volume"] == 30
    assert g["backlog"] == [{"status": "needs_info", "age": "8-30d", "count": None}]
    # before: decision.count 22, so the cell was 30 - 22 = 8
    assert g["decision"]["count"] is None
    assert g["decision"]["median_days"] == 1.0  # resting on 22 applications: still shown
    assert g["first_response"]["count"] == 30
    assert [(w["volume"], w["decided"]) for w in g["trend"]] == [(15, 12), (15, None)]
    # due = decided + late open: with the decided count hidden it would give it back
    assert (g["target"]["due"], g["target"]["met"], g["target"]["share_met"]) == (None,) * 3
    assert g["target"]["rag"] == "green"
    r = await perf_client.get(
        "/api/v1/performance",
        params={"period": "2023-10", "form": "lc-form", "format": "csv"},
        headers=opm,
    )
    header, line = (row.split(",") for row in r.text.splitlines())
    values = dict(zip(header, line, strict=True))
    assert (values["decision_count"], values["backlog_open"], values["target_due"]) == ("",) * 3


async def test_no_count_of_a_group_is_a_difference_of_the_others_over_the_api(
    perf_app: FastAPI,
    perf_client: httpx.AsyncClient,
    opm: dict[str, str],
    catalog: Catalog,
    clock: Clock,
) -> None:
    clock.now = datetime(2024, 7, 1, tzinfo=UTC)
    catalog.add("lc-sub", "LCB", [], None)
    catalog.add("lc-two", "LCB", [], None)
    # open: 5 never answered (submitted), 3 in review: before, both hidden and 30 - 25
    # responded gave the 5
    await seed(perf_app, "lc-sub", "LCB", [("submitted", 5), ("in_review", 3)])
    # open: 1 received, 7 needs_info: before, both hidden, 30 - 22 gave their sum, 8
    await seed(perf_app, "lc-two", "LCB", [("received", 1), ("needs_info", 7)])
    doc = await report(perf_client, opm, period="2023-10", agency="LCB", group_by="form")
    sub = only(doc, "lc-sub")
    assert [c["count"] for c in sub["backlog"]] == [None, None]
    assert sub["first_response"]["count"] is None
    assert sub["decision"]["count"] is None
    two = only(doc, "lc-two")
    assert [c["count"] for c in two["backlog"]] == [None, None]
    assert two["decision"]["count"] is None
    assert two["first_response"]["count"] == 30
    for g in (sub, two):
        shown = [c["count"] for c in g["backlog"] if c["count"] is not None]
        decided = g["decision"]["count"]
        assert decided is None or g["volume"] - decided - sum(shown) >= MIN_CELL
