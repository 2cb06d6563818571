"""The catalog API on PostgreSQL: who may do what, lifecycle, immutability, errors with
pointers, breaking changes and agreements."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import jsonschema
import pytest

from tellonce_shared.pagination import encode_cursor

D2020 = "https://json-schema.org/draft/2020-12/schema"
PROBLEM = "application/problem+json"


def person_schema(**extra_props: Any) -> dict[str, Any]:
    return {
        "$schema": D2020,
        "type": "object",
        "required": ["firstName", "dob"],
        "properties": {
            "firstName": {"type": "string", "x-element": "person.givenName"},
            "dob": {"type": "string", "format": "date", "title": "Date of birth"},
            "income": {"type": "number"},
            "home": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "x-element": "address.city"},
                    "zip": {"type": "string"},
                },
            },
            **extra_props,
        },
    }


def assert_problem(resp: httpx.Response, status: int, pointer: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = resp.json()
    if pointer is not None:
        assert pointer in [e["pointer"] for e in body["errors"]], body
    return body


async def test_agencies_admin_creates_anyone_reads(
    client: httpx.AsyncClient, admin: dict[str, str], resident: dict[str, str], catalog: Any
) -> None:
    code = "T" + catalog.unique("x")[-6:].upper().replace("-", "")
    assert_problem(await client.post("/api/v1/agencies", json={"code": code, "name": "T"}), 401)
    assert_problem(
        await client.post("/api/v1/agencies", json={"code": code, "name": "T"}, headers=resident),
        403,
    )
    resp = await client.post("/api/v1/agencies", json={"code": code, "name": "Test"}, headers=admin)
    assert resp.status_code == 201
    assert resp.json() == {"code": code, "name": "Test"}
    dup = await client.post("/api/v1/agencies", json={"code": code, "name": "T"}, headers=admin)
    assert_problem(dup, 409)
    bad = await client.post("/api/v1/agencies", json={"code": "x y", "name": "T"}, headers=admin)
    assert_problem(bad, 422, "/code")
    extra = await client.post(
        "/api/v1/agencies", json={"code": "ZZ", "name": "T", "x": 1}, headers=admin
    )
    assert_problem(extra, 422, "/x")
    listed = (await client.get("/api/v1/agencies", params={"limit": 500})).json()
    assert {"DSS", "DOL", "DVA", code} <= {a["code"] for a in listed["items"]}
    page = (await client.get("/api/v1/agencies", params={"limit": 2})).json()
    assert len(page["items"]) == 2
    assert page["next_cursor"]
    nxt = (
        await client.get("/api/v1/agencies", params={"limit": 2, "cursor": page["next_cursor"]})
    ).json()
    assert nxt["items"][0]["code"] > page["items"][1]["code"]


async def test_element_dictionary_is_seeded_and_checked(
    client: httpx.AsyncClient, admin: dict[str, str], catalog: Any
) -> None:
    page = (await client.get("/api/v1/elements", params={"limit": 500})).json()
    assert len(page["items"]) >= 40
    dob = (await client.get("/api/v1/elements/person.birthDate")).json()
    assert dob["schema"] == {"type": "string", "format": "date"}
    assert dob["label"] == {"en": "Date of birth", "es": "Fecha de nacimiento"}
    assert dob["sensitivity"] == "personal"
    ssn = (await client.get("/api/v1/elements/person.ssn")).json()
    assert ssn["sensitivity"] == "restricted"
    new_id = "test." + catalog.unique("e").replace("-", "")
    body = {
        "id": new_id,
        "schema": {"type": "string", "maxLength": "ten"},
        "label": {"en": "Test", "es": "Prueba"},
        "sensitivity": "public",
    }
    assert_problem(
        await client.post("/api/v1/elements", json=body, headers=admin), 422, "/schema/maxLength"
    )
    body["schema"] = {"type": "string", "maxLength": 10}
    assert (await client.post("/api/v1/elements", json=body, headers=admin)).status_code == 201
    assert_problem(await client.post("/api/v1/elements", json=body, headers=admin), 409)
    body["sensitivity"] = "secret"
    assert_problem(
        await client.post("/api/v1/elements", json=body, headers=admin), 422, "/sensitivity"
    )
    assert_problem(await client.get("/api/v1/elements/no.such"), 404)


async def test_form_create_patch_priorities_and_catalog_visibility(
    client: httpx.AsyncClient, admin: dict[str, str], catalog: Any
) -> None:
    bad_agency = {"slug": catalog.unique("f"), "agency": "NOPE", "title": "x"}
    assert_problem(
        await client.post("/api/v1/forms", json=bad_agency, headers=admin), 422, "/agency"
    )
    slug = await catalog.make_form(minutes=30, yearly_volume=1200, priorities=["child-family"])
    assert_problem(
        await client.post(
            "/api/v1/forms", json={"slug": slug, "agency": "DSS", "title": "x"}, headers=admin
        ),
        409,
    )
    # no published version yet: invisible to the public catalog, visible to admins
    assert_problem(await client.get(f"/api/v1/forms/{slug}"), 404)
    listed = (await client.get("/api/v1/forms", params={"agency": "DSS", "limit": 500})).json()
    assert slug not in [f["slug"] for f in listed["items"]]
    mine = (await client.get(f"/api/v1/forms/{slug}", headers=admin)).json()
    assert mine["burden_hours"] == 600.0
    assert mine["priorities"] == ["child-family"]
    patch = await client.patch(
        f"/api/v1/forms/{slug}",
        json={"priorities": ["jobs-economy", "transportation"], "topic": "work"},
        headers=admin,
    )
    assert patch.status_code == 200
    assert patch.json()["priorities"] == ["jobs-economy", "transportation"]
    translated = await client.patch(
        f"/api/v1/forms/{slug}",
        json={"i18n": {"es": {"title": "Un formulario", "description": "Prueba"}}},
        headers=admin,
    )
    assert translated.json()["i18n"] == {"es": {"title": "Un formulario", "description": "Prueba"}}
    assert translated.json()["priorities"] == ["jobs-economy", "transportation"]
    bad_locale = await client.patch(
        f"/api/v1/forms/{slug}", json={"i18n": {"spanish": {"title": "x"}}}, headers=admin
    )
    assert_problem(bad_locale, 422)
    bad = await client.patch(f"/api/v1/forms/{slug}", json={"priorities": ["fun"]}, headers=admin)
    assert_problem(bad, 422, "/priorities/0")
    assert_problem(await client.patch(f"/api/v1/forms/{slug}", json={"title": "x"}), 401)
    await catalog.add_version(slug, person_schema(), publish=True)
    listed = (
        await client.get("/api/v1/forms", params={"priority": "transportation", "limit": 500})
    ).json()
    found = [f for f in listed["items"] if f["slug"] == slug]
    assert found
    assert found[0]["latest_version"] == 1
    searched = (await client.get("/api/v1/forms", params={"q": "A TEST FORM", "limit": 500})).json()
    assert slug in [f["slug"] for f in searched["items"]]
    for odd in ("100%", "a_b", "trailing\\", "\\%_"):
        resp = await client.get("/api/v1/forms", params={"q": odd})
        assert resp.status_code == 200
        assert resp.json()["items"] == []


async def test_import_errors_are_422_with_pointers_and_write_nothing(
    client: httpx.AsyncClient, admin: dict[str, str], catalog: Any
) -> None:
    slug = await catalog.make_form()
    url = f"/api/v1/forms/{slug}/versions"
    cases: list[tuple[Any, str]] = [
        ([{"type": "string"}], "/schema"),
        ("just a string", "/schema"),
        (
            {"$schema": D2020, "properties": {"a": {"$ref": "#/$defs/missing"}}},
            "/schema/properties/a/$ref",
        ),
        (
            {"properties": {"a": {"$ref": "https://example.com/x.json"}}},
            "/schema/properties/a/$ref",
        ),
        ({"$schema": "http://json-schema.org/draft-04/schema#", "type": "objec"}, "/schema/type"),
        ({"type": "object", "description": "x" * 250_000}, "/schema"),
        (
            {"type": "object", "properties": {"a": {"type": "string", "x-element": "no.such"}}},
            "/schema/properties/a/x-element",
        ),
    ]
    for schema, pointer in cases:
        resp = await client.post(url, json={"schema": schema}, headers=admin)
        assert_problem(resp, 422, pointer)
    # what the service could not store or serve back is refused up front, never a 500
    deep = '{"schema":' + '{"properties":{"a":' * 40 + "{}" + "}}" * 40 + "}"
    resp = await client.post(
        url, content=deep, headers={**admin, "content-type": "application/json"}
    )
    body = assert_problem(resp, 422)
    assert body["errors"][0]["pointer"].startswith("/schema/properties/a/properties/a/")
    too_big = "1" + "0" * 30
    huge = '{"schema":{"properties":{"a":{"type":"integer","maximum":' + too_big + "}}}}"
    resp = await client.post(
        url, content=huge, headers={**admin, "content-type": "application/json"}
    )
    assert_problem(resp, 422, "/schema")
    long_name = {"type": "object", "properties": {"a" * 600: {"type": "string"}}}
    resp = await client.post(url, json={"schema": long_name}, headers=admin)
    assert_problem(resp, 422, "/schema/properties/" + "a" * 600)
    huge_ui = '{"schema":{"type":"object"},"ui":{"x":123456789012345678901234567890}}'
    resp = await client.post(
        url, content=huge_ui, headers={**admin, "content-type": "application/json"}
    )
    assert_problem(resp, 422, "/ui")
    ui_bad = {"pages": [{"id": "p1", "fields": ["/firstName", "/nope"]}]}
    resp = await client.post(url, json={"schema": person_schema(), "ui": ui_bad}, headers=admin)
    assert_problem(resp, 422, "/ui/pages/0/fields/1")
    missing = await client.post(url, json={"ui": {}}, headers=admin)
    assert_problem(missing, 422, "/schema")
    detail = (await client.get(f"/api/v1/forms/{slug}", headers=admin)).json()
    assert detail["versions"] == []
    assert_problem(
        await client.post(
            "/api/v1/forms/no-such-form/versions", json={"schema": {}}, headers=admin
        ),
        404,
    )


async def test_lifecycle_immutability_and_visibility(
    client: httpx.AsyncClient, admin: dict[str, str], resident: dict[str, str], catalog: Any
) -> None:
    slug = await catalog.make_form()
    ui = {
        "locales": ["en", "es"],
        "pages": [
            {"id": "you", "title": {"en": "You", "es": "Usted"}, "fields": ["/firstName", "/dob"]}
        ],
        "fields": {
            "/dob": {
                "label": {"en": "Date of birth", "es": "Fecha de nacimiento"},
                "widget": "date",
            }
        },
    }
    created = await catalog.add_version(slug, person_schema(), ui)
    assert created["version"] == 1
    assert created["status"] == "draft"
    assert created["dialect"] == "2020-12"
    assert created["fields"] == 6
    base = f"/api/v1/forms/{slug}/versions"
    # drafts: admin only
    assert_problem(await client.get(f"{base}/1"), 404)
    assert_problem(await client.get(f"{base}/1", headers=resident), 404)
    assert_problem(await client.get(f"{base}/latest"), 404)
    assert (await client.get(f"{base}/1", headers=admin)).json()["status"] == "draft"
    # a draft may change
    changed = await client.put(
        f"{base}/1",
        json={"schema": person_schema(email={"type": "string"}), "ui": ui},
        headers=admin,
    )
    assert changed.status_code == 200
    assert changed.json()["fields"] == 7
    # a bad replacement is refused whole: the draft keeps its schema and fields
    refused = await client.put(
        f"{base}/1", json={"schema": {"properties": {"a": {"$ref": "#/nope"}}}}, headers=admin
    )
    assert_problem(refused, 422, "/schema/properties/a/$ref")
    kept = (await client.get(f"{base}/1/fields", headers=admin)).json()["items"]
    assert len(kept) == 7
    assert_problem(await client.post(f"{base}/1/retire", headers=admin), 409)
    assert_problem(await client.post(f"{base}/1/publish", headers=resident), 403)
    published = await client.post(f"{base}/1/publish", headers=admin)
    assert published.status_code == 200
    assert published.json()["status"] == "published"
    assert_problem(await client.post(f"{base}/1/publish", headers=admin), 409)
    # a published version never changes
    put = await client.put(f"{base}/1", json={"schema": person_schema()}, headers=admin)
    assert_problem(put, 409)
    remap = await client.post(
        f"{base}/1/mappings",
        json={"mappings": [{"pointer": "/dob", "element": "person.birthDate"}]},
        headers=admin,
    )
    assert_problem(remap, 409)
    # public reads, by number and latest, identical bytes
    one = await client.get(f"{base}/1")
    latest = await client.get(f"{base}/latest")
    assert one.status_code == latest.status_code == 200
    assert one.content == latest.content
    doc = one.json()
    assert doc["status"] == "published"
    assert doc["schema"] == person_schema(email={"type": "string"})
    assert doc["ui"] == ui
    assert doc["published_at"]
    # a published version is public whatever token comes along (cached or not)
    expired = {"Authorization": "Bearer not-a-token"}
    assert (await client.get(f"{base}/1/fields", headers=expired)).status_code == 200
    again = await client.get(f"{base}/1")  # answered from the cache, before routing
    assert again.content == one.content
    assert again.headers["content-type"] == one.headers["content-type"] == "application/json"
    assert again.headers["etag"] == one.headers["etag"]
    assert again.headers["x-request-id"]
    etag = one.headers["etag"]
    assert (await client.get(f"{base}/1", headers={"If-None-Match": etag})).status_code == 304
    fields = (await client.get(f"{base}/1/fields")).json()
    rows = {r["pointer"]: r for r in fields["items"]}
    assert rows["/firstName"]["element"] == "person.givenName"
    assert rows["/firstName"]["sensitivity"] == "personal"
    assert rows["/firstName"]["required"] is True
    assert rows["/home/city"]["element"] == "address.city"
    assert rows["/dob"]["format"] == "date"
    assert rows["/dob"]["element"] is None
    assert_problem(await client.get(f"{base}/abc"), 422, "/path/n")
    assert_problem(await client.get(f"{base}/9"), 404)
    # retire: status visible at once on this process (the cache is dropped)
    assert (await client.post(f"{base}/1/retire", headers=admin)).json()["status"] == "retired"
    assert (await client.get(f"{base}/1")).json()["status"] == "retired"
    assert_problem(await client.get(f"{base}/latest"), 404)


async def test_suggestions_are_proposed_and_confirmed_by_an_admin(
    client: httpx.AsyncClient, admin: dict[str, str], catalog: Any
) -> None:
    slug = await catalog.make_form()
    created = await catalog.add_version(slug, person_schema())
    suggested = {s["pointer"]: s["element"] for s in created["suggestions"]}
    assert suggested["/dob"] == "person.birthDate"
    base = f"/api/v1/forms/{slug}/versions/1"
    fields = {
        r["pointer"]: r for r in (await client.get(f"{base}/fields", headers=admin)).json()["items"]
    }
    assert fields["/dob"]["element"] is None  # not silently applied
    bad = await client.post(
        f"{base}/mappings",
        json={
            "mappings": [
                {"pointer": "/nope", "element": "person.birthDate"},
                {"pointer": "/dob", "element": "no.such"},
            ]
        },
        headers=admin,
    )
    body = assert_problem(bad, 422)
    assert [e["pointer"] for e in body["errors"]] == ["/mappings/0/pointer", "/mappings/1/element"]
    ok = await client.post(
        f"{base}/mappings",
        json={"mappings": [{"pointer": "/dob", "element": "person.birthDate"}]},
        headers=admin,
    )
    assert ok.status_code == 200
    assert "/dob" not in [s["pointer"] for s in ok.json()["suggestions"]]
    fields = {
        r["pointer"]: r for r in (await client.get(f"{base}/fields", headers=admin)).json()["items"]
    }
    assert fields["/dob"]["element"] == "person.birthDate"
    left = (await client.get(f"{base}/suggestions", headers=admin)).json()["items"]
    assert "/dob" not in [s["pointer"] for s in left]
    # the next version is offered the confirmed mapping again, still only as a suggestion
    assert (await client.post(f"{base}/publish", headers=admin)).status_code == 200
    created = await catalog.add_version(slug, person_schema(email={"type": "string"}))
    carried = [s for s in created["suggestions"] if s["pointer"] == "/dob"]
    assert carried == [
        {
            "pointer": "/dob",
            "element": "person.birthDate",
            "score": 100.0,
            "reason": "mapped in version 1",
        }
    ]


async def test_agreements_are_validated_against_the_form_fields(
    client: httpx.AsyncClient, admin: dict[str, str], resident: dict[str, str], catalog: Any
) -> None:
    slug = await catalog.make_form(agency="DSS")
    await catalog.add_version(slug, person_schema(), publish=True)
    body = {
        "agency": "DOL",
        "form": slug,
        "fields": ["/firstName", "/nothing", "address.city", "person.ssn"],
        "purpose": "Job services",
        "legal_basis": "C.G.S. 31-2",
    }
    bad = await client.post("/api/v1/agreements", json=body, headers=admin)
    errors = assert_problem(bad, 422)["errors"]
    assert [e["pointer"] for e in errors] == ["/fields/1", "/fields/3"]
    owner = await client.post(
        "/api/v1/agreements",
        json={**body, "agency": "DSS", "fields": ["/firstName"]},
        headers=admin,
    )
    assert_problem(owner, 422, "/agency")
    unknown = await client.post(
        "/api/v1/agreements", json={**body, "form": "no-such-form", "agency": "NOPE"}, headers=admin
    )
    assert {e["pointer"] for e in assert_problem(unknown, 422)["errors"]} == {"/agency", "/form"}
    good = {**body, "fields": ["/firstName", "address.city"]}
    assert_problem(await client.post("/api/v1/agreements", json=good, headers=resident), 403)
    created = await client.post("/api/v1/agreements", json=good, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["pointers"] == ["/firstName", "/home/city"]
    assert_problem(await client.post("/api/v1/agreements", json=good, headers=admin), 409)
    # public: who receives what, element ids resolved to pointers
    listed = (await client.get("/api/v1/agreements", params={"form": slug})).json()
    assert listed["owner"] == {"agency": "DSS", "fields": "all"}
    assert listed["version"] == 1
    assert [(a["agency"], a["pointers"]) for a in listed["items"]] == [
        ("DOL", ["/firstName", "/home/city"])
    ]
    assert_problem(await client.get("/api/v1/agreements", params={"form": "no-such-form"}), 404)


async def test_ids_versions_and_cursors_past_the_integer_range_are_4xx_not_500(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Found by schemathesis: on SQLite an id past 64 bits reached the database and came back
    as a 500 (OverflowError). Past the ``Integer`` column's range nothing can match, so the
    request is refused before any query, the same on either database."""
    huge = str(10**20)
    just_past = str(2**31)
    for path in (f"/api/v1/agreements/{huge}", f"/api/v1/agreements/{just_past}"):
        assert_problem(await client.get(path), 422, "/path/agreement_id")
        assert_problem(await client.delete(path, headers=admin), 422, "/path/agreement_id")
    assert_problem(await client.get(f"/api/v1/agreements/{2**31 - 1}"), 404)
    for version in (huge, just_past):
        resp = await client.get("/api/v1/agreements", params={"version": version})
        assert_problem(resp, 422, "/query/version")
    for after in ("18446744073709551615", "2147483648", "-1", "true", '"1"'):
        raw = base64.urlsafe_b64encode(f'{{"after":{after}}}'.encode()).decode()
        assert_problem(await client.get("/api/v1/agreements", params={"cursor": raw}), 400)
    ok = await client.get("/api/v1/agreements", params={"cursor": encode_cursor({"after": 0})})
    assert ok.status_code == 200, ok.text


async def test_breaking_changes_against_the_last_published_version(
    client: httpx.AsyncClient, admin: dict[str, str], catalog: Any
) -> None:
    slug = await catalog.make_form(agency="DSS")
    await catalog.add_version(slug, person_schema(), publish=True)
    agreement = {
        "agency": "DOL",
        "form": slug,
        "fields": ["/income", "address.city"],
        "purpose": "p",
        "legal_basis": "b",
    }
    assert (
        await client.post("/api/v1/agreements", json=agreement, headers=admin)
    ).status_code == 201
    # optional addition, unshared removal: not breaking
    v2 = person_schema(email={"type": "string"})
    del v2["properties"]["home"]["properties"]["zip"]
    created = await catalog.add_version(slug, v2)
    assert created["breaking"] is False
    kinds = {(c["kind"], c["pointer"]) for c in created["changes"]}
    assert kinds == {("added", "/email"), ("removed", "/home/zip")}
    # shared field changes type, element-shared field removed, a new required field
    v3 = person_schema(income={"type": "string"}, phone={"type": "string"})
    del v3["properties"]["home"]["properties"]["city"]
    v3["required"] = [*v3["required"], "phone"]
    created = await catalog.add_version(slug, v3)
    assert created["breaking"] is True
    breaking = {(c["kind"], c["pointer"]) for c in created["changes"] if c["breaking"]}
    assert breaking == {("type_changed", "/income"), ("removed", "/home/city"), ("added", "/phone")}
    # the version list says which versions break
    detail = (await client.get(f"/api/v1/forms/{slug}", headers=admin)).json()
    assert [(v["version"], v["status"], v["breaking"]) for v in detail["versions"]] == [
        (1, "published", False),
        (2, "draft", False),
        (3, "draft", True),
    ]
    public = (await client.get(f"/api/v1/forms/{slug}")).json()
    assert [v["version"] for v in public["versions"]] == [1]


async def test_published_schema_validates_answers(
    client: httpx.AsyncClient, admin: dict[str, str], catalog: Any
) -> None:
    slug = await catalog.make_form()
    await catalog.add_version(slug, person_schema(), publish=True)
    schema = (await client.get(f"/api/v1/forms/{slug}/versions/latest")).json()["schema"]
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"firstName": "Ana", "dob": "1990-01-02"})
    assert not validator.is_valid({"firstName": "Ana"})


DIALECT_URIS = {
    "draft-04": "http://json-schema.org/draft-04/schema#",
    "draft-06": "http://json-schema.org/draft-06/schema#",
    "draft-07": "http://json-schema.org/draft-07/schema#",
    "2019-09": "https://json-schema.org/draft/2019-09/schema",
    "2020-12": "https://json-schema.org/draft/2020-12/schema",
}


@pytest.mark.parametrize("dialect", list(DIALECT_URIS))
async def test_each_dialect_is_checked_against_its_own_metaschema(
    dialect: str, client: httpx.AsyncClient, admin: dict[str, str], catalog: Any
) -> None:
    slug = await catalog.make_form()
    defs = "definitions" if dialect.startswith("draft") else "$defs"
    schema = {
        "$schema": DIALECT_URIS[dialect],
        "type": "object",
        defs: {"zip": {"type": "string", "pattern": "^[0-9]{5}$"}},
        "properties": {"zip": {"$ref": f"#/{defs}/zip"}, "age": {"type": "integer"}},
    }
    created = await catalog.add_version(slug, schema)
    assert created["dialect"] == dialect
    assert created["fields"] == 2
    # draft-04 wants a boolean exclusiveMinimum, every later dialect a number
    value: Any = 5 if dialect == "draft-04" else True
    bad = {**schema, "properties": {"age": {"type": "integer", "exclusiveMinimum": value}}}
    resp = await client.post(f"/api/v1/forms/{slug}/versions", json={"schema": bad}, headers=admin)
    body = assert_problem(resp, 422, "/schema/properties/age/exclusiveMinimum")
    assert dialect in body["errors"][0]["message"]


async def test_an_admin_cannot_map_a_field_that_cannot_hold_the_element(
    client: httpx.AsyncClient, admin: dict[str, str], catalog: Any
) -> None:
    """The rule a redundancy-audit confirmation is held to (``elements.compat``), on an
    admin's mappings: a date written MM/DD/YYYY or a number as a date element is refused at
    its ``/mappings/{i}/element`` and nothing is applied; free text and the VA's date pattern
    are mapped."""
    slug = await catalog.make_form()
    va_date = "^(\\d{4}|XXXX)-(0[1-9]|1[0-2]|XX)-(0[1-9]|[1-2][0-9]|3[0-1]|XX)$"
    schema = person_schema(
        usDate={"type": "string", "pattern": "^\\d{2}/\\d{2}/\\d{4}$"},
        vaDate={"type": "string", "pattern": va_date},
        note={"type": "string"},
    )
    await catalog.add_version(slug, schema)
    base = f"/api/v1/forms/{slug}/versions/1"

    async def mapped() -> dict[str, str | None]:
        items = (await client.get(f"{base}/fields", headers=admin)).json()["items"]
        return {r["pointer"]: r["element"] for r in items}

    before = await mapped()
    bad = await client.post(
        f"{base}/mappings",
        json={
            "mappings": [
                {"pointer": "/vaDate", "element": "person.birthDate"},
                {"pointer": "/usDate", "element": "person.birthDate"},
                {"pointer": "/income", "element": "person.birthDate"},
            ]
        },
        headers=admin,
    )
    body = assert_problem(bad, 422)
    assert [e["pointer"] for e in body["errors"]] == ["/mappings/1/element", "/mappings/2/element"]
    assert "pattern ^\\d{2}/\\d{2}/\\d{4}$" in body["errors"][0]["message"]
    assert await mapped() == before, "nothing applied"
    ok = await client.post(
        f"{base}/mappings",
        json={
            "mappings": [
                {"pointer": "/vaDate", "element": "person.birthDate"},
                {"pointer": "/note", "element": "person.birthDate"},
            ]
        },
        headers=admin,
    )
    assert ok.status_code == 200, ok.text
    now = await mapped()
    assert (now["/vaDate"], now["/note"]) == ("person.birthDate", "person.birthDate")
