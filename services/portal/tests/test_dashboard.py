"""OPM's performance dashboard: measures with SVG charts, filters passed to the API,
suppressed groups shown as a dash, red/amber/green, the referral funnel, CSV, and who may see
it; the gateway is the fake one plus the two performance endpoints."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from copy import deepcopy
from typing import Any

import httpx
import pytest

from .fake_gateway import PASSWORD, FakeGateway, portal_browser

REPORT: dict[str, Any] = {
    "period": "2026-Q2",
    "start": "2026-04-01T00:00:00Z",
    "end": "2026-07-01T00:00:00Z",
    "as_of": "2026-07-01T00:00:00Z",
    "group_by": "agency",
    "min_cell": 10,
    "groups": [
        {
            "key": "DSS",
            "label": "DSS",
            "suppressed": False,
            "volume": 420,
            "first_response": {"count": 400, "median_days": 1.5, "p90_days": 4.0},
            "decision": {"count": 300, "median_days": 12.0, "p90_days": 31.5},
            "needs_info_share": 0.125,
            "backlog": [{"status": "in_review", "age": "8-30d", "count": 55}],
            "deliveries": {
                "total": 420,
                "dead_letters": 3,
                "median_minutes_to_deliver": 0.5,
                "p90_minutes_to_deliver": 2.0,
            },
            "yearly_volume": 95000,
            "digital_uptake": 0.0177,
            "target": {
                "due": 350,
                "met": 280,
                "share_met": 0.8,
                "target_share": 0.9,
                "rag": "amber",
            },
            "trend": [
                {
                    "week": "2026-04-06",
                    "volume": 30,
                    "decided": 20,
                    "median_days_to_decision": 10.0,
                    "share_met": 0.8,
                    "rag": "amber",
                },
                {
                    "week": "2026-04-13",
                    "volume": 45,
                    "decided": 30,
                    "median_days_to_decision": 14.0,
                    "share_met": 0.7,
                    "rag": "red",
                },
                {
                    "week": "2026-04-20",
                    "volume": None,
                    "decided": None,
                    "median_days_to_decision": None,
                    "share_met": None,
                    "rag": None,
                },
            ],
        },
        {
            "key": "DMV",
            "label": "DMV",
            "suppressed": True,
            "volume": None,
            "first_response": {"count": None, "median_days": None, "p90_days": None},
            "decision": {"count": None, "median_days": None, "p90_days": None},
            "needs_info_share": None,
            "backlog": [],
            "deliveries": {
                "total": None,
                "dead_letters": None,
                "median_minutes_to_deliver": None,
                "p90_minutes_to_deliver": None,
            },
            "yearly_volume": 1000,
            "digital_uptake": None,
            "target": {
                "due": None,
                "met": None,
                "share_met": None,
                "target_share": None,
                "rag": None,
            },
            "trend": [],
        },
    ],
}
FUNNEL = {
    "period": "2026-Q2",
    "start": "2026-04-01T00:00:00Z",
    "end": "2026-07-01T00:00:00Z",
    "min_cell": 10,
    "rows": [
        {
            "from_form": "dss-snap-application",
            "to_form": "oec-care4kids-application",
            "suppressed": False,
            "suggested": 40,
            "started": 12,
            "submitted": 5,
        },
        {
            "from_form": "dol-unemployment-claim",
            "to_form": "dss-snap-application",
            "suppressed": True,
            "suggested": None,
            "started": None,
            "submitted": None,
        },
    ],
    "total": {
        "from_form": "*",
        "to_form": "*",
        "suppressed": False,
        "suggested": 44,
        "started": 13,
        "submitted": 5,
    },
}


NEEDS_POSTGRESQL = {
    "type": "https://tellonce.example/problems/needs-postgresql",
    "title": "Needs PostgreSQL",
    "status": 409,
    "detail": "Performance measures are computed by SQL aggregation that needs PostgreSQL "
    "(percentile_cont, FILTER, GROUPING SETS); this deployment runs on sqlite.",
}
"""The submissions service's answer on the SQLite demo (``make run``)."""


class Gateway(FakeGateway):
    performance_calls: list[dict[str, str]]
    started: list[str]
    report: dict[str, Any]
    refusals: dict[str, dict[str, Any]]
    """A problem the API answers instead, by path."""

    def __init__(self, **fields: Any) -> None:
        super().__init__(**fields)
        self.report = deepcopy(REPORT)
        self.refusals = {}

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.startswith("/api/v1/referrals"):
            return self.referrals(request)
        if not path.startswith("/api/v1/performance"):
            return super().handle(request)
        if (self._who(request) or {}).get("role") not in ("auditor", "admin"):
            return httpx.Response(403, json={"status": 403, "detail": "OPM only"})
        params = dict(request.url.params)
        self.performance_calls.append({"path": path, **params})
        if path in self.refusals:
            problem = self.refusals[path]
            return httpx.Response(
                problem["status"],
                json=problem,
                headers={"content-type": "application/problem+json"},
            )
        if path == "/api/v1/performance/referrals":
            return httpx.Response(200, json=FUNNEL)
        if params.get("format") == "csv":
            return httpx.Response(
                200, text="group_by,key\nagency,DSS\n", headers={"content-type": "text/csv"}
            )
        return httpx.Response(200, json=self.report)

    def referrals(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.method, request.url.path, dict(request.headers)))
        if (self._who(request) or {}).get("role") != "resident":
            return httpx.Response(403, json={"status": 403, "detail": "residents only"})
        if request.url.path == "/api/v1/referrals" and request.method == "HEAD":
            # as the API: the GET's status, no content (and no rule evaluated)
            return httpx.Response(200, headers={"content-type": "application/json"})
        if request.url.path == "/api/v1/referrals":
            return httpx.Response(200, json={"items": list(REFERRALS.values())})
        match = re.fullmatch(r"/api/v1/referrals/([^/]+)/start", request.url.path)
        if request.method == "POST" and match and match.group(1) in REFERRALS:
            self.started.append(match.group(1))
            return httpx.Response(201, json={"referral": {}, "draft": {"id": "d-from-referral"}})
        return httpx.Response(404, json={"status": 404, "detail": "no such referral"})


REFERRALS = {
    "ref-1": {
        "id": "ref-1",
        "from_form": "dss-snap-application",
        "to_form": "oec-care4kids-application",
        "reason": {"en": "Children at home: child care help", "es": "Ayuda con el cuidado"},
        "status": "suggested",
    },
    "ref-2": {
        "id": "ref-2",
        "from_form": "dss-snap-application",
        "to_form": "dss-energy-assistance",
        "reason": {"en": "Energy help", "es": "Ayuda con la energía"},
        "status": "submitted",
    },
}


@pytest.fixture
def fake() -> Gateway:
    gateway = Gateway()
    gateway.performance_calls = []
    gateway.started = []
    return gateway


@pytest.fixture
async def browser(fake: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with portal_browser(fake.transport()) as client:
        yield client


async def sign_in(client: httpx.AsyncClient, email: str) -> None:
    html = (await client.get("/sign-in")).text
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    r = await client.post(
        "/sign-in", data={"email": email, "password": PASSWORD, "csrf_token": match.group(1)}
    )
    assert r.status_code == 303, r.text


async def test_auditor_sees_measures_charts_and_funnel(
    browser: httpx.AsyncClient, fake: Gateway
) -> None:
    await sign_in(browser, "auditor@demo.gov")
    page = await browser.get(
        "/dashboard", params={"period": "2026-Q2", "priority": "child-family", "agency": "DSS"}
    )
    assert page.status_code == 200, page.text
    html = page.text
    # the filters reach the API
    measures = next(c for c in fake.performance_calls if c["path"] == "/api/v1/performance")
    assert measures["period"] == "2026-Q2"
    assert measures["priority"] == "child-family"
    assert measures["agency"] == "DSS"
    # figures, a bar, the RAG badge and a sparkline for DSS
    dss = html.split('data-group="DSS"')[1].split("</tr>")[0]
    assert "420" in dss
    assert "12 / 31.5" in dss
    assert 'data-rag="amber"' in dss
    assert "<polyline" in dss
    assert "12.5 %" in dss
    # the suppressed group shows no figure
    dmv = html.split('data-group="DMV"')[1].split("</tr>")[0]
    assert "fewer than 10" in dmv
    assert not re.search(r"\d{2,}", dmv.replace("10", ""))
    # the funnel: counts only, small cells hidden
    funnel = html.split("data-funnel")[1]
    assert "suggested: 40" in funnel
    assert "started: 12" in funnel
    assert "submitted: 5" in funnel
    assert funnel.count("fewer than 10") == 1


async def test_csv_download_and_bad_filters(browser: httpx.AsyncClient, fake: Gateway) -> None:
    await sign_in(browser, "admin@demo.gov")
    csv = await browser.get("/dashboard/performance.csv", params={"period": "2026-Q2"})
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert "agency,DSS" in csv.text
    bad = await browser.get("/dashboard", params={"period": "DROP TABLE", "priority": "x"})
    assert bad.status_code == 200
    assert "Use YYYY, YYYY-Qn, YYYY-MM or last-Nd" in bad.text
    # the bad period was not sent: the default was
    assert fake.performance_calls[-1]["period"] == "last-90d"
    assert "priority" not in fake.performance_calls[-2]


async def test_residents_and_agencies_cannot_open_it(
    browser: httpx.AsyncClient, fake: Gateway
) -> None:
    await sign_in(browser, "resident@demo.gov")
    assert (await browser.get("/dashboard")).status_code == 403
    assert fake.performance_calls == []
    anonymous = await browser.get("/dashboard/performance.csv", follow_redirects=False)
    assert anonymous.status_code in (303, 403)


async def test_resident_sees_referrals_and_starts_one_in_a_click(
    browser: httpx.AsyncClient, fake: Gateway
) -> None:
    await sign_in(browser, "resident@demo.gov")
    page = await browser.get("/referrals")
    assert page.status_code == 200, page.text
    assert "Children at home: child care help" in page.text
    first = page.text.split('data-referral="ref-1"')[1].split("</li>")[0]
    second = page.text.split('data-referral="ref-2"')[1].split("</li>")[0]
    assert "Start it with my answers filled in" in first
    assert "You have sent it." in second
    assert "<form" not in second
    token = re.search(r'name="csrf_token" value="([^"]+)"', first)
    assert token
    r = await browser.post("/referrals/ref-1/start", data={"csrf_token": token.group(1)})
    assert r.status_code == 303
    assert r.headers["location"] == "/drafts/d-from-referral"
    assert fake.started == ["ref-1"]
    # without the CSRF token nothing is started
    r = await browser.post("/referrals/ref-1/start", data={})
    assert r.status_code in (400, 403)
    assert fake.started == ["ref-1"]
    r = await browser.post("/referrals/nope/start", data={"csrf_token": token.group(1)})
    assert r.status_code == 404


def referral_calls(fake: Gateway) -> list[tuple[str, str]]:
    return [(m, p) for m, p, _ in fake.calls if p.startswith("/api/v1/referrals")]


async def test_a_head_on_the_referrals_page_asks_the_api_with_a_head(
    browser: httpx.AsyncClient, fake: Gateway
) -> None:
    """The API evaluates a resident's rules when their referrals are listed (``suggested``
    counts the referrals shown): a HEAD on the page shows nothing, so it asks the API with a
    HEAD too (the same status, nothing evaluated); the GET lists them."""
    await sign_in(browser, "resident@demo.gov")
    head = await browser.head("/referrals")
    assert head.status_code == 200
    assert head.content == b""
    assert referral_calls(fake) == [("HEAD", "/api/v1/referrals")]
    page = await browser.get("/referrals")
    assert "Children at home: child care help" in page.text
    assert referral_calls(fake)[1:] == [("GET", "/api/v1/referrals")]
    await sign_in(browser, "staff@dss.demo.gov")
    assert (await browser.head("/referrals")).status_code == 403


async def test_an_open_total_with_a_hidden_cell_is_not_shown_as_exact(
    browser: httpx.AsyncClient, fake: Gateway
) -> None:
    """The Open column adds up the backlog cells: one hidden by small-cell suppression
    (``count: null``) makes the total unknown, shown as a hidden figure, not as the sum of
    the others."""
    fake.report["groups"][0]["backlog"] = [
        {"status": "in_review", "age": "8-30d", "count": 55},
        {"status": "needs_info", "age": "90d+", "count": None},
    ]
    await sign_in(browser, "auditor@demo.gov")
    assert await open_of_dss(browser) == "—"
    fake.report["groups"][0]["backlog"][1]["count"] = 12
    assert await open_of_dss(browser) == "67"


async def open_of_dss(browser: httpx.AsyncClient) -> str:
    """The DSS row's Open cell (the sixth column: the fifth cell after the row's header)."""
    html = (await browser.get("/dashboard", params={"period": "2026-Q2"})).text
    row = html.split('data-group="DSS"')[1].split("</tr>")[0]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    return str(cells[4]).strip()


async def test_on_sqlite_the_page_says_the_measures_need_postgresql_without_an_error(
    browser: httpx.AsyncClient, fake: Gateway
) -> None:
    fake.refusals = {
        "/api/v1/performance": NEEDS_POSTGRESQL,
        "/api/v1/performance/referrals": NEEDS_POSTGRESQL,
    }
    await sign_in(browser, "auditor@demo.gov")
    page = await browser.get("/dashboard")
    assert page.status_code == 200
    html = page.text
    assert "data-needs-postgresql" in html
    assert "Performance measures need the PostgreSQL deployment" in html
    assert "SUBMISSIONS_DATABASE_URL=postgresql+psycopg://" in html
    assert "There is a problem" not in html
    assert "usa-error-summary" not in html
    assert "usa-alert--error" not in html
    assert "No referrals in this period" not in html
    assert "Referral figures need the PostgreSQL deployment too." in html
    await browser.get("/language", params={"to": "es"})
    spanish = await browser.get("/dashboard")
    assert spanish.status_code == 200
    assert "Las medidas de desempeño necesitan la instalación con PostgreSQL" in spanish.text
    assert "No hay referencias en este periodo" not in spanish.text


async def test_a_refused_funnel_never_says_there_were_no_referrals(
    browser: httpx.AsyncClient, fake: Gateway
) -> None:
    fake.refusals = {
        "/api/v1/performance/referrals": {"status": 422, "detail": "The period is too long."}
    }
    await sign_in(browser, "auditor@demo.gov")
    html = (await browser.get("/dashboard", params={"period": "2026-Q2"})).text
    assert 'data-group="DSS"' in html, "the measures still show"
    assert "No referrals in this period" not in html
    assert "The referral figures could not be read for this period." in html


async def test_the_period_shows_its_last_day_not_the_day_after(
    browser: httpx.AsyncClient, fake: Gateway
) -> None:
    fake.report |= {"period": "2026", "start": "2026-01-01T00:00:00Z",
                    "end": "2027-01-01T00:00:00Z"}  # fmt: skip
    await sign_in(browser, "auditor@demo.gov")
    html = (await browser.get("/dashboard", params={"period": "2026"})).text
    assert "From 1 January 2026 to 31 December 2026." in html
    await browser.get("/language", params={"to": "es"})
    html = (await browser.get("/dashboard", params={"period": "2026"})).text
    assert "Del 1 de enero de 2026 al 31 de diciembre de 2026." in html
    # a rolling period ends now: its two moments' dates, in Eastern Time
    fake.report |= {"period": "last-90d", "start": "2026-08-29T04:15:00Z",
                    "end": "2026-11-27T04:15:00Z"}  # fmt: skip
    html = (await browser.get("/dashboard")).text
    assert "Del 29 de agosto de 2026 al 26 de noviembre de 2026." in html
