"""Review fixes of the catalog on PostgreSQL: a version's row is locked by every change so a
concurrent publish cannot be overwritten, hostile schemas are refused quickly (and an import
does not hold other requests), bad input is a 4xx (never a 500), ``?priority=`` pages are
whole, and agreements on forms residents cannot see yet stay hidden."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DataError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from tellonce_registry.schema_import.check import SchemaRejected, check_schema
from tellonce_registry.schema_import.flatten import MAX_STEPS, flatten
from tellonce_shared.testing import asgi_client

PROBLEM = "application/problem+json"
SIMPLE = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}}
DOB = {
    "type": "object",
    "properties": {"dateOfBirth": {"type": "string", "format": "date"}},
}


def fanout(levels: int) -> dict[str, Any]:
    """Two branches naming the same definition at every level: 2**levels paths, 1.4 kB."""
    defs: dict[str, Any] = {
        f"d{i}": {"allOf": [{"$ref": f"#/$defs/d{i + 1}"}, {"$ref": f"#/$defs/d{i + 1}"}]}
        for i in range(levels)
    }
    defs[f"d{levels}"] = {"type": "object", "properties": {"deep": {"type": "string"}}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": defs,
        "type": "object",
        "properties": {"x": {"$ref": "#/$defs/d0"}},
    }


def problem(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == PROBLEM
    body: dict[str, Any] = resp.json()
    return body


# ---------------------------------------------------------------- the version row is locked


@pytest.fixture
async def side(database_url: str) -> AsyncIterator[tuple[AsyncConnection, AsyncConnection]]:
    """Two connections of our own: one to hold a lock in a transaction (as a concurrent
    publish would), one in autocommit to watch for a request waiting on it."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as holder, engine.connect() as watcher:
            await watcher.execution_options(isolation_level="AUTOCOMMIT")
            yield holder, watcher
    finally:
        await engine.dispose()


async def wait_for_lock_waiter(watcher: AsyncConnection) -> None:
    """Until a backend of this database waits on a lock (the request reached the row)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        waiting = await watcher.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
        if waiting:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("no request waited on the locked version row")


async def version_row(conn: AsyncConnection, slug: str, number: int) -> tuple[int, str]:
    row = (
        await conn.execute(
            text(
                "SELECT v.id, v.status FROM form_versions v JOIN forms f ON f.id = v.form_id"
                " WHERE f.slug = :slug AND v.number = :n"
            ),
            {"slug": slug, "n": number},
        )
    ).one()
    return int(row[0]), str(row[1])


Change = Callable[
    [httpx.AsyncClient, str, int, dict[str, str]], Coroutine[Any, Any, httpx.Response]
]


async def put_schema(c: httpx.AsyncClient, slug: str, n: int, h: dict[str, str]) -> httpx.Response:
    replacement = {"type": "object", "properties": {"zzz": {"type": "integer"}}}
    return await c.put(
        f"/api/v1/forms/{slug}/versions/{n}", json={"schema": replacement}, headers=h
    )


async def map_field(c: httpx.AsyncClient, slug: str, n: int, h: dict[str, str]) -> httpx.Response:
    body = {"mappings": [{"pointer": "/dateOfBirth", "element": "person.birthDate"}]}
    return await c.post(f"/api/v1/forms/{slug}/versions/{n}/mappings", json=body, headers=h)


async def publish(c: httpx.AsyncClient, slug: str, n: int, h: dict[str, str]) -> httpx.Response:
    return await c.post(f"/api/v1/forms/{slug}/versions/{n}/publish", headers=h)


@pytest.mark.parametrize("change", [put_schema, map_field, publish], ids=["put", "map", "publish"])
async def test_a_draft_published_meanwhile_is_not_changed(
    client: httpx.AsyncClient,
    catalog: Any,
    admin: dict[str, str],
    side: tuple[AsyncConnection, AsyncConnection],
    change: Change,
) -> None:
    holder, watcher = side
    slug = await catalog.make_form()
    n = (await catalog.add_version(slug, DOB))["version"]
    before = (await client.get(f"/api/v1/forms/{slug}/versions/{n}/fields", headers=admin)).json()
    # a concurrent publish holds the row: the change must wait for it, then see "published"
    await holder.begin()
    version_id, _ = await version_row(holder, slug, n)
    await holder.execute(
        text("SELECT id FROM form_versions WHERE id = :id FOR UPDATE"), {"id": version_id}
    )
    task = asyncio.create_task(change(client, slug, n, admin))
    await wait_for_lock_waiter(watcher)
    assert not task.done()
    await holder.execute(
        text("UPDATE form_versions SET status = 'published', published_at = now() WHERE id = :id"),
        {"id": version_id},
    )
    await holder.commit()
    resp = await task
    problem(resp, 409)
    version = (await client.get(f"/api/v1/forms/{slug}/versions/{n}")).json()
    assert version["status"] == "published"
    assert version["schema"] == DOB
    fields = (await client.get(f"/api/v1/forms/{slug}/versions/{n}/fields")).json()
    assert fields["items"] == before["items"]


async def test_a_version_retired_meanwhile_is_not_retired_again(
    client: httpx.AsyncClient,
    catalog: Any,
    admin: dict[str, str],
    side: tuple[AsyncConnection, AsyncConnection],
) -> None:
    holder, watcher = side
    slug = await catalog.make_form()
    n = (await catalog.add_version(slug, SIMPLE, publish=True))["version"]
    await holder.begin()
    version_id, _ = await version_row(holder, slug, n)
    await holder.execute(
        text("SELECT id FROM form_versions WHERE id = :id FOR UPDATE"), {"id": version_id}
    )
    task = asyncio.create_task(
        client.post(f"/api/v1/forms/{slug}/versions/{n}/retire", headers=admin)
    )
    await wait_for_lock_waiter(watcher)
    stamp = "2001-02-03T04:05:06+00:00"
    await holder.execute(
        text("UPDATE form_versions SET status = 'retired', retired_at = :at WHERE id = :id"),
        {"id": version_id, "at": stamp},
    )
    await holder.commit()
    problem(await task, 409)
    _, status = await version_row(watcher, slug, n)
    assert status == "retired"
    retired_at = await watcher.scalar(
        text("SELECT retired_at FROM form_versions WHERE id = :id"), {"id": version_id}
    )
    assert retired_at is not None
    assert retired_at.year == 2001


async def test_a_change_that_waited_on_an_unchanged_draft_goes_through(
    client: httpx.AsyncClient,
    catalog: Any,
    admin: dict[str, str],
    side: tuple[AsyncConnection, AsyncConnection],
) -> None:
    holder, watcher = side
    slug = await catalog.make_form()
    n = (await catalog.add_version(slug, DOB))["version"]
    await holder.begin()
    version_id, _ = await version_row(holder, slug, n)
    await holder.execute(
        text("SELECT id FROM form_versions WHERE id = :id FOR UPDATE"), {"id": version_id}
    )
    task = asyncio.create_task(put_schema(client, slug, n, admin))
    await wait_for_lock_waiter(watcher)
    await holder.rollback()
    resp = await task
    assert resp.status_code == 200, resp.text
    got = (await client.get(f"/api/v1/forms/{slug}/versions/{n}", headers=admin)).json()
    assert list(got["schema"]["properties"]) == ["zzz"]


async def test_publishing_one_draft_twice_at_once_is_one_200_and_one_409(
    client: httpx.AsyncClient, catalog: Any, admin: dict[str, str]
) -> None:
    slug = await catalog.make_form()
    n = (await catalog.add_version(slug, SIMPLE))["version"]
    first, second = await asyncio.gather(
        publish(client, slug, n, admin), publish(client, slug, n, admin)
    )
    assert sorted([first.status_code, second.status_code]) == [200, 409]


# ---------------------------------------------------------------- hostile schemas


def test_a_fanning_out_schema_is_refused_within_the_step_limit() -> None:
    started = time.perf_counter()
    with pytest.raises(SchemaRejected) as caught:
        flatten(fanout(20))
    assert time.perf_counter() - started < 2
    assert str(MAX_STEPS) in caught.value.errors[0]["message"]


def test_a_long_chain_of_branches_does_not_exhaust_the_stack() -> None:
    levels = 1500
    defs: dict[str, Any] = {
        f"d{i}": {"allOf": [{"$ref": f"#/$defs/d{i + 1}"}]} for i in range(levels)
    }
    defs[f"d{levels}"] = {"properties": {"deep": {"type": "string"}}}
    schema = {
        "$defs": defs,
        "type": "object",
        "properties": {"x": {"$ref": "#/$defs/d0", "type": "object"}},
    }
    rows = flatten(schema)  # was a RecursionError (a 500); branches past 24 levels are not read
    assert [r.pointer for r in rows] == ["/x"]


def test_a_name_met_in_many_branches_is_one_required_row() -> None:
    schema = {
        "type": "object",
        "required": ["a"],
        "allOf": [
            {"properties": {"a": {"type": "string", "title": "First"}}},
            {"properties": {"a": {"type": "string", "title": "Second"}}, "required": ["a"]},
        ],
        "anyOf": [{"properties": {"a": {"type": "integer"}}}],
    }
    rows = flatten(schema)
    assert [(r.pointer, r.title, r.required) for r in rows] == [("/a", "First", True)]


async def test_importing_a_fanning_out_schema_is_a_422_naming_the_limit(
    client: httpx.AsyncClient, catalog: Any, admin: dict[str, str]
) -> None:
    slug = await catalog.make_form()
    started = time.perf_counter()
    resp = await client.post(
        f"/api/v1/forms/{slug}/versions", json={"schema": fanout(20)}, headers=admin
    )
    assert time.perf_counter() - started < 5
    body = problem(resp, 422)
    assert str(MAX_STEPS) in body["errors"][0]["message"]


async def test_an_import_does_not_hold_other_requests(
    client: httpx.AsyncClient,
    catalog: Any,
    admin: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slug = await catalog.make_form()

    def slow_check(*args: Any, **kwargs: Any) -> Any:
        time.sleep(1.5)  # a large legal schema: CPU work, no await
        return check_schema(*args, **kwargs)

    monkeypatch.setattr("tellonce_registry.forms.service.check_schema", slow_check)
    stop = asyncio.Event()
    delays: list[float] = []

    async def probe() -> None:  # a public read every 50 ms, as other callers would
        while not stop.is_set():
            due = time.perf_counter() + 0.05
            await asyncio.sleep(0.05)
            assert (await client.get("/api/v1/agencies")).status_code == 200
            delays.append(time.perf_counter() - due)

    reads = asyncio.create_task(probe())
    await asyncio.sleep(0.2)
    resp = await client.post(
        f"/api/v1/forms/{slug}/versions", json={"schema": SIMPLE}, headers=admin
    )
    stop.set()
    await reads
    assert resp.status_code == 201, resp.text
    assert len(delays) >= 3
    assert max(delays) < 0.8  # not the import's 1.5 s of work


def test_a_pattern_nested_too_deep_for_the_regex_check_is_refused() -> None:
    deep = "(" * 2000 + "a" + ")" * 2000
    schema = {"type": "object", "properties": {"a": {"type": "string", "pattern": deep}}}
    with pytest.raises(SchemaRejected):
        check_schema(schema, max_bytes=1_000_000)


# ---------------------------------------------------------------- bad input is a 4xx


def cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


async def test_nul_and_unicode_digits_are_4xx_never_500(
    client: httpx.AsyncClient, catalog: Any, admin: dict[str, str]
) -> None:
    slug = await catalog.make_form()
    await catalog.add_version(slug, SIMPLE, publish=True)
    for path in (f"/api/v1/forms/{slug}/versions/²", f"/api/v1/forms/{slug}/versions/²/fields"):
        problem(await client.get(path), 422)
    problem(await client.post(f"/api/v1/forms/{slug}/versions/²/publish", headers=admin), 422)
    for path in ("/api/v1/forms/%00", "/api/v1/elements/%00", "/api/v1/agencies/%00"):
        problem(await client.get(path), 404)
    problem(await client.get("/api/v1/forms/%00/versions/1"), 404)
    for path, params in (
        ("/api/v1/forms", {"q": "a\x00"}),
        ("/api/v1/forms", {"agency": "\x00"}),
        ("/api/v1/elements", {"prefix": "\x00"}),
        ("/api/v1/agreements", {"form": "\x00"}),
        ("/api/v1/agreements", {"agency": "\x00"}),
    ):
        problem(await client.get(path, params=params), 422)
    for path in ("/api/v1/forms", "/api/v1/elements", "/api/v1/agencies"):
        problem(await client.get(path, params={"cursor": cursor({"after": "\x00"})}), 400)


async def test_nul_in_stored_text_is_a_422_at_its_pointer(
    client: httpx.AsyncClient, catalog: Any, admin: dict[str, str]
) -> None:
    slug = await catalog.make_form()
    await catalog.add_version(slug, SIMPLE, publish=True)
    agreement = {
        "agency": "DOL",
        "form": slug,
        "fields": ["/a"],
        "purpose": "x\x00",
        "legal_basis": "y",
    }
    body = problem(await client.post("/api/v1/agreements", json=agreement, headers=admin), 422)
    assert body["errors"][0]["pointer"] == "/purpose"
    schema = {"type": "object", "properties": {"a": {"type": "string", "title": "x\x00"}}}
    body = problem(
        await client.post(f"/api/v1/forms/{slug}/versions", json={"schema": schema}, headers=admin),
        422,
    )
    assert body["errors"][0]["pointer"] == "/schema/properties/a/title"
    named = {"type": "object", "properties": {"a\x00": {"type": "string"}}}
    problem(
        await client.post(f"/api/v1/forms/{slug}/versions", json={"schema": named}, headers=admin),
        422,
    )
    body = problem(
        await client.post(
            "/api/v1/forms",
            json={"slug": catalog.unique("nul"), "agency": "DSS", "title": "T\x00"},
            headers=admin,
        ),
        422,
    )
    assert body["errors"][0]["pointer"] == "/title"
    problem(
        await client.patch(f"/api/v1/forms/{slug}", json={"description": "\x00"}, headers=admin),
        422,
    )
    element = {
        "id": "test.nulLabel",
        "schema": {"type": "string"},
        "label": {"en": "A\x00", "es": "B"},
        "sensitivity": "public",
    }
    body = problem(await client.post("/api/v1/elements", json=element, headers=admin), 422)
    assert body["errors"][0]["pointer"] == "/label/en"
    draft = await catalog.add_version(slug, DOB)
    mapping = {"mappings": [{"pointer": "/dateOfBirth", "element": "person.birth\x00"}]}
    problem(
        await client.post(
            f"/api/v1/forms/{slug}/versions/{draft['version']}/mappings",
            json=mapping,
            headers=admin,
        ),
        422,
    )
    deep = "(" * 2000 + "a" + ")" * 2000
    pattern = {"type": "object", "properties": {"a": {"type": "string", "pattern": deep}}}
    problem(
        await client.post(
            f"/api/v1/forms/{slug}/versions", json={"schema": pattern}, headers=admin
        ),
        422,
    )


async def test_a_value_the_database_refuses_is_a_400_problem(app: FastAPI) -> None:
    async def refused() -> None:
        raise DataError("SELECT 1", {}, ValueError("invalid byte sequence"))

    app.add_api_route("/test-only/refused-value", refused)
    try:
        async with asgi_client(app) as c:
            problem(await c.get("/test-only/refused-value"), 400)
    finally:
        app.router.routes[:] = [
            r for r in app.router.routes if getattr(r, "path", "") != "/test-only/refused-value"
        ]


# ---------------------------------------------------------------- ?priority= paging


async def test_priority_pages_are_whole_and_keep_the_cursor(
    client: httpx.AsyncClient, catalog: Any
) -> None:
    # forms without the priority sort around the ones with it
    tag = catalog.unique("prio")
    expected = []
    for i, priorities in enumerate([[], ["child-family"], [], ["child-family"], ["jobs-economy"]]):
        slug = f"{tag}-{i}"
        body = {"slug": slug, "agency": "DSS", "title": "T", "priorities": priorities}
        assert (
            await client.post("/api/v1/forms", json=body, headers=catalog.admin)
        ).status_code == 201
        await catalog.add_version(slug, SIMPLE, publish=True)
        if "child-family" in priorities:
            expected.append(slug)
    seen: list[str] = []
    params: dict[str, Any] = {"priority": "child-family", "limit": 1, "q": tag}
    for _ in range(10):
        page = (await client.get("/api/v1/forms", params=params)).json()
        assert len(page["items"]) == 1 or page["next_cursor"] is None
        seen += [f["slug"] for f in page["items"]]
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == expected


# ---------------------------------------------------------------- agreements of hidden forms


async def test_agreements_of_a_form_with_drafts_only_are_for_admins(
    client: httpx.AsyncClient, catalog: Any, admin: dict[str, str], resident: dict[str, str]
) -> None:
    slug = await catalog.make_form()
    number = (await catalog.add_version(slug, SIMPLE))["version"]
    body = {
        "agency": "DOL",
        "form": slug,
        "fields": ["/a"],
        "purpose": "secret pilot",
        "legal_basis": "MOU",
    }
    created = await client.post("/api/v1/agreements", json=body, headers=admin)
    assert created.status_code == 201, created.text
    agreement_id = created.json()["id"]
    for headers in ({}, resident):
        problem(await client.get("/api/v1/agreements", params={"form": slug}, headers=headers), 404)
        problem(await client.get(f"/api/v1/agreements/{agreement_id}", headers=headers), 404)
        listed = await client.get("/api/v1/agreements", params={"limit": 500}, headers=headers)
        assert all(a["form"] != slug for a in listed.json()["items"])
    as_admin = await client.get("/api/v1/agreements", params={"form": slug}, headers=admin)
    assert [a["purpose"] for a in as_admin.json()["items"]] == ["secret pilot"]
    assert (
        await client.get(f"/api/v1/agreements/{agreement_id}", headers=admin)
    ).status_code == 200
    # published: residents see who receives what before they submit
    await publish(client, slug, number, admin)
    public = await client.get("/api/v1/agreements", params={"form": slug})
    assert [a["purpose"] for a in public.json()["items"]] == ["secret pilot"]
    assert (await client.get(f"/api/v1/agreements/{agreement_id}")).status_code == 200
