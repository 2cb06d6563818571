"""Referrals: rules evaluated on the resident's own submissions, the prefilled start, the
submitted mark, and OPM's funnel (counts only), on PostgreSQL through the ASGI app."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tellonce_shared.testing import TokenFactory
from tellonce_submissions.referrals.conditions import evaluate
from tellonce_submissions.referrals.models import Referral, ReferralCheck

from .conftest import Catalog

CARE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "parent": {
            "type": "object",
            "properties": {
                "firstName": {"type": "string"},
                "dateOfBirth": {"type": "string"},
                "ssn": {"type": "string"},
            },
        },
        "childCareProvider": {"type": "string"},
    },
}
CARE_ELEMENTS = {
    "/parent/firstName": "person.givenName",
    "/parent/dateOfBirth": "person.birthDate",
    "/parent/ssn": "person.ssn",
}
RULES = [
    {
        "id": "snap-care",
        "from_form": "snap",
        "to_form": "care",
        "condition": {"pointer": "/householdSize", "op": "gt", "value": 2},
        "reason": {"en": "Children at home: child care help", "es": "Ayuda con el cuidado"},
        "enabled": True,
    },
    {
        "id": "snap-huge",
        "from_form": "snap",
        "to_form": "energy-x",
        "condition": {"pointer": "/householdSize", "op": "gt", "value": 10},
        "reason": {"en": "Large household", "es": "Hogar grande"},
        "enabled": True,
    },
]


@pytest.fixture(scope="module", autouse=True)
def rules(catalog: Catalog) -> None:
    if ("care", 1) not in catalog.double.versions:
        catalog.double.add_form("care", "OEC", "Child care subsidy")
        catalog.double.add_version("care", 1, CARE_SCHEMA, CARE_ELEMENTS, with_sensitivity=True)
        catalog.double.agreements["care"] = []
    catalog.rules[:] = RULES


def snap(size: int) -> dict[str, Any]:
    return {
        "form": "snap",
        "version": 1,
        "answers": {
            "applicant": {"givenName": "Ana", "birthDate": "1990-02-03", "ssn": "123456789"},
            "householdSize": size,
        },
    }


async def submit(
    client: httpx.AsyncClient, tokens: TokenFactory, sub: str, payload: dict[str, Any]
) -> dict[str, Any]:
    headers = {**tokens.headers(sub), "Idempotency-Key": uuid.uuid4().hex}
    r = await client.post("/api/v1/submissions", json=payload, headers=headers)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def referrals(client: httpx.AsyncClient, tokens: TokenFactory, sub: str) -> list[Any]:
    r = await client.get("/api/v1/referrals", headers=tokens.headers(sub))
    assert r.status_code == 200, r.text
    items: list[Any] = r.json()["items"]
    return items


async def test_matching_rule_becomes_a_referral_for_its_resident_only(
    perf_client: httpx.AsyncClient, perf_tokens: TokenFactory, catalog: Catalog
) -> None:
    ana, bo = "res-" + uuid.uuid4().hex[:8], "res-" + uuid.uuid4().hex[:8]
    source = await submit(perf_client, perf_tokens, ana, snap(4))
    await submit(perf_client, perf_tokens, bo, snap(1))
    [item] = await referrals(perf_client, perf_tokens, ana)
    assert item["to_form"] == "care"
    assert item["from_form"] == "snap"
    assert item["status"] == "suggested"
    assert item["source_submission_id"] == source["id"]
    assert item["reason"] == {
        "en": "Children at home: child care help",
        "es": "Ayuda con el cuidado",
    }
    # evaluated once per submission: listing again asks the registry nothing new
    calls = catalog.rule_calls
    assert [i["id"] for i in await referrals(perf_client, perf_tokens, ana)] == [item["id"]]
    assert catalog.rule_calls == calls
    # a household of one matches no rule; nobody sees another resident's referrals
    assert await referrals(perf_client, perf_tokens, bo) == []
    r = await perf_client.post(
        f"/api/v1/referrals/{item['id']}/start", headers=perf_tokens.headers(bo)
    )
    assert r.status_code == 404
    agency = perf_tokens.headers("x", role="agency", agency="DSS")
    assert (await perf_client.get("/api/v1/referrals", headers=agency)).status_code == 403


async def test_start_prefills_a_draft_and_submitting_it_marks_the_referral(
    perf_client: httpx.AsyncClient, perf_tokens: TokenFactory
) -> None:
    ana = "res-" + uuid.uuid4().hex[:8]
    await submit(perf_client, perf_tokens, ana, snap(3))
    [item] = await referrals(perf_client, perf_tokens, ana)
    r = await perf_client.post(
        f"/api/v1/referrals/{item['id']}/start", headers=perf_tokens.headers(ana)
    )
    assert r.status_code == 201, r.text
    started = r.json()
    draft = started["draft"]
    assert draft["form"] == "care"
    # carried by data element, although the two forms name the fields differently
    assert draft["answers"]["parent"] == {
        "firstName": "Ana",
        "dateOfBirth": "1990-02-03",
        "ssn": "123456789",
    }
    assert started["referral"]["status"] == "started"
    assert started["referral"]["draft_id"] == draft["id"]
    # a second click resumes the same draft
    again = await perf_client.post(
        f"/api/v1/referrals/{item['id']}/start", headers=perf_tokens.headers(ana)
    )
    assert again.json()["draft"]["id"] == draft["id"]
    # the resident finishes and submits the draft
    answers = {**draft["answers"], "childCareProvider": "Little Stars"}
    done = await submit(
        perf_client,
        perf_tokens,
        ana,
        {"form": "care", "version": 1, "answers": answers, "draft": draft["id"]},
    )
    [item] = await referrals(perf_client, perf_tokens, ana)
    assert item["status"] == "submitted"
    assert item["submission_id"] == done["id"]


async def test_funnel_counts_only_and_suppresses_small_cells(
    perf_client: httpx.AsyncClient, perf_tokens: TokenFactory, perf_app: FastAPI
) -> None:
    opm = perf_tokens.headers("opm", role="auditor")

    async def funnel() -> dict[tuple[str, str], Any]:
        r = await perf_client.get("/api/v1/performance/referrals", headers=opm)
        assert r.status_code == 200, r.text
        assert "Ana" not in r.text
        assert "123456789" not in r.text
        return {(row["from_form"], row["to_form"]): row for row in r.json()["rows"]}

    async with perf_app.state.database.sessions() as s:
        rows = (
            await s.execute(select(Referral.status).where(Referral.to_form == "care"))
        ).scalars()
        earlier = Counter(rows)
    assert sum(earlier.values()) < 10  # what the earlier tests left: no figures yet
    if earlier:
        hidden = (await funnel())[("snap", "care")]
        assert hidden["suppressed"] is True
        assert hidden["suggested"] is None
        assert hidden["started"] is None
    for n in range(10):
        sub = "res-" + uuid.uuid4().hex[:8]
        await submit(perf_client, perf_tokens, sub, snap(5))
        [item] = await referrals(perf_client, perf_tokens, sub)
        if n < 4:
            r = await perf_client.post(
                f"/api/v1/referrals/{item['id']}/start", headers=perf_tokens.headers(sub)
            )
            assert r.status_code == 201
        if n == 0:
            # submitted, and the resident does not come back to the list: still counted
            draft = r.json()["draft"]
            payload = {"form": "care", "version": 1, "answers": draft["answers"]}
            await submit(perf_client, perf_tokens, sub, {**payload, "draft": draft["id"]})
    row = (await funnel())[("snap", "care")]
    assert row["suppressed"] is False
    assert row["suggested"] == 10 + sum(earlier.values())
    assert row["started"] == 4 + earlier["started"] + earlier["submitted"]
    assert row["submitted"] == earlier["submitted"] + 1


@pytest.mark.parametrize(
    ("condition", "answers", "expected"),
    [
        ({"pointer": "/a/b", "op": "gt", "value": 0}, {"a": {"b": 2}}, True),
        ({"pointer": "/a/b", "op": "gt", "value": 0}, {"a": {"b": 0}}, False),
        ({"pointer": "/a/b", "op": "gt", "value": 0}, {"a": {"b": "3"}}, False),
        ({"pointer": "/a/b", "op": "gt", "value": 0}, {}, False),
        ({"pointer": "/a/b", "op": "gte", "value": 2}, {"a": {"b": 2.0}}, True),
        ({"pointer": "/d", "op": "lt", "value": "2000-01-01"}, {"d": "1999-12-31"}, True),
        ({"pointer": "/s", "op": "eq", "value": "x"}, {"s": "x"}, True),
        ({"pointer": "/s", "op": "eq", "value": 1}, {"s": True}, False),
        ({"pointer": "/s", "op": "ne", "value": "x"}, {"s": "y"}, True),
        ({"pointer": "/s", "op": "in", "value": ["a", "b"]}, {"s": "b"}, True),
        ({"pointer": "/l", "op": "contains", "value": "kid"}, {"l": ["kid", "adult"]}, True),
        ({"pointer": "/l/1", "op": "eq", "value": "adult"}, {"l": ["kid", "adult"]}, True),
        ({"pointer": "/a~1b", "op": "exists"}, {"a/b": None}, True),
        ({"pointer": "/x", "op": "exists", "value": False}, {}, True),
        ({"pointer": "/x", "op": "regex", "value": ".*"}, {"x": "a"}, False),
        (
            {
                "all": [
                    {"pointer": "/a", "op": "eq", "value": 1},
                    {"not": {"pointer": "/b", "op": "exists"}},
                ]
            },
            {"a": 1},
            True,
        ),
        (
            {
                "any": [
                    {"pointer": "/a", "op": "eq", "value": 2},
                    {"pointer": "/a", "op": "eq", "value": 1},
                ]
            },
            {"a": 1},
            True,
        ),
        ({"all": []}, {}, False),
        ("__import__('os')", {}, False),
    ],
)
def test_condition_language(condition: Any, answers: dict[str, Any], expected: bool) -> None:
    assert evaluate(condition, answers) is expected


async def test_a_referral_id_in_any_case_names_its_referral(
    perf_client: httpx.AsyncClient, perf_tokens: TokenFactory
) -> None:
    ana = "res-" + uuid.uuid4().hex[:8]
    await submit(perf_client, perf_tokens, ana, snap(3))
    [item] = await referrals(perf_client, perf_tokens, ana)
    me = perf_tokens.headers(ana)
    upper = await perf_client.post(f"/api/v1/referrals/{item['id'].upper()}/start", headers=me)
    assert upper.status_code == 201, upper.text
    assert upper.json()["referral"]["id"] == item["id"]
    braced = await perf_client.post(f"/api/v1/referrals/{{{item['id']}}}/start", headers=me)
    assert braced.status_code == 201, braced.text
    assert braced.json()["draft"]["id"] == upper.json()["draft"]["id"]
    for bad in ("nope", "%00", uuid.uuid4().hex):
        r = await perf_client.post(f"/api/v1/referrals/{bad}/start", headers=me)
        assert r.status_code == 404


async def test_a_head_on_the_referrals_evaluates_nothing(
    perf_client: httpx.AsyncClient,
    perf_tokens: TokenFactory,
    perf_app: FastAPI,
    catalog: Catalog,
) -> None:
    """A HEAD runs the listing's GET but sends no content: the resident is shown nothing, so
    no rule is evaluated and no referral is made (``suggested`` in OPM's funnel counts the
    referrals shown to residents, created when first listed). The GET that follows makes it."""
    ana = "res-" + uuid.uuid4().hex[:8]
    source = await submit(perf_client, perf_tokens, ana, snap(4))
    calls = catalog.rule_calls
    head = await perf_client.head("/api/v1/referrals", headers=perf_tokens.headers(ana))
    assert head.status_code == 200
    assert head.content == b""
    assert catalog.rule_calls == calls, "no rules asked for"
    async with perf_app.state.database.sessions() as s:
        made = (await s.execute(select(Referral.id).where(Referral.owner == ana))).all()
        checked = (
            await s.execute(select(ReferralCheck.submission_id).where(ReferralCheck.owner == ana))
        ).all()
    assert made == [], "no referral made"
    assert checked == [], "no submission marked evaluated"
    [item] = await referrals(perf_client, perf_tokens, ana)
    assert item["source_submission_id"] == source["id"]
    refused = await perf_client.head(
        "/api/v1/referrals", headers=perf_tokens.headers("opm", role="auditor")
    )
    assert refused.status_code == 403, "refused as the GET is"


CARE = {"form": "care", "version": 1, "answers": {"parent": {"firstName": "Ana"}}}


async def test_a_form_already_sent_is_not_suggested(
    perf_client: httpx.AsyncClient, perf_tokens: TokenFactory
) -> None:
    """Acceptance review: CEAP was suggested after sending CEAP, then SNAP. A form the
    resident has sent is not suggested; a draft of it does not count (not sent yet)."""
    sent_first = "res-" + uuid.uuid4().hex[:8]
    await submit(perf_client, perf_tokens, sent_first, CARE)
    await submit(perf_client, perf_tokens, sent_first, snap(4))
    assert await referrals(perf_client, perf_tokens, sent_first) == []
    drafted = "res-" + uuid.uuid4().hex[:8]
    r = await perf_client.post(
        "/api/v1/drafts", json={"form": "care"}, headers=perf_tokens.headers(drafted)
    )
    assert r.status_code == 201, r.text
    await submit(perf_client, perf_tokens, drafted, snap(4))
    assert [i["to_form"] for i in await referrals(perf_client, perf_tokens, drafted)] == ["care"]


async def test_a_suggestion_is_not_shown_once_its_form_is_sent_on_its_own(
    perf_client: httpx.AsyncClient, perf_tokens: TokenFactory
) -> None:
    """Suggested, not started, and then the resident sends the form directly: the
    suggestion is not shown again (a started one is marked submitted, as before)."""
    sub = "res-" + uuid.uuid4().hex[:8]
    await submit(perf_client, perf_tokens, sub, snap(4))
    [item] = await referrals(perf_client, perf_tokens, sub)
    assert item["status"] == "suggested"
    await submit(perf_client, perf_tokens, sub, CARE)
    assert await referrals(perf_client, perf_tokens, sub) == []
