"""``GET /api/v1/forms?include=retired``: the forms whose every version is retired stay
listable (performance management needs their agency, priorities and yearly volume for past
applications); without the parameter the public catalog is unchanged."""

from __future__ import annotations

from typing import Any

import httpx

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {"firstName": {"type": "string"}},
}


def person_schema() -> dict[str, Any]:
    return dict(SCHEMA)


def assert_problem(resp: httpx.Response, status: int) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")


async def _slugs(client: httpx.AsyncClient, **params: str) -> list[str]:
    resp = await client.get("/api/v1/forms", params={"agency": "DSS", "limit": "500", **params})
    assert resp.status_code == 200, resp.text
    return [f["slug"] for f in resp.json()["items"]]


async def test_retired_forms_are_listed_only_with_include_retired(
    client: httpx.AsyncClient, admin: dict[str, str], catalog: Any
) -> None:
    live = await catalog.make_form(yearly_volume=1000, priorities=["transportation"])
    await catalog.add_version(live, person_schema(), publish=True)
    retired = await catalog.make_form(yearly_volume=2000, priorities=["transportation"])
    await catalog.add_version(retired, person_schema(), publish=True)
    draft = await catalog.make_form()
    await catalog.add_version(draft, person_schema())
    resp = await client.post(f"/api/v1/forms/{retired}/versions/1/retire", headers=admin)
    assert resp.status_code == 200, resp.text

    # the public catalog: published forms only, as before
    default = await _slugs(client)
    assert live in default
    assert retired not in default
    assert draft not in default

    # include=retired adds the retired form (anyone may ask), never a draft-only one
    with_retired = await client.get(
        "/api/v1/forms",
        params={
            "agency": "DSS",
            "limit": "500",
            "include": "retired",
            "priority": "transportation",
        },
    )
    items = {f["slug"]: f for f in with_retired.json()["items"]}
    assert live in items
    assert items[retired]["yearly_volume"] == 2000
    assert items[retired]["priorities"] == ["transportation"]
    assert items[retired]["latest_version"] is None  # nothing a resident can file
    assert draft not in await _slugs(client, include="retired")
    # paging with the parameter keeps it (the retired form is on some page)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"agency": "DSS", "limit": "2", "include": "retired"}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/forms", params=params)).json()
        seen += [f["slug"] for f in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert retired in seen
    assert live in seen

    # admins' all=true still lists every form
    everything = await client.get(
        "/api/v1/forms", params={"agency": "DSS", "limit": "500", "all": "true"}, headers=admin
    )
    assert {live, retired, draft} <= {f["slug"] for f in everything.json()["items"]}


async def test_include_takes_only_retired(client: httpx.AsyncClient) -> None:
    for bad in ("drafts", "RETIRED", "retired,drafts", "retired\x00"):
        assert_problem(await client.get("/api/v1/forms", params={"include": bad}), 422)
