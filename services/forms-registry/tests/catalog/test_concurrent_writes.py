"""Two admins (or one admin's double click, or a retried request) writing the same thing at
the same moment, on PostgreSQL through the app: each pair ends as it would one after the
other, never in a 500 (concurrency review, 2026-11-26: 23-25 of 25 pairs of each kind below
gave a 500 or lost an import). Every case runs several rounds, since a race is not lost on
every run."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

ROUNDS = 8


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


SCHEMA = {
    "type": "object",
    "properties": {"firstName": {"type": "string"}, "lastName": {"type": "string"}},
}


async def both(*calls: Any) -> list[int]:
    answers = await asyncio.gather(*calls)
    for a in answers:
        if a.status_code != 204:
            assert a.headers["content-type"].startswith(("application/json", "application/problem"))
    return sorted(a.status_code for a in answers)


async def new_form(client: httpx.AsyncClient, admin: dict[str, str]) -> str:
    slug = unique("race-form")
    r = await client.post(
        "/api/v1/forms", json={"slug": slug, "agency": "DSS", "title": "Race"}, headers=admin
    )
    assert r.status_code == 201, r.text
    return slug


async def test_the_same_key_created_twice_at_once_is_one_201_and_one_409(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    for _ in range(ROUNDS):
        element = {
            "id": f"race.e{uuid.uuid4().hex[:8]}",
            "schema": {"type": "string"},
            "label": {"en": "x", "es": "x"},
            "sensitivity": "public",
        }
        posts = [client.post("/api/v1/elements", json=element, headers=admin) for _ in "ab"]
        assert await both(*posts) == [201, 409]
        agency = {"code": "RC" + uuid.uuid4().hex[:6].upper(), "name": "Race agency"}
        posts = [client.post("/api/v1/agencies", json=agency, headers=admin) for _ in "ab"]
        assert await both(*posts) == [201, 409]
        rule = {
            "id": unique("race-rule"),
            "from_form": await new_form(client, admin),
            "to_form": await new_form(client, admin),
            "condition": {"pointer": "/a", "op": "gt", "value": 0},
            "reason": {"en": "r", "es": "r"},
        }
        posts = [client.post("/api/v1/referral-rules", json=rule, headers=admin) for _ in "ab"]
        assert await both(*posts) == [201, 409]


async def test_a_rule_replaced_while_it_is_deleted_is_either_order_never_a_500(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    for _ in range(ROUNDS):
        rule: dict[str, Any] = {
            "id": unique("race-rule"),
            "from_form": await new_form(client, admin),
            "to_form": await new_form(client, admin),
            "condition": {"pointer": "/a", "op": "gt", "value": 0},
            "reason": {"en": "r", "es": "r"},
        }
        assert (await client.post("/api/v1/referral-rules", json=rule, headers=admin)).is_success
        path = f"/api/v1/referral-rules/{rule.pop('id')}"
        codes = await both(
            client.put(path, json={**rule, "enabled": False}, headers=admin),
            client.delete(path, headers=admin),
        )
        assert codes in ([200, 204], [204, 404])  # replaced then deleted, or deleted first
        assert (await client.get(path)).status_code == 404


async def test_two_imports_into_one_form_at_once_become_two_versions(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    for _ in range(ROUNDS):
        slug = await new_form(client, admin)
        path = f"/api/v1/forms/{slug}/versions"
        imports = await asyncio.gather(
            *(client.post(path, json={"schema": SCHEMA}, headers=admin) for _ in "ab")
        )
        assert [a.status_code for a in imports] == [201, 201], [a.text for a in imports]
        assert sorted(a.json()["version"] for a in imports) == [1, 2]


async def test_one_agreement_deleted_twice_at_once_is_a_204_then_a_404(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    for _ in range(ROUNDS):
        slug = await new_form(client, admin)
        path = f"/api/v1/forms/{slug}/versions"
        assert (await client.post(path, json={"schema": SCHEMA}, headers=admin)).is_success
        assert (await client.post(f"{path}/1/publish", headers=admin)).is_success
        created = await client.post(
            "/api/v1/agreements",
            json={
                "agency": "DOL",
                "form": slug,
                "fields": ["/firstName"],
                "purpose": "Race test",
                "legal_basis": "Test",
            },
            headers=admin,
        )
        assert created.status_code == 201, created.text
        url = f"/api/v1/agreements/{created.json()['id']}"
        assert await both(*(client.delete(url, headers=admin) for _ in "ab")) == [204, 404]
