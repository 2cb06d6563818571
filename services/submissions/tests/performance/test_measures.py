"""Each performance measure checked against values computed by hand on a generated history
(statuses spread over months), small-cell suppression, targets with red/amber/green, the
weekly trend, CSV, and who may read it; on PostgreSQL through the ASGI app.

The history (period 2026-Q2, read on 2026-07-01):

- ``perf-a`` (agency AAA, jobs-economy, 1,200 a year): 30 applications, two a day from Monday
  6 April (the second an hour later). Agency ``received`` after 6 hours for the first 15, after
  3 days for the others; ``needs_info`` after 12 hours for the first 6; the first 16 decided
  after i+1 days (approved/denied alternately); of the 14 still open, 10 went ``in_review``
  after 4 days. One delivery each, delivered after i+1 minutes, the last two dead letters.
  Three more applications in March (outside the period), decided in March.
- ``perf-b`` (agency AAA, child-family + jobs-economy, 365 a year): 12 applications from
  1 May, received after 1 day, decided after 2 days except the last (5 days).
- ``perf-small`` (agency BBB, transportation): 5 applications: every figure suppressed.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, insert, text

from tellonce_shared.testing import TokenFactory
from tellonce_submissions.deliveries.models import Delivery
from tellonce_submissions.models import Submission, SubmissionEvent
from tellonce_submissions.performance import facts
from tellonce_submissions.performance import repository as performance_repository
from tellonce_submissions.performance.models import SubmissionFacts
from tellonce_submissions.performance.repository import Scope
from tellonce_submissions.performance.service import rag

from .conftest import Catalog, Clock

READ_AT = datetime(2026, 7, 1, tzinfo=UTC)
MONDAY = datetime(2026, 4, 6, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)


def percentile_cont(values: list[float], q: float) -> float:
    """PostgreSQL's percentile_cont, independently: linear interpolation between ranks."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class History:
    def __init__(self) -> None:
        self.submissions: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.deliveries: list[dict[str, Any]] = []

    def submission(self, form: str, agency: str, at: datetime) -> str:
        sid = str(uuid.uuid4())
        self.submissions.append(
            {
                "id": sid,
                "reference": "T-" + uuid.uuid4().hex[:12],
                "owner": "perf-" + uuid.uuid4().hex[:6],
                "form": form,
                "version": 1,
                "owning_agency": agency,
                "answers": {},
                "receivers": [],
                "submitted_at": at,
            }
        )
        self.event(sid, at, "submitted", None)
        return sid

    def event(self, sid: str, at: datetime, status: str, agency: str | None = "AAA") -> None:
        self.events.append({"submission_id": sid, "at": at, "status": status, "agency": agency})

    def delivery(self, sid: str, at: datetime, after: timedelta | None) -> None:
        self.deliveries.append(
            {
                "id": str(uuid.uuid4()),
                "submission_id": sid,
                "reference": "x",
                "agency": "AAA",
                "form": "perf-a",
                "version": 1,
                "submitted_at": at,
                "fields": [],
                "answers": {},
                "status": "delivered" if after is not None else "dead",
                "created_at": at,
                "attempts": 1,
                "replays": 0,
                "delivered_at": at + after if after is not None else None,
                "dead_at": None if after is not None else at + H,
            }
        )


def build_history() -> History:
    h = History()
    for i in range(30):
        at = MONDAY + (i // 2) * D + (i % 2) * H
        sid = h.submission("perf-a", "AAA", at)
        h.event(sid, at + (6 * H if i < 15 else 3 * D), "received")
        if i < 6:
            h.event(sid, at + 12 * H, "needs_info")
        if i < 16:
            h.event(sid, at + (i + 1) * D, "approved" if i % 2 == 0 else "denied")
        elif i < 26:
            h.event(sid, at + 4 * D, "in_review")
        h.delivery(sid, at, timedelta(minutes=i + 1) if i < 28 else None)
    for i in range(3):
        at = datetime(2026, 3, 2, tzinfo=UTC) + i * D
        sid = h.submission("perf-a", "AAA", at)
        h.event(sid, at + D, "approved")
    for i in range(12):
        at = datetime(2026, 5, 1, tzinfo=UTC) + i * D
        sid = h.submission("perf-b", "AAA", at)
        h.event(sid, at + D, "received")
        h.event(sid, at + (5 * D if i == 11 else 2 * D), "approved")
    for i in range(5):
        at = datetime(2026, 5, 4, tzinfo=UTC) + i * D
        sid = h.submission("perf-small", "BBB", at)
        h.event(sid, at + D, "approved", "BBB")
    return h


@pytest.fixture(scope="module")
async def history(perf_app: FastAPI, catalog: Catalog) -> History:
    catalog.add("perf-a", "AAA", ["jobs-economy"], 1200)
    catalog.add("perf-b", "AAA", ["child-family", "jobs-economy"], 365)
    catalog.add("perf-small", "BBB", ["transportation"], 100)
    h = build_history()
    async with perf_app.state.database.sessions() as s:
        await s.execute(insert(Submission), h.submissions)
        await s.execute(insert(SubmissionEvent), h.events)
        await s.execute(insert(Delivery), h.deliveries)
        await facts.backfill(s)  # history written directly, not through the API
        await s.commit()
    return h


@pytest.fixture
def opm(perf_tokens: TokenFactory) -> dict[str, str]:
    return perf_tokens.headers("opm-analyst", role="auditor")


@pytest.fixture
def read_at(clock: Clock) -> Clock:
    clock.now = READ_AT
    return clock


async def report(
    client: httpx.AsyncClient, headers: dict[str, str], **params: str
) -> dict[str, Any]:
    r = await client.get(
        "/api/v1/performance", params={"period": "2026-Q2", **params}, headers=headers
    )
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def group(doc: dict[str, Any], key: str) -> dict[str, Any]:
    found: dict[str, Any]
    [found] = [g for g in doc["groups"] if g["key"] == key]
    return found


async def set_target(
    client: httpx.AsyncClient, headers: dict[str, str], form: str, days: int, share: float
) -> None:
    r = await client.put(
        f"/api/v1/performance/targets/{form}", json={"days": days, "share": share}, headers=headers
    )
    assert r.status_code == 200, r.text


async def test_measures_per_form_match_hand_computed_values(
    perf_client: httpx.AsyncClient, history: History, opm: dict[str, str], read_at: Clock
) -> None:
    await set_target(perf_client, opm, "perf-a", 10, 0.9)
    await set_target(perf_client, opm, "perf-b", 3, 0.95)
    doc = await report(perf_client, opm, group_by="form")
    assert doc["start"].startswith("2026-04-01")
    assert doc["end"].startswith("2026-07-01")
    assert [g["key"] for g in doc["groups"]] == ["perf-a", "perf-b", "perf-small"]

    a = group(doc, "perf-a")
    assert a["suppressed"] is False
    assert a["volume"] == 30  # the three March applications are outside the period
    # first response: 15 after 0.25 day, 15 after 3 days
    assert a["first_response"] == {"count": 30, "median_days": 1.62, "p90_days": 3.0}
    # decision: 16 decided after 1..16 days
    assert a["decision"] == {"count": 16, "median_days": 8.5, "p90_days": 14.5}
    assert a["needs_info_share"] == 0.2
    # backlog on 1 July: 14 open, 78 to 86 days old; 10 in review, 4 received (hidden); the
    # 10 hidden too, or 30 - 16 decided - 10 would give the 4 (complementary suppression)
    assert a["backlog"] == [
        {"status": "in_review", "age": "31-90d", "count": None},
        {"status": "received", "age": "31-90d", "count": None},
    ]
    # deliveries: 28 delivered after 1..28 minutes, 2 dead letters
    assert a["deliveries"] == {
        "total": 30,
        "dead_letters": 2,
        "median_minutes_to_deliver": 14.5,
        "p90_minutes_to_deliver": 25.3,
    }
    # uptake: 30 over 1,200 a year pro-rated to the 91 days of the quarter
    assert a["yearly_volume"] == 1200
    assert a["digital_uptake"] == round(30 / (1200 * 91 / 365), 4) == 0.1003
    # target 10 days for 90%: all 30 are due (16 decided, 14 open past 10 days), 10 met
    assert a["target"] == {
        "due": 30,
        "met": 10,
        "share_met": 0.3333,
        "target_share": 0.9,
        "rag": "red",
    }

    b = group(doc, "perf-b")
    assert b["volume"] == 12
    assert b["first_response"] == {"count": 12, "median_days": 1.0, "p90_days": 1.0}
    assert b["decision"] == {"count": 12, "median_days": 2.0, "p90_days": 2.0}
    assert b["needs_info_share"] == 0.0
    assert b["backlog"] == []
    assert b["deliveries"]["total"] is None  # no deliveries: fewer than 10
    assert b["digital_uptake"] == round(12 / 91, 4)
    # 11 of 12 within 3 days = 91.7% against 95%: within ten points, amber
    assert b["target"]["share_met"] == 0.9167
    assert b["target"]["rag"] == "amber"


async def test_small_groups_are_suppressed(
    perf_client: httpx.AsyncClient, history: History, opm: dict[str, str], read_at: Clock
) -> None:
    small = group(await report(perf_client, opm, group_by="form"), "perf-small")
    assert small["suppressed"] is True
    figures = [
        small["volume"],
        small["needs_info_share"],
        small["digital_uptake"],
        *small["first_response"].values(),
        *small["decision"].values(),
        *small["deliveries"].values(),
        small["target"]["share_met"],
        small["target"]["rag"],
    ]
    assert figures == [None] * len(figures)
    assert small["trend"] == []
    by_agency = await report(perf_client, opm, group_by="agency")
    assert group(by_agency, "BBB")["suppressed"] is True
    assert group(by_agency, "BBB")["volume"] is None
    by_priority = await report(perf_client, opm, group_by="priority")
    assert group(by_priority, "transportation")["volume"] is None
    # CSV leaves the cells empty too
    r = await perf_client.get(
        "/api/v1/performance", params={"period": "2026-Q2", "format": "csv"}, headers=opm
    )
    rows = {row["key"]: row for row in csv.DictReader(io.StringIO(r.text))}
    assert rows["perf-small"]["volume"] == ""
    assert rows["perf-small"]["suppressed"] == "True"


async def test_measures_per_agency_and_priority(
    perf_client: httpx.AsyncClient, history: History, opm: dict[str, str], read_at: Clock
) -> None:
    await set_target(perf_client, opm, "perf-a", 10, 0.9)
    await set_target(perf_client, opm, "perf-b", 3, 0.95)
    responses = [0.25] * 15 + [3.0] * 15 + [1.0] * 12
    decisions = [float(d) for d in range(1, 17)] + [2.0] * 11 + [5.0]
    aaa = group(await report(perf_client, opm, group_by="agency"), "AAA")
    assert aaa["volume"] == 42
    assert aaa["first_response"]["median_days"] == round(percentile_cont(responses, 0.5), 2)
    assert aaa["first_response"]["p90_days"] == round(percentile_cont(responses, 0.9), 2)
    assert aaa["decision"]["count"] == 28
    assert aaa["decision"]["median_days"] == round(percentile_cont(decisions, 0.5), 2) == 3.5
    assert aaa["decision"]["p90_days"] == round(percentile_cont(decisions, 0.9), 2) == 13.3
    assert aaa["needs_info_share"] == round(6 / 42, 4)
    assert aaa["digital_uptake"] == round(42 / ((1200 + 365) * 91 / 365), 4)
    # 42 due, 21 met; the target share is the due-weighted mean of 90% and 95%
    assert aaa["target"]["due"] == 42
    assert aaa["target"]["met"] == 21
    assert aaa["target"]["target_share"] == round((30 * 0.9 + 12 * 0.95) / 42, 4)
    assert aaa["target"]["rag"] == "red"

    by_priority = await report(perf_client, opm, group_by="priority")
    # perf-b is tagged with two priorities: it counts in both
    assert group(by_priority, "jobs-economy")["volume"] == 42
    assert group(by_priority, "child-family")["volume"] == 12
    only_children = await report(perf_client, opm, group_by="form", priority="child-family")
    assert [g["key"] for g in only_children["groups"]] == ["perf-b"]
    only_bbb = await report(perf_client, opm, group_by="form", agency="BBB")
    assert [g["key"] for g in only_bbb["groups"]] == ["perf-small"]


async def test_weekly_trend(
    perf_client: httpx.AsyncClient, history: History, opm: dict[str, str], read_at: Clock
) -> None:
    await set_target(perf_client, opm, "perf-a", 10, 0.9)
    a = group(await report(perf_client, opm, group_by="form"), "perf-a")
    assert a["trend"] == [
        # 14 applications, decided after 1..14 days: 10 within the target; hidden with the
        # third week, or 30 - 14 - 14 would give its 2 (complementary suppression; the first
        # of the two weeks of 14)
        {
            "week": "2026-04-06",
            "volume": None,
            "decided": None,
            "median_days_to_decision": None,
            "share_met": None,
            "rag": None,
        },
        # 14 applications, 2 decided (too few for a duration), none within 10 days
        {
            "week": "2026-04-13",
            "volume": 14,
            "decided": None,
            "median_days_to_decision": None,
            "share_met": 0.0,
            "rag": "red",
        },
        # 2 applications: suppressed
        {
            "week": "2026-04-20",
            "volume": None,
            "decided": None,
            "median_days_to_decision": None,
            "share_met": None,
            "rag": None,
        },
    ]


async def test_state_as_of_an_earlier_period_end(
    perf_client: httpx.AsyncClient, history: History, opm: dict[str, str], read_at: Clock
) -> None:
    """Read for April only: events after 1 May do not count yet."""
    a = group(await report(perf_client, opm, group_by="form", period="2026-04"), "perf-a")
    assert a["volume"] == 30
    # decided by 1 May: the first 16 were all decided by 24 April
    assert a["decision"]["count"] == 16
    march = await report(perf_client, opm, group_by="form", period="2026-03")
    assert march["groups"] == [] or all(g["volume"] is None for g in march["groups"])


def test_rag_bands() -> None:
    assert rag(0.9, 0.9) == "green"
    assert rag(0.95, 0.9) == "green"
    assert rag(0.8, 0.9) == "amber"
    assert rag(0.79, 0.9) == "red"
    assert rag(None, 0.9) is None


async def test_csv_by_accept_header(
    perf_client: httpx.AsyncClient, history: History, opm: dict[str, str], read_at: Clock
) -> None:
    r = await perf_client.get(
        "/api/v1/performance",
        params={"period": "2026-Q2", "group_by": "agency"},
        headers={**opm, "Accept": "text/csv"},
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    aaa = next(row for row in rows if row["key"] == "AAA")
    assert aaa["volume"] == "42"
    assert aaa["group_by"] == "agency"
    assert "decision_p90_days" in aaa


async def test_who_may_read_and_bad_input(
    perf_client: httpx.AsyncClient, perf_tokens: TokenFactory, history: History, read_at: Clock
) -> None:
    resident = perf_tokens.headers(role="resident")
    agency = perf_tokens.headers(role="agency", agency="AAA")
    admin = perf_tokens.headers(role="admin")
    for who in (resident, agency):
        assert (await perf_client.get("/api/v1/performance", headers=who)).status_code == 403
        assert (
            await perf_client.put(
                "/api/v1/performance/targets/perf-a", json={"days": 5, "share": 0.9}, headers=who
            )
        ).status_code == 403
        r = await perf_client.get("/api/v1/performance/referrals", headers=who)
        assert r.status_code == 403
    assert (await perf_client.get("/api/v1/performance")).status_code == 401
    assert (await perf_client.get("/api/v1/performance", headers=admin)).status_code == 200
    for params in (
        {"period": "2026-Q5"},
        {"period": "yesterday"},
        {"period": "last-0d"},
        {"group_by": "owner"},
        {"priority": "nope"},
        {"format": "xml"},
    ):
        r = await perf_client.get("/api/v1/performance", params=params, headers=admin)
        assert r.status_code == 422, (params, r.text)
    for body in (
        {"days": 0, "share": 0.9},
        {"days": 5, "share": 1.5},
        {"days": 5},
        {"days": 5, "share": 0.5, "x": 1},
    ):
        r = await perf_client.put("/api/v1/performance/targets/perf-a", json=body, headers=admin)
        assert r.status_code == 422, body
    r = await perf_client.put(
        "/api/v1/performance/targets/no-such-form", json={"days": 5, "share": 0.9}, headers=admin
    )
    assert r.status_code == 404
    listed = (await perf_client.get("/api/v1/performance/targets", headers=admin)).json()
    assert {"perf-a", "perf-b"} <= {t["form"] for t in listed["items"]}


async def test_facts_follow_submissions_and_status_posts(
    perf_client: httpx.AsyncClient, perf_tokens: TokenFactory, perf_app: FastAPI
) -> None:
    """The two hooks keep each application's milestones as the backfill would compute them
    from the timeline."""
    sub = "res-" + uuid.uuid4().hex[:8]
    answers = {"applicant": {"birthDate": "1990-01-01"}, "householdSize": 1}
    r = await perf_client.post(
        "/api/v1/submissions",
        json={"form": "snap", "version": 1, "answers": answers},
        headers={**perf_tokens.headers(sub), "Idempotency-Key": uuid.uuid4().hex},
    )
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    dss = perf_tokens.headers("staff", role="agency", agency="DSS")
    for status, message in (("received", None), ("needs_info", "payslip"), ("approved", None)):
        r = await perf_client.post(
            f"/api/v1/submissions/{sid}/status",
            json={"status": status, **({"message": message} if message else {})},
            headers=dss,
        )
        assert r.status_code in (200, 201), r.text

    def as_tuple(row: SubmissionFacts) -> tuple[Any, ...]:
        return (
            row.form,
            row.owning_agency,
            row.submitted_at,
            row.responded_at,
            row.decided_at,
            row.needs_info_at,
            row.last_status,
            row.last_at,
            row.week,
            row.response_s,
            row.decision_s,
        )

    async with perf_app.state.database.sessions() as s:
        kept = as_tuple(await s.get_one(SubmissionFacts, sid))
        await s.execute(delete(SubmissionFacts).where(SubmissionFacts.submission_id == sid))
        await facts.backfill(s)
        await s.commit()
        s.expunge_all()
        rebuilt = as_tuple(await s.get_one(SubmissionFacts, sid))
    assert kept == rebuilt
    assert kept[6] == "approved"
    assert kept[3] is not None
    assert kept[3] <= kept[5] <= kept[4]
    # the derived week and durations, as the backfill computes them
    assert kept[8] == facts.week_of(kept[2])
    assert kept[9] == (kept[3] - kept[2]).total_seconds()
    assert kept[10] == (kept[4] - kept[2]).total_seconds()


async def test_backlog_of_a_past_moment_reads_the_status_then(
    perf_app: FastAPI, history: History
) -> None:
    """At midnight on 16 April, 14 of perf-a's applications were open: 8 received (their
    stored latest status, a decision, came later), 6 not yet received (the last one filed at
    that very moment). Unsuppressed, at the repository level."""
    as_of = datetime(2026, 4, 16, tzinfo=UTC)
    scope = Scope(
        start=datetime(2026, 4, 1, tzinfo=UTC),
        end=datetime(2026, 5, 1, tzinfo=UTC),
        as_of=as_of,
        group_by="form",
        form="perf-a",
    )
    async with perf_app.state.database.sessions() as s:
        rows = [
            (r["grp"], r["status"], r["age"], r["n"])
            for r in await performance_repository.backlog(s, scope)
        ]
    assert rows == [("perf-a", "received", "0-7d", 8), ("perf-a", "submitted", "0-7d", 6)]


async def test_backlog_of_a_past_moment_reads_only_the_owning_agencys_status(
    perf_app: FastAPI, catalog: Catalog
) -> None:
    """As the facts do, the backlog of a past moment reads only the owning agency's posts: a
    receiving agency's ``in_review`` after the owner's ``received`` leaves it ``received``."""
    catalog.add("perf-own", "OWN", ["transportation"], None)
    h = History()
    filed = datetime(2026, 4, 2, tzinfo=UTC)
    sid = h.submission("perf-own", "OWN", filed)
    h.event(sid, filed + D, "received", "OWN")
    h.event(sid, filed + 3 * D, "in_review", "PRT")  # a partner that received a field
    h.event(sid, filed + 18 * D, "approved", "OWN")  # after the moment read
    async with perf_app.state.database.sessions() as s:
        await s.execute(insert(Submission), h.submissions)
        await s.execute(insert(SubmissionEvent), h.events)
        await facts.backfill(s)
        await s.commit()
        scope = Scope(
            start=datetime(2026, 4, 1, tzinfo=UTC),
            end=datetime(2026, 5, 1, tzinfo=UTC),
            as_of=datetime(2026, 4, 16, tzinfo=UTC),
            group_by="form",
            form="perf-own",
        )
        rows = [
            (r["grp"], r["status"], r["n"]) for r in await performance_repository.backlog(s, scope)
        ]
    assert rows == [("perf-own", "received", 1)]


# --- the indexed queries against the plain formulation, and owners that change -------------

NOVEMBER = datetime(2025, 11, 3, tzinfo=UTC)  # a Monday; nothing else is filed in 2025


@pytest.fixture(scope="module")
async def moved_history(perf_app: FastAPI, catalog: Catalog) -> History:
    """November 2025: ``perf-moved`` owned by AAA for its first 12 applications, then by
    CCC for 11 (the form changed hands); ``perf-c`` (CCC) 10 applications. Each has one
    delivery, delivered after i+1 minutes; some decided, some answered, some still open."""
    catalog.add("perf-moved", "CCC", ["transportation"], None)
    catalog.add("perf-c", "CCC", ["transportation", "child-family"], None)
    h = History()
    for i in range(23):
        at = NOVEMBER + i * 7 * H
        sid = h.submission("perf-moved", "AAA" if i < 12 else "CCC", at)
        h.event(sid, at + (i + 2) * H, "received")
        if i % 3 == 0:
            h.event(sid, at + (i + 1) * D, "approved")
        h.delivery(sid, at, timedelta(minutes=i + 1))
        h.deliveries[-1]["form"] = "perf-moved"
    for i in range(10):
        at = NOVEMBER + i * D + 3 * H
        sid = h.submission("perf-c", "CCC", at)
        h.event(sid, at + D, "received", "CCC")
        h.event(sid, at + (2 * i + 1) * D, "denied", "CCC")
        h.delivery(sid, at, timedelta(minutes=2 * (i + 1)) if i < 9 else None)
        h.deliveries[-1]["form"] = "perf-c"
    async with perf_app.state.database.sessions() as s:
        await s.execute(insert(Submission), h.submissions)
        await s.execute(insert(SubmissionEvent), h.events)
        await s.execute(insert(Delivery), h.deliveries)
        await facts.backfill(s)
        await s.commit()
    return h


async def test_deliveries_follow_the_owner_when_a_form_changes_hands(
    perf_app: FastAPI, moved_history: History
) -> None:
    """Deliveries carry the form, not the owning agency: a form owned by one agency in the
    period gives it to all its deliveries; perf-moved's are split by their submission."""
    mapping = [("perf-moved", "transportation"), ("perf-c", "transportation")]
    mapping.append(("perf-c", "child-family"))

    def scope(group_by: str, **filters: Any) -> Scope:
        return Scope(
            start=datetime(2025, 11, 1, tzinfo=UTC),
            end=datetime(2025, 12, 1, tzinfo=UTC),
            as_of=datetime(2025, 12, 1, tzinfo=UTC),
            group_by=group_by,
            mapping=mapping,
            **filters,
        )

    def minutes(values: list[float]) -> list[float]:
        return [percentile_cont(values, 0.5) * 60, percentile_cont(values, 0.9) * 60]

    moved_aaa = [float(i + 1) for i in range(12)]
    moved_ccc = [float(i + 1) for i in range(12, 23)]
    c = [float(2 * (i + 1)) for i in range(9)]  # the tenth is a dead letter
    async with perf_app.state.database.sessions() as s:
        by_agency = {
            r["grp"]: (r["total"], r["dead"], [round(x, 6) for x in r["deliver_s"]])
            for r in await performance_repository.deliveries(s, scope("agency"))
        }
        ccc_forms = {
            r["grp"]: (r["total"], r["dead"])
            for r in await performance_repository.deliveries(s, scope("form", agency="CCC"))
        }
        aaa_priorities = {
            r["grp"]: r["total"]
            for r in await performance_repository.deliveries(s, scope("priority", agency="AAA"))
        }
    assert by_agency == {
        "AAA": (12, 0, [round(x, 6) for x in minutes(moved_aaa)]),
        "CCC": (21, 1, [round(x, 6) for x in minutes(moved_ccc + c)]),
    }
    assert ccc_forms == {"perf-c": (10, 1), "perf-moved": (11, 0)}
    assert aaa_priorities == {"transportation": 12}


# The measures as first written (issue 11): a plain scan of the period's facts joined to the
# targets, durations computed per row, one GROUPING SETS pass; deliveries joined to their
# submissions' facts. The indexed queries must give the same rows.
PLAIN_MEASURES = """
WITH scope AS (
  SELECT s.form, s.submitted_at, {key} AS grp,
    CASE WHEN s.responded_at <= :as_of THEN s.responded_at END AS responded_at,
    CASE WHEN s.decided_at <= :as_of THEN s.decided_at END AS decided_at,
    coalesce(s.needs_info_at <= :as_of, false) AS needed_info
  FROM submission_facts s{join}
  WHERE s.submitted_at >= :start AND s.submitted_at < :end{where}
), judged AS (
  SELECT f.*, date_trunc('week', f.submitted_at AT TIME ZONE 'UTC')::date AS week, t.share,
    t.form IS NOT NULL AND (f.decided_at IS NOT NULL
      OR f.submitted_at + t.days * interval '1 day' < :as_of) AS due,
    t.form IS NOT NULL AND f.decided_at IS NOT NULL
      AND f.decided_at <= f.submitted_at + t.days * interval '1 day' AS met
  FROM scope f LEFT JOIN performance_targets t ON t.form = f.form
)
SELECT grp, week, CASE WHEN GROUPING(week) = 0 THEN 'week' ELSE 'total' END AS kind,
  count(*) AS volume, count(responded_at) AS responded,
  percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP
    (ORDER BY extract(epoch FROM responded_at - submitted_at)) AS response_s,
  count(decided_at) AS decided,
  percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP
    (ORDER BY extract(epoch FROM decided_at - submitted_at)) AS decision_s,
  count(*) FILTER (WHERE needed_info) AS needed_info,
  count(*) FILTER (WHERE due) AS due,
  count(*) FILTER (WHERE due AND met) AS met,
  avg(share) FILTER (WHERE due) AS target_share
FROM judged
GROUP BY GROUPING SETS ((grp), (grp, week))
ORDER BY grp, week NULLS FIRST
"""
PLAIN_DELIVERIES = """
SELECT {key} AS grp, count(*) AS total,
  count(*) FILTER (WHERE d.status = 'dead') AS dead,
  percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP
    (ORDER BY extract(epoch FROM coalesce(d.delivered_at, d.acked_at) - d.created_at))
    AS deliver_s
FROM submission_facts s{join}
JOIN deliveries d ON d.submission_id = s.submission_id
WHERE s.submitted_at >= :start AND s.submitted_at < :end{where}
GROUP BY 1
ORDER BY 1
"""


def _comparable(rows: list[Any]) -> list[tuple[Any, ...]]:
    def value(v: Any) -> Any:
        if isinstance(v, list):
            return tuple(None if x is None else round(float(x), 4) for x in v)
        if isinstance(v, float):
            return round(v, 6)
        return v

    return [tuple(value(v) for _, v in sorted(dict(r).items())) for r in rows]


async def test_indexed_queries_give_the_rows_of_the_plain_formulation(
    perf_client: httpx.AsyncClient,
    perf_app: FastAPI,
    history: History,
    moved_history: History,
    opm: dict[str, str],
) -> None:
    await set_target(perf_client, opm, "perf-a", 10, 0.9)
    await set_target(perf_client, opm, "perf-b", 3, 0.95)
    await set_target(perf_client, opm, "perf-moved", 2, 0.5)
    mapping = [
        ("perf-a", "jobs-economy"),
        ("perf-b", "child-family"),
        ("perf-b", "jobs-economy"),
        ("perf-small", "transportation"),
        ("perf-moved", "transportation"),
        ("perf-c", "transportation"),
        ("perf-c", "child-family"),
    ]
    windows = [
        # a quarter read at its end; April read on 1 May and mid-April (later milestones
        # ignored); November 2025; a period starting mid-week at an odd hour
        (datetime(2026, 4, 1, tzinfo=UTC), READ_AT, READ_AT),
        (datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC), None),
        (datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC), MONDAY + 9 * D),
        (datetime(2025, 11, 1, tzinfo=UTC), datetime(2025, 12, 1, tzinfo=UTC), None),
        (datetime(2025, 11, 5, 7, tzinfo=UTC), datetime(2026, 6, 3, 5, tzinfo=UTC), None),
    ]
    filters: list[dict[str, Any]] = [
        {},
        {"agency": "AAA"},
        {"agency": "CCC"},
        {"form": "perf-moved"},
        {"forms": ["perf-b", "perf-c"]},
    ]
    checked = 0
    async with perf_app.state.database.sessions() as s:
        for start, end, as_of in windows:
            for group_by in ("form", "agency", "priority"):
                for extra in filters:
                    scope = Scope(
                        start=start,
                        end=end,
                        as_of=as_of or end,
                        group_by=group_by,
                        mapping=mapping,
                        **extra,
                    )
                    parts = {"key": scope.key(), "join": scope.join(), "where": scope.where()}
                    plain = await s.execute(text(PLAIN_MEASURES.format(**parts)), scope.params())
                    indexed = await performance_repository.measures(s, scope)
                    assert _comparable(indexed) == _comparable(list(plain.mappings())), scope
                    plain = await s.execute(text(PLAIN_DELIVERIES.format(**parts)), scope.params())
                    indexed = await performance_repository.deliveries(s, scope)
                    assert _comparable(indexed) == _comparable(list(plain.mappings())), scope
                    checked += len(indexed)
    assert checked > 50  # the scopes are not all empty
