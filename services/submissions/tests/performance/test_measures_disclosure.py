"""Fixes after review of the measures: a retired form keeps its history, the uptake counts
every form of a group, no suppressed cell can be worked out by subtraction, periods take
ASCII digits only, concurrent first targets, backlog ages by completed days.

Everything here is filed in 2023 or 2024 (nothing else in the suite is), under agencies and
forms of its own."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import insert

from tellonce_shared.problems import ValidationFailed
from tellonce_shared.testing import TokenFactory
from tellonce_submissions.models import Submission, SubmissionEvent
from tellonce_submissions.performance import facts
from tellonce_submissions.performance.periods import parse_period
from tellonce_submissions.performance.service import _complement, _protect, _trend
from tellonce_submissions.referrals.models import Referral

from .conftest import Catalog, Clock

H = timedelta(hours=1)
D = timedelta(days=1)
PROBLEM = "application/problem+json"


def sub_row(form: str, agency: str, at: datetime) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "reference": "Q-" + uuid.uuid4().hex[:12],
        "owner": "q-" + uuid.uuid4().hex[:6],
        "form": form,
        "version": 1,
        "owning_agency": agency,
        "answers": {},
        "receivers": [],
        "submitted_at": at,
    }


def event(sub: dict[str, Any], after: timedelta, status: str, agency: str) -> dict[str, Any]:
    return {
        "submission_id": sub["id"],
        "at": sub["submitted_at"] + after,
        "status": status,
        "agency": agency,
    }


async def write(
    app: FastAPI, subs: list[dict[str, Any]], events: list[dict[str, Any]] | None = None
) -> None:
    async with app.state.database.sessions() as s:
        await s.execute(insert(Submission), subs)
        filed = [
            {"submission_id": x["id"], "at": x["submitted_at"], "status": "submitted"} for x in subs
        ]
        await s.execute(insert(SubmissionEvent), filed + list(events or []))
        await facts.backfill(s)
        await s.commit()


@pytest.fixture
def opm(perf_tokens: TokenFactory) -> dict[str, str]:
    return perf_tokens.headers("opm-disclosure", role="auditor")


async def report(
    client: httpx.AsyncClient, headers: dict[str, str], **params: str
) -> dict[str, Any]:
    r = await client.get("/api/v1/performance", params=params, headers=headers)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def only(doc: dict[str, Any], key: str) -> dict[str, Any]:
    found: dict[str, Any]
    [found] = [g for g in doc["groups"] if g["key"] == key]
    return found


# HIGH 1: a retired form (listed by the registry only with ?include=retired) keeps its history


async def test_a_retired_form_keeps_its_past_in_priority_figures(
    perf_app: FastAPI,
    perf_client: httpx.AsyncClient,
    opm: dict[str, str],
    catalog: Catalog,
    clock: Clock,
) -> None:
    clock.now = datetime(2024, 7, 1, tzinfo=UTC)
    catalog.add("rt-old", "RTA", ["transportation"], 1000)
    catalog.add("rt-new", "RTA", ["transportation"], 1000)
    start = datetime(2024, 1, 8, tzinfo=UTC)
    subs = [sub_row("rt-old", "RTA", start + i * H) for i in range(12)]
    subs += [sub_row("rt-new", "RTA", start + i * H) for i in range(12)]
    await write(perf_app, subs)
    params = {"period": "2024-Q1", "agency": "RTA"}
    before = only(await report(perf_client, opm, group_by="priority", **params), "transportation")
    assert (before["volume"], before["yearly_volume"]) == (24, 2000)

    catalog.retired.add("rt-old")  # its last version retired: gone from the public list
    after = only(await report(perf_client, opm, group_by="priority", **params), "transportation")
    assert (after["volume"], after["yearly_volume"]) == (24, 2000)
    assert after["digital_uptake"] == before["digital_uptake"]
    filtered = await report(
        perf_client, opm, group_by="agency", priority="transportation", period="2024-Q1"
    )
    assert only(filtered, "RTA")["volume"] == 24
    by_form = await report(perf_client, opm, group_by="form", **params)
    assert only(by_form, "rt-old")["label"] == "Form rt-old"
    assert only(by_form, "rt-old")["yearly_volume"] == 1000


# HIGH 2: the yearly volume of a group counts its forms without hub submissions too


async def test_uptake_counts_the_group_forms_without_hub_submissions(
    perf_app: FastAPI,
    perf_client: httpx.AsyncClient,
    opm: dict[str, str],
    catalog: Catalog,
    clock: Clock,
) -> None:
    clock.now = datetime(2024, 7, 1, tzinfo=UTC)
    catalog.add("up-1", "UPA", ["community-vitality"], 3650)
    catalog.add("up-2", "UPA", ["community-vitality"], 3650)  # none through the hub
    catalog.add("up-3", "UPB", ["community-vitality"], 1000)  # another agency
    subs = [sub_row("up-1", "UPA", datetime(2023, 2, 6, tzinfo=UTC) + i * H) for i in range(10)]
    await write(perf_app, subs)
    expected = round(10 / ((3650 + 3650) * 28 / 365), 4)
    assert expected == 0.0179

    upa = only(await report(perf_client, opm, period="2023-02", group_by="agency"), "UPA")
    assert (upa["yearly_volume"], upa["digital_uptake"]) == (7300, expected)
    filtered = await report(perf_client, opm, period="2023-02", group_by="agency", agency="UPA")
    assert only(filtered, "UPA")["yearly_volume"] == 7300
    priority = await report(perf_client, opm, period="2023-02", group_by="priority", agency="UPA")
    cv = only(priority, "community-vitality")
    assert (cv["yearly_volume"], cv["digital_uptake"]) == (7300, expected)
    one_form = await report(perf_client, opm, period="2023-02", group_by="agency", form="up-1")
    assert only(one_form, "UPA")["yearly_volume"] == 3650  # the form filter holds
    by_form = only(await report(perf_client, opm, period="2023-02", group_by="form"), "up-1")
    assert (by_form["yearly_volume"], by_form["digital_uptake"]) == (3650, 0.0357)


# MEDIUM 4: complementary suppression


def test_a_lone_hidden_cell_is_covered_by_the_smallest_shown_one() -> None:
    assert _complement([15, 3, 12], [True, False, True]) == 2
    assert _complement([12, 3, 12], [True, False, True]) == 0  # the first of equal ones
    assert _complement([15, 3, 4], [True, False, False]) == 0  # 3 + 4 would be a small cell
    assert _complement([15, 6, 4], [True, False, False]) is None  # two hidden, 10 together
    assert _complement([15, 20], [True, True]) is None
    assert _complement([3], [False]) is None  # nothing to cover it with


def test_weekly_decided_counts_cannot_be_subtracted_from_the_group() -> None:
    def week(day: int, volume: int, decided: int) -> dict[str, Any]:
        return {
            "week": date(2023, 3, day),
            "volume": volume,
            "decided": decided,
            "decision_s": [86400.0, 172800.0],
            "due": 0,
            "met": 0,
            "target_share": None,
        }

    rows = [week(6, 20, 15), week(13, 20, 4), week(20, 20, 12)]
    points = _trend(rows)
    assert [p.volume for p in points] == [20, 20, 20]
    assert [p.decided for p in points] == [15, None, 12]  # before complementary suppression
    weeks = [(15, True), (4, False), (12, True)]
    shown = _protect(60, 31, [("submitted", 29)], weeks)
    assert shown.decided_weeks == [True, False, False]
    # the group's decided count hidden (under 10): every week's is hidden already
    hidden_total = _protect(20, 8, [("submitted", 12)], [(8, False)])
    assert (hidden_total.decided, hidden_total.decided_weeks) == (False, [False])


async def test_no_suppressed_cell_can_be_worked_out_by_subtraction(
    perf_app: FastAPI,
    perf_client: httpx.AsyncClient,
    opm: dict[str, str],
    catalog: Catalog,
    clock: Clock,
) -> None:
    clock.now = datetime(2024, 7, 1, tzinfo=UTC)
    catalog.add("df-form", "DFA", [], None)
    week1, week2, week3 = (datetime(2023, 3, d, tzinfo=UTC) for d in (6, 13, 20))
    first = [sub_row("df-form", "DFA", week1 + i * H) for i in range(15)]
    second = [sub_row("df-form", "DFA", week2 + i * H) for i in range(3)]
    third = [sub_row("df-form", "DFA", week3 + i * H) for i in range(12)]
    events = [event(s, D, "approved", "DFA") for s in first[:4]]
    events += [event(s, D, "received", "DFA") for s in first[4:7]]
    events += [event(s, D, "in_review", "DFA") for s in third[:11]]
    await write(perf_app, first + second + third, events)
    g = only(await report(perf_client, opm, period="2023-03", form="df-form"), "df-form")
    assert g["volume"] == 30
    # the weeks: 15, 3 (hidden), 12 (hidden with it, or 30 - 15 - 12 would give the 3)
    assert [(w["week"], w["volume"]) for w in g["trend"]] == [
        ("2023-03-06", 15),
        ("2023-03-13", None),
        ("2023-03-20", None),
    ]
    assert g["trend"][2]["decided"] is None
    # open on 1 April: 3 received (hidden), 11 in review, 12 submitted: the open total is
    # the volume less the decided, so the smaller of the two shown cells is hidden too
    assert g["backlog"] == [
        {"status": "in_review", "age": "8-30d", "count": None},
        {"status": "received", "age": "8-30d", "count": None},
        {"status": "submitted", "age": "8-30d", "count": 12},
    ]


async def test_the_funnel_total_adds_up_the_rows_shown_only(
    perf_app: FastAPI, perf_client: httpx.AsyncClient, opm: dict[str, str], clock: Clock
) -> None:
    clock.now = datetime(2024, 7, 1, tzinfo=UTC)
    at = datetime(2023, 5, 10, tzinfo=UTC)

    def referral(to_form: str, status: str) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()),
            "owner": "fo-" + uuid.uuid4().hex[:6],
            "rule_id": "r",
            "source_submission_id": str(uuid.uuid4()),
            "from_form": "fu-a",
            "to_form": to_form,
            "reason": {},
            "status": status,
            "created_at": at,
            "started_at": at if status == "started" else None,
        }

    rows = [referral("fu-b", "suggested") for _ in range(12)]
    rows += [referral("fu-c", "started") for _ in range(2)]
    async with perf_app.state.database.sessions() as s:
        await s.execute(insert(Referral), rows)
        await s.commit()
    r = await perf_client.get(
        "/api/v1/performance/referrals", params={"period": "2023-05"}, headers=opm
    )
    assert r.status_code == 200, r.text
    doc = r.json()
    mine = [(x["to_form"], x["suggested"]) for x in doc["rows"] if x["from_form"] == "fu-a"]
    assert mine == [("fu-b", 12), ("fu-c", None)]
    assert doc["total"] == {
        "from_form": "*",
        "to_form": "*",
        "suppressed": False,
        "suggested": 12,
        "started": 0,
        "submitted": 0,
    }


# LOW 6a: ASCII digits only in a period


FULL_WIDTH_2026 = "\uff12\uff10\uff12\uff16"
ARABIC_INDIC_2026 = "\u0662\u0660\u0662\u0666"


@pytest.mark.parametrize(
    "period",
    [
        FULL_WIDTH_2026,
        ARABIC_INDIC_2026 + "-Q1",
        "last-\u0669\u0660d",
        "2026-Q\uff11",
        "2026-\u0660\u0665",
    ],
)
async def test_a_period_in_other_digits_is_refused(
    perf_client: httpx.AsyncClient, opm: dict[str, str], clock: Clock, period: str
) -> None:
    with pytest.raises(ValidationFailed):
        parse_period(period, datetime(2026, 1, 1, tzinfo=UTC))
    for fmt in ("csv", "json"):
        r = await perf_client.get(
            "/api/v1/performance", params={"period": period, "format": fmt}, headers=opm
        )
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith(PROBLEM)


async def test_the_csv_file_is_named_after_the_normalised_period(
    perf_client: httpx.AsyncClient, opm: dict[str, str], clock: Clock
) -> None:
    clock.now = datetime(2024, 7, 1, tzinfo=UTC)
    for period, name in ((" 2023-03 ", "2023-03"), ("last-30d", "last-30d")):
        r = await perf_client.get(
            "/api/v1/performance", params={"period": period, "format": "csv"}, headers=opm
        )
        assert r.status_code == 200, r.text
        disposition = r.headers["content-disposition"]
        assert disposition == f'attachment; filename="performance-{name}-form.csv"'


# LOW 6b: concurrent first targets of a form


async def test_concurrent_first_targets_all_succeed(
    perf_client: httpx.AsyncClient, opm: dict[str, str], catalog: Catalog, clock: Clock
) -> None:
    for _ in range(3):
        form = "tg-" + uuid.uuid4().hex[:8]
        catalog.add(form, "TGA", [], None)
        responses = await asyncio.gather(
            *[
                perf_client.put(
                    f"/api/v1/performance/targets/{form}",
                    json={"days": 3 + i, "share": 0.5},
                    headers=opm,
                )
                for i in range(8)
            ]
        )
        assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
        listed = (await perf_client.get("/api/v1/performance/targets", headers=opm)).json()
        [mine] = [t for t in listed["items"] if t["form"] == form]
        assert mine["days"] in range(3, 11)
        assert mine["updated_by"] == "opm-disclosure"
    # a second write replaces the first
    r = await perf_client.put(
        f"/api/v1/performance/targets/{form}", json={"days": 40, "share": 0.75}, headers=opm
    )
    assert (r.status_code, r.json()["days"], r.json()["share"]) == (200, 40, 0.75)


# LOW 7: backlog ages in completed days


async def test_backlog_ages_are_completed_days(
    perf_app: FastAPI,
    perf_client: httpx.AsyncClient,
    opm: dict[str, str],
    catalog: Catalog,
    clock: Clock,
) -> None:
    as_of = datetime(2024, 10, 30, 12, tzinfo=UTC)
    clock.now = as_of
    catalog.add("ag-form", "AGA", [], None)
    second = timedelta(seconds=1)
    ages = [  # (age at as_of, how many): distinct counts, so that each cell says who is in it
        (7 * D + 12 * H, 10),  # 7 completed days: 0-7d
        (8 * D - second, 11),  # 0-7d
        (8 * D, 12),  # 8-30d
        (30 * D + 12 * H, 13),  # 8-30d
        (31 * D - second, 14),  # 8-30d
        (31 * D, 15),  # 31-90d
        (91 * D - second, 16),  # 31-90d
        (91 * D, 17),  # 90d+
    ]
    subs = [sub_row("ag-form", "AGA", as_of - age) for age, n in ages for _ in range(n)]
    await write(perf_app, subs)
    doc = await report(perf_client, opm, period="last-120d", form="ag-form")
    cells = {c["age"]: c["count"] for c in only(doc, "ag-form")["backlog"]}
    assert cells == {"0-7d": 21, "8-30d": 39, "31-90d": 31, "90d+": 17}


# Privacy review (2026-11-26): a suppressed group lists no backlog cell; the funnel lists a
# row for every enabled rule, whether or not anything happened


async def test_a_suppressed_group_lists_no_backlog_cell(
    perf_app: FastAPI,
    perf_client: httpx.AsyncClient,
    opm: dict[str, str],
    catalog: Catalog,
    clock: Clock,
) -> None:
    clock.now = datetime(2024, 7, 1, tzinfo=UTC)
    catalog.add("pv-lone", "PVA", [], None)
    catalog.add("pv-busy", "PVA", [], None)
    at = datetime(2023, 8, 7, tzinfo=UTC)
    lone = [sub_row("pv-lone", "PVA", at + i * H) for i in range(2)]
    busy = [sub_row("pv-busy", "PVA", at + i * H) for i in range(12)]
    events = [event(lone[0], D, "needs_info", "PVA")]
    await write(perf_app, lone + busy, events)
    doc = await report(perf_client, opm, period="2023-08", agency="PVA", group_by="form")
    hidden = only(doc, "pv-lone")
    assert hidden["suppressed"] is True
    # before: [needs_info 8-30d: null, submitted 8-30d: null], which told the lone
    # application's status as it moved
    assert hidden["backlog"] == []
    assert hidden["trend"] == []
    # a shown group keeps its cells
    assert only(doc, "pv-busy")["backlog"] == [{"status": "submitted", "age": "8-30d", "count": 12}]
    r = await perf_client.get(
        "/api/v1/performance",
        params={"period": "2023-08", "agency": "PVA", "format": "csv"},
        headers=opm,
    )
    lines = {line.split(",")[1]: line.split(",") for line in r.text.splitlines()[1:]}
    header = r.text.splitlines()[0].split(",")
    assert lines["pv-lone"][header.index("backlog_open")] == ""
    assert lines["pv-busy"][header.index("backlog_open")] == "12"


async def test_the_funnel_lists_every_enabled_rule_whether_or_not_it_was_used(
    perf_client: httpx.AsyncClient, opm: dict[str, str], catalog: Catalog, clock: Clock
) -> None:
    clock.now = datetime(2024, 7, 1, tzinfo=UTC)

    def rule(id_: str, to_form: str, *, enabled: bool = True) -> dict[str, Any]:
        return {
            "id": id_,
            "from_form": "fr-a",
            "to_form": to_form,
            "condition": {"pointer": "/x", "op": "exists"},
            "reason": {"en": "r", "es": "r"},
            "enabled": enabled,
        }

    kept = list(catalog.rules)
    catalog.rules[:] = [
        rule("fr-1", "fr-b"),
        rule("fr-2", "fr-c"),
        rule("fr-3", "fr-d", enabled=False),
    ]
    try:
        # a period in which nothing happened at all
        r = await perf_client.get(
            "/api/v1/performance/referrals", params={"period": "2019-02"}, headers=opm
        )
    finally:
        catalog.rules[:] = kept
    assert r.status_code == 200, r.text
    doc = r.json()
    hidden = {"suppressed": True, "suggested": None, "started": None, "submitted": None}
    assert doc["rows"] == [
        {"from_form": "fr-a", "to_form": "fr-b", **hidden},
        {"from_form": "fr-a", "to_form": "fr-c", **hidden},
    ]
    assert doc["total"] == {"from_form": "*", "to_form": "*", **hidden}
