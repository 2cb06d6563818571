"""Referral rules in the catalog: admins write, anyone reads, and the condition language
refuses anything that is not plain data (422), on PostgreSQL through the ASGI app."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tellonce_registry.referral_rules.seed import DEMO_RULES, seed_referral_rules
from tellonce_shared.testing import TokenFactory

SNAP = "dss-snap-application"
CARE = "oec-care4kids-application"


def rule(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "from_form": SNAP,
        "to_form": CARE,
        "condition": {"pointer": "/childrenCount", "op": "gt", "value": 0},
        "reason": {"en": "Children at home", "es": "Niños en casa"},
    }
    body.update(over)
    return body


async def test_admin_writes_anyone_reads(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    admin = tokens.headers(role="admin")
    rid = "t-" + uuid.uuid4().hex[:8]
    r = await client.post("/api/v1/referral-rules", json=rule(id=rid), headers=admin)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["condition"] == {"pointer": "/childrenCount", "op": "gt", "value": 0}
    assert created["reason"] == {"en": "Children at home", "es": "Niños en casa"}
    # anonymous read, filtered by source form
    listed = (await client.get("/api/v1/referral-rules", params={"form": SNAP})).json()
    assert rid in [x["id"] for x in listed["items"]]
    assert all(x["from_form"] == SNAP for x in listed["items"])
    other = (await client.get("/api/v1/referral-rules", params={"form": CARE})).json()
    assert rid not in [x["id"] for x in other["items"]]
    # replace with a combined condition
    combined = {
        "all": [
            {"pointer": "/childrenCount", "op": "gte", "value": 2},
            {"not": {"pointer": "/employmentStatus", "op": "in", "value": ["retired"]}},
        ]
    }
    r = await client.put(
        f"/api/v1/referral-rules/{rid}", json=rule(condition=combined), headers=admin
    )
    assert r.status_code == 200, r.text
    assert (await client.get(f"/api/v1/referral-rules/{rid}")).json()["condition"] == combined
    # duplicates conflict; residents cannot write
    r = await client.post("/api/v1/referral-rules", json=rule(id=rid), headers=admin)
    assert r.status_code == 409
    resident = tokens.headers(role="resident")
    assert (
        await client.post("/api/v1/referral-rules", json=rule(), headers=resident)
    ).status_code == 403
    assert (
        await client.delete(f"/api/v1/referral-rules/{rid}", headers=resident)
    ).status_code == 403
    assert (await client.delete(f"/api/v1/referral-rules/{rid}", headers=admin)).status_code == 204
    assert (await client.get(f"/api/v1/referral-rules/{rid}")).status_code == 404


def _deep(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"pointer": "/a", "op": "exists"}
    for _ in range(levels):
        node = {"not": node}
    return node


@pytest.mark.parametrize(
    "condition",
    [
        {"eval": "__import__('os').system('id')"},
        "householdSize > 1",
        {"pointer": "/childrenCount", "op": "__gt__", "value": 0},
        {"pointer": "childrenCount", "op": "gt", "value": 0},
        {"pointer": "/a~2b", "op": "eq", "value": 1},
        {"pointer": "/childrenCount", "op": "gt", "value": [1, 2]},
        {"pointer": "/childrenCount", "op": "gt", "value": True},
        {"pointer": "/childrenCount", "op": "gt", "value": {"$ne": 0}},
        {"pointer": "/childrenCount", "op": "in", "value": 3},
        {"pointer": "/childrenCount", "op": "gt", "value": 0, "code": "x"},
        {"all": []},
        {"all": [{"pointer": "/a", "op": "exists"}], "any": []},
        {"any": [{"pointer": f"/a{i}", "op": "exists"} for i in range(21)]},
        _deep(5),
    ],
)
async def test_unsafe_or_malformed_conditions_are_refused(
    client: httpx.AsyncClient, tokens: TokenFactory, condition: Any
) -> None:
    r = await client.post(
        "/api/v1/referral-rules",
        json=rule(condition=condition),
        headers=tokens.headers(role="admin"),
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_deepest_allowed_condition_is_accepted(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    r = await client.post(
        "/api/v1/referral-rules",
        json=rule(condition=_deep(4)),
        headers=tokens.headers(role="admin"),
    )
    assert r.status_code == 201, r.text


@pytest.mark.parametrize(
    "over",
    [
        {"to_form": "no-such-form"},
        {"from_form": "no-such-form"},
        {"to_form": SNAP},
        {"reason": {"en": "only english"}},
        {"id": "Bad Id!"},
        {"extra": 1},
    ],
)
async def test_bad_rules_are_422(
    client: httpx.AsyncClient, tokens: TokenFactory, over: dict[str, Any]
) -> None:
    r = await client.post(
        "/api/v1/referral-rules", json=rule(**over), headers=tokens.headers(role="admin")
    )
    assert r.status_code == 422, r.text


async def test_demo_rules_seed_once(client: httpx.AsyncClient, app: FastAPI) -> None:
    first = await seed_referral_rules(app.state.database)
    assert [line.rsplit(": ", 1)[1] for line in first] == ["added"] * len(DEMO_RULES)
    again = await seed_referral_rules(app.state.database)
    assert [line.rsplit(": ", 1)[1] for line in again] == ["kept"] * len(DEMO_RULES)
    listed = (await client.get("/api/v1/referral-rules", params={"limit": 500})).json()
    ids = {x["id"] for x in listed["items"]}
    assert {r["id"] for r in DEMO_RULES} <= ids
