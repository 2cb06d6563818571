"""A NUL character (U+0000) anywhere in a referral-rule request is a 422 problem naming where,
never the database's refusal (review: ``?form=%00`` and ``/referral-rules/%00`` reached
PostgreSQL and came back as the last-line 400 "cannot be stored", without ``errors``)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tellonce_shared.testing import TokenFactory

PROBLEM = "application/problem+json"
NUL_MESSAGE = "Text cannot hold the NUL character (U+0000)."
RULES = "/api/v1/referral-rules"


def rule(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "from_form": "dss-snap-application",
        "to_form": "oec-care4kids-application",
        "condition": {"pointer": "/childrenCount", "op": "gt", "value": 0},
        "reason": {"en": "Children at home", "es": "Niños en casa"},
    }
    body.update(over)
    return body


def pointers(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    return [e["pointer"] for e in response.json()["errors"]]


@pytest.mark.parametrize(
    ("method", "url", "pointer"),
    [
        ("GET", f"{RULES}?form=dss%00", "/query/form"),
        ("GET", f"{RULES}/r%00", "/path/rule_id"),
        ("DELETE", f"{RULES}/r%00", "/path/rule_id"),
        ("PUT", f"{RULES}/r%00", "/path/rule_id"),
    ],
)
async def test_nul_in_a_parameter_is_422_naming_it(
    client: httpx.AsyncClient, tokens: TokenFactory, method: str, url: str, pointer: str
) -> None:
    admin = tokens.headers(role="admin")
    body = rule() if method == "PUT" else None
    response = await client.request(method, url, json=body, headers=admin)
    assert pointer in pointers(response)
    assert {"pointer": pointer, "message": NUL_MESSAGE} in response.json()["errors"]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"reason": {"en": "Children\x00", "es": "Niños"}}, ("/reason/en", "")),
        ({"condition": {"pointer": "/a\x00", "op": "exists"}}, ("/condition", "/pointer")),
        ({"condition": {"pointer": "/a", "op": "eq", "value": "x\x00"}}, ("/condition", "/value")),
        (
            {"condition": {"pointer": "/a", "op": "in", "value": ["ok", "x\x00"]}},
            ("/condition", "/value"),
        ),
    ],
)
async def test_nul_in_the_body_is_422_naming_it(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    change: dict[str, Any],
    where: tuple[str, str],
) -> None:
    """``where``: the pointer's start, and a part it holds (a condition is a union, whose
    errors name the branch tried)."""
    admin = tokens.headers(role="admin")
    rid = "nul-" + uuid.uuid4().hex[:8]
    created = await client.post(RULES, json=rule(id=rid, **change), headers=admin)
    found = pointers(created)
    start, part = where
    assert any(p.startswith(start) and part in p for p in found), found
    assert (await client.get(f"{RULES}/{rid}")).status_code == 404  # nothing stored
    replaced = await client.put(f"{RULES}/{rid}", json=rule(**change), headers=admin)
    assert any(p.startswith(start) and part in p for p in pointers(replaced))


async def test_the_routes_still_answer_plain_values(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    admin = tokens.headers(role="admin")
    assert (await client.get(RULES, params={"form": "dss-snap-application"})).status_code == 200
    assert (await client.get(f"{RULES}/no-such-rule")).status_code == 404
    assert (await client.delete(f"{RULES}/no-such-rule", headers=admin)).status_code == 404


async def test_the_document_shows_the_rule_and_the_problems(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    get_one = doc["paths"][f"{RULES}/{{rule_id}}"]["get"]
    assert get_one["parameters"][0]["schema"]["pattern"] == "^[^\\x00]*$"
    not_found = get_one["responses"]["404"]["content"]
    assert not_found == {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    put = doc["paths"][f"{RULES}/{{rule_id}}"]["put"]["responses"]
    assert {"400", "401", "403", "404", "409", "413", "422", "503"} <= set(put)
