"""GET /api/v1/audit/redundancy and the review decisions, on a real PostgreSQL database with
forms published through the registry's own API."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tellonce_registry.config import Settings
from tellonce_registry.main import create_app
from tellonce_shared.testing import TokenFactory, asgi_client, static_verifier

URL = "/api/v1/audit/redundancy"
S = {"type": "string"}


def obj(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props}


SNAP = obj(
    applicant=obj(
        firstName=S,
        lastName=S,
        dob={"type": "string", "format": "date", "x-element": "person.birthDate"},
        ssn={"type": "string", "pattern": "^[0-9]{9}$"},
        email={"type": "string", "format": "email"},
        phone=S,
    ),
    householdSize={"type": "integer"},
)
UI = obj(
    claimant=obj(
        givenName=S,
        surname=S,
        birthDate={"type": "string", "format": "date"},
        socialSecurityNumber={"type": "string", "pattern": "^\\d{3}-?\\d{2}-?\\d{4}$"},
        emailAddress=S,
        telephone=S,
    ),
    employerName=S,
)
WIC = obj(parent=obj(first_name=S, last_name=S, date_of_birth=S), zip=S)


class Catalog:
    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:4].upper()
        self.a = f"AUA{tag}"
        self.b = f"AUB{tag}"
        low = tag.lower()
        self.snap = f"aud-snap-{low}"
        self.ui = f"aud-ui-{low}"
        self.wic = f"aud-wic-{low}"
        self.draft = f"aud-draft-{low}"


@pytest.fixture(scope="module")
async def catalog(
    client: httpx.AsyncClient, admin: dict[str, str], publish: Callable[..., Awaitable[None]]
) -> Catalog:
    c = Catalog()
    for code in (c.a, c.b):
        resp = await client.post(
            "/api/v1/agencies", json={"code": code, "name": f"Agency {code}"}, headers=admin
        )
        assert resp.status_code == 201, resp.text
    await publish(slug=c.snap, agency=c.a, schema=SNAP, minutes=30, yearly_volume=12000)
    await publish(slug=c.ui, agency=c.b, schema=UI, minutes=20, yearly_volume=6000)
    await publish(slug=c.wic, agency=c.a, schema=WIC, minutes=10, yearly_volume=3000)
    await publish(slug=c.draft, agency=c.b, schema=UI, publish=False)
    return c


def cluster_of(doc: dict[str, Any], form: str, pointer: str) -> dict[str, Any]:
    cluster: dict[str, Any]
    for cluster in doc["clusters"]:
        for f in cluster["fields"]:
            if f["form"] == form and f["pointer"] == pointer:
                return cluster
    raise AssertionError(f"{form} {pointer} is in no cluster")


async def audit(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> dict[str, Any]:
    resp = await client.get(URL, params=params, headers=headers)
    assert resp.status_code == 200, resp.text
    doc: dict[str, Any] = resp.json()
    return doc


async def test_only_auditors_and_admins_read_the_audit(
    client: httpx.AsyncClient, tokens: TokenFactory, catalog: Catalog
) -> None:
    resp = await client.get(URL)
    assert resp.status_code == 401
    assert resp.headers["content-type"].startswith("application/problem+json")
    for role, agency in (("resident", None), ("agency", catalog.a)):
        resp = await client.get(URL, headers=tokens.headers(role=role, agency=agency))
        assert resp.status_code == 403, role
        assert resp.json()["status"] == 403
    for role in ("auditor", "admin"):
        resp = await client.get(URL, headers=tokens.headers(role=role))
        assert resp.status_code == 200, role


async def test_report_groups_the_same_fact_across_forms_and_agencies(
    client: httpx.AsyncClient, auditor: dict[str, str], catalog: Catalog
) -> None:
    doc = await audit(client, auditor)
    birth = cluster_of(doc, catalog.ui, "/claimant/birthDate")
    assert birth["id"] == "e-person.birthDate"
    assert birth["element"] == "person.birthDate"
    pointers = {(f["form"], f["pointer"]) for f in birth["fields"]}
    assert pointers == {
        (catalog.snap, "/applicant/dob"),
        (catalog.ui, "/claimant/birthDate"),
        (catalog.wic, "/parent/date_of_birth"),
    }
    assert (birth["forms"], birth["agencies"]) == (3, 2)
    for key in ("id", "label", "element", "forms", "agencies", "fields"):
        assert key in birth
    for key in ("form", "version", "pointer", "name", "title", "type"):
        assert key in birth["fields"][0]
    ssn = cluster_of(doc, catalog.snap, "/applicant/ssn")
    assert ssn["id"] == cluster_of(doc, catalog.ui, "/claimant/socialSecurityNumber")["id"]
    assert ssn["label"] == "Social security number"
    assert ssn["element"] is None
    assert ssn["suggested_element"] == "person.ssn"
    assert {f["whose"] for f in ssn["fields"]} == {"applicant", "claimant"}
    # the employer's name is not a person's name
    assert all(f["pointer"] != "/employerName" for c in doc["clusters"] for f in c["fields"])
    assert all(f["form"] != catalog.draft for c in doc["clusters"] for f in c["fields"])
    brief = await audit(client, auditor, fields="false")
    first = brief["clusters"][0]
    assert "fields" not in first
    assert first["field_count"] == len(doc["clusters"][0]["fields"])
    assert first["id"] == doc["clusters"][0]["id"]


async def test_form_pairs_and_burden(
    client: httpx.AsyncClient, auditor: dict[str, str], catalog: Catalog
) -> None:
    doc = await audit(client, auditor, agency=catalog.a, min_forms=1)
    pair = next(p for p in doc["form_pairs"] if {p["a"], p["b"]} == {catalog.snap, catalog.wic})
    # snap and wic share first name, last name, date of birth; snap asks 7 facts, wic 4
    assert pair["shared"] == 3
    assert pair["jaccard"] == round(3 / (7 + 4 - 3), 4)
    forms = {f["form"]: f for f in doc["burden"]["forms"]}
    assert set(forms) == {catalog.snap, catalog.wic}
    assert forms[catalog.snap]["burden_hours"] == 30 * 12000 / 60
    assert forms[catalog.wic]["burden_hours"] == 10 * 3000 / 60
    assert doc["burden"]["total_burden_hours"] == 6000 + 500
    share = doc["burden"]["assumptions"]["repeat_filer_share"]
    review = doc["burden"]["assumptions"]["review_fraction"]
    assert (share, review) == (0.25, 0.2)
    assert "25%" in doc["burden"]["assumptions"]["text"]
    # date of birth: asked once by each of the three forms (one is another agency's)
    full = await audit(client, auditor)
    birth = cluster_of(full, catalog.snap, "/applicant/dob")
    assert birth["statements_per_year"] == 12000 + 6000 + 3000
    expected = sum(
        volume * 0.25 * 0.8 * (minutes / fields) / 60
        for volume, minutes, fields in ((12000, 30, 7), (6000, 20, 7), (3000, 10, 4))
    )
    assert birth["prefill_hours_saved"] == pytest.approx(expected, abs=0.05)
    # an analyst can ask "what if half the filers file more than one of these forms"
    what_if = await audit(client, auditor, repeat_filer_share=0.5)
    assert cluster_of(what_if, catalog.snap, "/applicant/dob")[
        "prefill_hours_saved"
    ] == pytest.approx(2 * expected, abs=0.1)


async def test_filters_and_their_errors(
    client: httpx.AsyncClient, auditor: dict[str, str], catalog: Catalog
) -> None:
    doc = await audit(client, auditor, form=catalog.ui)
    assert doc["clusters"]
    assert all(any(f["form"] == catalog.ui for f in c["fields"]) for c in doc["clusters"])
    assert [f["form"] for f in doc["burden"]["forms"]] == [catalog.ui]
    for params in ({"form": "no-such-form"}, {"agency": "NOPE9"}):
        resp = await client.get(URL, params=params, headers=auditor)
        assert resp.status_code == 404
        assert resp.headers["content-type"].startswith("application/problem+json")
    resp = await client.get(URL, params={"format": "xml"}, headers=auditor)
    assert resp.status_code == 422
    resp = await client.get(URL, params={"repeat_filer_share": 2}, headers=auditor)
    assert resp.status_code == 422


async def test_csv_html_and_pdf(
    client: httpx.AsyncClient, auditor: dict[str, str], catalog: Catalog
) -> None:
    resp = await client.get(URL, headers={**auditor, "Accept": "text/csv"})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    row = next(r for r in rows if r["form"] == catalog.ui and r["pointer"] == "/claimant/birthDate")
    assert row["cluster"] == "e-person.birthDate"
    assert row["whose"] == "claimant"
    resp = await client.get(URL, params={"format": "csv", "table": "forms"}, headers=auditor)
    forms = {r["form"]: r for r in csv.DictReader(io.StringIO(resp.text))}
    assert float(forms[catalog.snap]["burden_hours"]) == 6000.0
    resp = await client.get(URL, params={"format": "html"}, headers=auditor)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    assert "<svg" in resp.text
    assert "Date of birth" in resp.text
    assert "Hours tell-once prefill would save" in resp.text
    resp = await client.get(URL, params={"format": "pdf"}, headers=auditor)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/pdf"
    assert resp.content.startswith(b"%PDF")


async def test_confirm_split_reject_persist_across_reruns(
    client: httpx.AsyncClient,
    auditor: dict[str, str],
    admin: dict[str, str],
    tokens: TokenFactory,
    settings: Settings,
    catalog: Catalog,
) -> None:
    doc = await audit(client, auditor)
    ssn = cluster_of(doc, catalog.snap, "/applicant/ssn")
    email = cluster_of(doc, catalog.snap, "/applicant/email")
    phone = cluster_of(doc, catalog.snap, "/applicant/phone")
    base = "/api/v1/audit/clusters"

    # confirm: the SSN fields become mapped to the element
    resp = await client.post(
        f"{base}/{ssn['id']}/confirm", json={"element": "person.ssn"}, headers=auditor
    )
    assert resp.status_code == 201, resp.text
    confirmed = resp.json()
    assert confirmed["kind"] == "confirm"
    assert confirmed["decided_by"] == "auditor@demo.gov"
    # split: the UI claim's email gets a cluster of its own
    resp = await client.post(
        f"{base}/{email['id']}/split",
        json={
            "fields": [{"form": catalog.ui, "pointer": "/claimant/emailAddress"}],
            "label": "Claim notices email",
        },
        headers=admin,
    )
    assert resp.status_code == 201, resp.text
    split = resp.json()
    # reject: the WIC has no phone; take the UI telephone out of the phone cluster
    resp = await client.post(
        f"{base}/{phone['id']}/reject",
        json={"fields": [{"form": catalog.ui, "pointer": "/claimant/telephone"}]},
        headers=auditor,
    )
    assert resp.status_code == 201, resp.text

    async def check(c: httpx.AsyncClient) -> None:
        doc = await audit(c, auditor, min_forms=1)
        ssn_now = cluster_of(doc, catalog.ui, "/claimant/socialSecurityNumber")
        assert ssn_now["id"] == "e-person.ssn"
        assert all(f["confidence"] == 1.0 for f in ssn_now["fields"])
        assert any("confirmed by a reviewer" in e for e in ssn_now["fields"][0]["evidence"])
        moved = cluster_of(doc, catalog.ui, "/claimant/emailAddress")
        assert (moved["id"], moved["label"]) == (f"s-{split['id']}", "Claim notices email")
        assert cluster_of(doc, catalog.snap, "/applicant/email")["id"] == email["id"]
        assert cluster_of(doc, catalog.ui, "/claimant/telephone")["kind"] == "rejected"

    await check(client)
    # a new process (empty cache) reads the decisions back from the database
    other = create_app(settings, verifier=static_verifier(tokens))
    async with asgi_client(other) as c:
        await check(c)
        resp = await c.get("/api/v1/audit/mappings", params={"form": catalog.ui})
        assert resp.json()["items"] == [
            {
                "form": catalog.ui,
                "pointer": "/claimant/socialSecurityNumber",
                "element": "person.ssn",
            }
        ]
    await other.state.database.dispose()

    listed = (await client.get("/api/v1/audit/decisions", headers=auditor)).json()["items"]
    assert [d["id"] for d in listed][-3:] == [confirmed["id"], split["id"], listed[-1]["id"]]
    # undo the split: the email is back with the others
    resp = await client.delete(f"/api/v1/audit/decisions/{split['id']}", headers=auditor)
    assert resp.status_code == 204
    doc = await audit(client, auditor)
    assert cluster_of(doc, catalog.ui, "/claimant/emailAddress")["id"] == email["id"]
    resp = await client.delete(f"/api/v1/audit/decisions/{split['id']}", headers=auditor)
    assert resp.status_code == 404


async def test_bad_decisions_are_refused_clearly(
    client: httpx.AsyncClient,
    auditor: dict[str, str],
    tokens: TokenFactory,
    catalog: Catalog,
) -> None:
    doc = await audit(client, auditor)
    first = cluster_of(doc, catalog.snap, "/applicant/firstName")
    base = f"/api/v1/audit/clusters/{first['id']}"
    cases: list[tuple[str, dict[str, Any], int]] = [
        ("confirm", {"element": "no.such.element"}, 422),
        ("confirm", {"element": "person.givenName", "extra": 1}, 422),
        ("split", {"fields": [{"form": catalog.ui, "pointer": "/employerName"}]}, 422),
        ("split", {"fields": []}, 422),
        (
            "reject",
            {"fields": [{"form": f["form"], "pointer": f["pointer"]} for f in first["fields"]]},
            422,
        ),
    ]
    for action, body, status in cases:
        resp = await client.post(f"{base}/{action}", json=body, headers=auditor)
        assert resp.status_code == status, (action, body, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
    resp = await client.post(
        "/api/v1/audit/clusters/w-000000000000/confirm",
        json={"element": "person.givenName"},
        headers=auditor,
    )
    assert resp.status_code == 404
    resp = await client.post(
        f"{base}/confirm",
        json={"element": "person.givenName"},
        headers=tokens.headers(role="resident"),
    )
    assert resp.status_code == 403
    resp = await client.post(f"{base}/confirm", content=b"{not json", headers=auditor)
    assert resp.status_code in (400, 422)


async def test_a_decision_id_past_the_integer_range_is_422_not_500(
    client: httpx.AsyncClient, auditor: dict[str, str]
) -> None:
    """Found by schemathesis: on SQLite such an id reached the database (OverflowError, 500)."""
    for decision in (str(10**20), str(2**31)):
        resp = await client.delete(f"/api/v1/audit/decisions/{decision}", headers=auditor)
        assert resp.status_code == 422, resp.text
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert "/path/decision_id" in [e["pointer"] for e in resp.json()["errors"]]
    resp = await client.delete(f"/api/v1/audit/decisions/{2**31 - 1}", headers=auditor)
    assert resp.status_code == 404, resp.text


async def test_a_newly_published_form_shows_up_at_once(
    client: httpx.AsyncClient,
    auditor: dict[str, str],
    catalog: Catalog,
    publish: Callable[..., Awaitable[None]],
    app: FastAPI,
) -> None:
    await audit(client, auditor)
    cached = app.state.audit_cache.catalog
    await audit(client, auditor, format="json")
    assert app.state.audit_cache.catalog is cached  # nothing changed: nothing recomputed
    slug = f"aud-late-{uuid.uuid4().hex[:4]}"
    await publish(slug=slug, agency=catalog.b, schema=WIC, minutes=5, yearly_volume=100)
    doc = await audit(client, auditor)
    assert app.state.audit_cache.catalog is not cached
    assert cluster_of(doc, slug, "/parent/date_of_birth")["id"] == "e-person.birthDate"


async def test_a_confirmation_feeds_the_fields_document_of_published_versions(
    client: httpx.AsyncClient,
    auditor: dict[str, str],
    catalog: Catalog,
    publish: Callable[..., Awaitable[None]],
) -> None:
    """Prefill reads ``.../versions/{n}/fields``: an audit confirmation must show there, past
    the cache of published versions (and its ETag), and go away when undone."""
    tag = uuid.uuid4().hex[:4]
    one, two = f"aud-pre1-{tag}", f"aud-pre2-{tag}"
    await publish(slug=one, agency=catalog.a, schema=SNAP, minutes=5, yearly_volume=10)
    await publish(slug=two, agency=catalog.b, schema=UI, minutes=5, yearly_volume=10)
    urls = [f"/api/v1/forms/{one}/versions/1/fields", f"/api/v1/forms/{one}/versions/latest/fields"]

    async def items(url: str) -> dict[str, dict[str, Any]]:
        resp = await client.get(url)
        assert resp.status_code == 200, resp.text
        return {f["pointer"]: f for f in resp.json()["items"]}

    before = await items(urls[0])
    await items(urls[1])  # both now in the published cache
    etag = (await client.get(urls[0])).headers["etag"]
    assert (await client.get(urls[0], headers={"If-None-Match": etag})).status_code == 304
    ssn = before["/applicant/ssn"]
    assert (ssn["element"], ssn["element_source"]) == (None, None)
    # unmapped, but an SSN all the same: restricted (sealed and masked by submissions)
    assert (ssn["sensitivity"], ssn["sensitivity_source"]) == ("restricted", "inferred")
    dob = before["/applicant/dob"]
    assert (dob["element"], dob["element_source"]) == ("person.birthDate", "version")

    doc = await audit(client, auditor, min_forms=1)
    cluster = cluster_of(doc, one, "/applicant/ssn")
    assert cluster_of(doc, two, "/claimant/socialSecurityNumber")["id"] == cluster["id"]
    mine = [
        {"form": one, "pointer": "/applicant/ssn"},
        {"form": two, "pointer": "/claimant/socialSecurityNumber"},
    ]
    resp = await client.post(
        f"/api/v1/audit/clusters/{cluster['id']}/confirm",
        json={"element": "person.ssn", "fields": mine},
        headers=auditor,
    )
    assert resp.status_code == 201, resp.text
    decision = resp.json()["id"]

    for url in urls:
        ssn = (await items(url))["/applicant/ssn"]
        assert (ssn["element"], ssn["element_source"]) == ("person.ssn", "audit")
        assert (ssn["sensitivity"], ssn["sensitivity_source"]) == ("restricted", "element")
    other = (await items(f"/api/v1/forms/{two}/versions/1/fields"))[
        "/claimant/socialSecurityNumber"
    ]
    assert (other["element"], other["element_source"]) == ("person.ssn", "audit")
    # a field mapped by its version keeps its own element and source
    assert (await items(urls[0]))["/applicant/dob"]["element_source"] == "version"
    # the old ETag no longer matches: a client revalidating gets the new document
    resp = await client.get(urls[0], headers={"If-None-Match": etag})
    assert resp.status_code == 200
    assert resp.headers["etag"] != etag

    resp = await client.delete(f"/api/v1/audit/decisions/{decision}", headers=auditor)
    assert resp.status_code == 204
    for url in urls:
        ssn = (await items(url))["/applicant/ssn"]
        assert (ssn["element"], ssn["element_source"]) == (None, None)
        assert ssn["sensitivity_source"] == "inferred"


# ---------------------------------------------------------------- confirmations and value kinds

KINDS = obj(
    applicant=obj(
        dateOfBirth={"type": "string", "format": "date"},
        insured={"type": "boolean"},
        fullName={"type": "object"},
        sex={"enum": ["female", "male", "unspecified"]},
        householdSize={"type": "number"},
        monthlyIncome={"type": "integer"},
        email={"type": "string", "format": "email"},
    ),
    spouse=obj(date_of_birth={"type": "string", "pattern": "^\\d{2}/\\d{2}/\\d{4}$"}),
)
US_DATE = "string with pattern ^\\d{2}/\\d{2}/\\d{4}$"
"""How the spouse's date of birth (written MM/DD/YYYY) is named in a refusal."""


async def kinds_form(
    catalog: Catalog, publish: Callable[..., Awaitable[None]], schema: dict[str, Any] = KINDS
) -> str:
    slug = f"aud-kinds-{uuid.uuid4().hex[:6]}"
    await publish(slug=slug, agency=catalog.a, schema=schema, minutes=5, yearly_volume=10)
    return slug


async def confirm(
    client: httpx.AsyncClient,
    auditor: dict[str, str],
    form: str,
    element: str,
    *pointers: str,
) -> httpx.Response:
    """Confirm, as ``element``, the named fields of ``form`` (all in one cluster)."""
    doc = await audit(client, auditor, min_forms=1)
    clusters = {cluster_of(doc, form, p)["id"] for p in pointers}
    assert len(clusters) == 1, f"{pointers} are in clusters {clusters}"
    return await client.post(
        f"/api/v1/audit/clusters/{clusters.pop()}/confirm",
        json={"element": element, "fields": [{"form": form, "pointer": p} for p in pointers]},
        headers=auditor,
    )


async def nothing_stored(
    client: httpx.AsyncClient, auditor: dict[str, str], form: str, before: list[Any]
) -> None:
    """No decision was recorded, no field of ``form`` is mapped, its fields show no element."""
    after = (await client.get("/api/v1/audit/decisions", headers=auditor)).json()["items"]
    assert after == before
    mapped = (await client.get("/api/v1/audit/mappings", params={"form": form})).json()
    assert mapped["items"] == []
    items = (await client.get(f"/api/v1/forms/{form}/versions/latest/fields")).json()["items"]
    assert [(f["pointer"], f["element"]) for f in items if f["element"]] == []


async def test_a_confirmation_the_fields_cannot_hold_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient,
    auditor: dict[str, str],
    catalog: Catalog,
    publish: Callable[..., Awaitable[None]],
) -> None:
    """A date written MM/DD/YYYY, a boolean or an email confirmed as a date element, an object
    or a date as a string element: a 422 problem naming the field (form, version, pointer,
    its kind and the element's), and nothing written."""
    form = await kinds_form(catalog, publish)
    before = (await client.get("/api/v1/audit/decisions", headers=auditor)).json()["items"]
    cases = [
        ("/spouse/date_of_birth", "person.birthDate", US_DATE, "string with format date"),
        ("/applicant/insured", "person.birthDate", "boolean", "string with format date"),
        (
            "/applicant/email",
            "person.birthDate",
            "string with format email",
            "string with format date",
        ),
        ("/applicant/fullName", "person.fullName", "object", "string"),
        ("/applicant/dateOfBirth", "person.fullName", "string with format date", "string"),
    ]
    for pointer, element, field_type, element_type in cases:
        resp = await confirm(client, auditor, form, element, pointer)
        assert resp.status_code == 422, (pointer, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
        body = resp.json()
        assert body["errors"] == [
            {
                "pointer": "/fields/0",
                "message": f"{form} version 1 {pointer}: The field is {field_type};"
                f" the element {element} is {element_type}.",
                "form": form,
                "version": "1",
                "field": pointer,
                "field_type": field_type,
                "element": element,
                "element_type": element_type,
            }
        ]
        assert body["detail"].startswith("Nothing was confirmed: 1 field(s) cannot hold")
        assert f"{form} v1 {pointer} is {field_type}" in body["detail"]
    await nothing_stored(client, auditor, form, before)


async def test_a_compatible_confirmation_still_works(
    client: httpx.AsyncClient,
    auditor: dict[str, str],
    catalog: Catalog,
    publish: Callable[..., Awaitable[None]],
) -> None:
    """A date field as a date element, an enum of strings with no type as a string element,
    number and integer either way: confirmed and fed to the fields document. The MM/DD/YYYY
    date of birth next to the date field is still refused, so the check did run."""
    form = await kinds_form(catalog, publish)
    fits = [
        ("/applicant/dateOfBirth", "person.birthDate"),
        ("/applicant/sex", "person.sex"),
        ("/applicant/householdSize", "household.size"),
        ("/applicant/monthlyIncome", "household.monthlyIncome"),
    ]
    for pointer, element in fits:
        resp = await confirm(client, auditor, form, element, pointer)
        assert resp.status_code == 201, (pointer, resp.text)
        assert resp.json()["fields"] == [{"form": form, "pointer": pointer}]
    items = (await client.get(f"/api/v1/forms/{form}/versions/1/fields")).json()["items"]
    shown = {f["pointer"]: (f["element"], f["element_source"]) for f in items if f["element"]}
    assert shown == {pointer: (element, "audit") for pointer, element in fits}
    refused = await confirm(client, auditor, form, "person.birthDate", "/spouse/date_of_birth")
    assert refused.status_code == 422, refused.text


async def test_a_confirmation_does_not_reach_a_later_version_whose_field_cannot_hold_it(
    client: httpx.AsyncClient,
    auditor: dict[str, str],
    admin: dict[str, str],
    catalog: Catalog,
    publish: Callable[..., Awaitable[None]],
) -> None:
    """A confirmation reaches every version with the same pointer. Version 2 asks the date of
    birth as ``MM/DD/YYYY`` text at the pointer version 1 asked a date: version 2's field gets
    no element (a date would not fit it, and its answers are not dates), version 1 keeps it,
    and a version 3 that asks a date again gets it back."""
    form = await kinds_form(catalog, publish)
    pointer = "/applicant/dateOfBirth"
    resp = await confirm(client, auditor, form, "person.birthDate", pointer)
    assert resp.status_code == 201, resp.text
    us_date = {"type": "string", "pattern": "^\\d{2}/\\d{2}/\\d{4}$"}
    text_dob = {**KINDS, "properties": {**KINDS["properties"]}}
    text_dob["properties"]["applicant"] = {
        **KINDS["properties"]["applicant"],
        "properties": {**KINDS["properties"]["applicant"]["properties"], "dateOfBirth": us_date},
    }
    for schema in (text_dob, KINDS):
        made = await client.post(
            f"/api/v1/forms/{form}/versions", json={"schema": schema}, headers=admin
        )
        assert made.status_code == 201, made.text
        number = made.json()["version"]
        published = await client.post(
            f"/api/v1/forms/{form}/versions/{number}/publish", headers=admin
        )
        assert published.status_code == 200, published.text

    async def element_at(version: int) -> tuple[Any, Any]:
        url = f"/api/v1/forms/{form}/versions/{version}/fields"
        items = {f["pointer"]: f for f in (await client.get(url)).json()["items"]}
        return items[pointer]["element"], items[pointer]["element_source"]

    assert await element_at(1) == ("person.birthDate", "audit")
    assert await element_at(2) == (None, None)
    assert await element_at(3) == ("person.birthDate", "audit")


async def test_a_mixed_confirmation_is_refused_whole(
    client: httpx.AsyncClient,
    auditor: dict[str, str],
    catalog: Catalog,
    publish: Callable[..., Awaitable[None]],
) -> None:
    """Two date-of-birth fields of one cluster, one a date and one written MM/DD/YYYY: the
    confirmation is refused as a whole (the date field is not mapped either), naming only the
    MM/DD/YYYY one at its place in the request; the date field alone is then confirmed."""
    form = await kinds_form(catalog, publish)
    before = (await client.get("/api/v1/audit/decisions", headers=auditor)).json()["items"]
    good, bad = "/applicant/dateOfBirth", "/spouse/date_of_birth"
    resp = await confirm(client, auditor, form, "person.birthDate", good, bad)
    assert resp.status_code == 422, resp.text
    errors = resp.json()["errors"]
    assert [(e["pointer"], e["field"], e["field_type"]) for e in errors] == [
        ("/fields/1", bad, US_DATE)
    ]
    await nothing_stored(client, auditor, form, before)
    resp = await confirm(client, auditor, form, "person.birthDate", good)
    assert resp.status_code == 201, resp.text


async def test_every_published_version_of_a_confirmed_field_must_hold_the_element(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    auditor: dict[str, str],
    catalog: Catalog,
    publish: Callable[..., Awaitable[None]],
) -> None:
    """A mapping reaches every version of the form: version 1 asked a yes/no question where
    version 2 asks a date, so confirming the date is refused, naming version 1. Confirming the
    whole cluster (no ``fields``) names the field at ``/element``."""
    form = await kinds_form(catalog, publish, obj(claimant=obj(dateOfBirth={"type": "boolean"})))
    v2 = obj(claimant=obj(dateOfBirth={"type": "string", "format": "date"}))
    base = f"/api/v1/forms/{form}/versions"
    resp = await client.post(base, json={"schema": v2}, headers=admin)
    assert resp.status_code == 201, resp.text
    assert (await client.post(f"{base}/2/publish", headers=admin)).status_code == 200
    before = (await client.get("/api/v1/audit/decisions", headers=auditor)).json()["items"]
    resp = await confirm(client, auditor, form, "person.birthDate", "/claimant/dateOfBirth")
    assert resp.status_code == 422, resp.text
    errors = resp.json()["errors"]
    assert [(e["version"], e["field_type"]) for e in errors] == [("1", "boolean")]

    doc = await audit(client, auditor, min_forms=1)
    cluster = cluster_of(doc, form, "/claimant/dateOfBirth")
    resp = await client.post(
        f"/api/v1/audit/clusters/{cluster['id']}/confirm",
        json={"element": "person.birthDate"},
        headers=auditor,
    )
    assert resp.status_code == 422, resp.text
    mine = [e for e in resp.json()["errors"] if e["form"] == form]
    assert [(e["pointer"], e["version"]) for e in mine] == [("/element", "1")]
    await nothing_stored(client, auditor, form, before)


async def test_a_date_written_as_the_vas_pattern_is_confirmed_as_a_date(
    client: httpx.AsyncClient,
    auditor: dict[str, str],
    catalog: Catalog,
    publish: Callable[..., Awaitable[None]],
) -> None:
    """The VA's forms write a date of birth as a string with a pattern (a full date, or one
    with unknown parts), not ``format: date``: it holds the date element (every date fits
    it), so the most asked-for fact can be confirmed across their forms; a date written
    MM/DD/YYYY next to it is still refused."""
    va_date = "^(\\d{4}|XXXX)-(0[1-9]|1[0-2]|XX)-(0[1-9]|[1-2][0-9]|3[0-1]|XX)$"
    schema = obj(
        veteran=obj(dateOfBirth={"type": "string", "pattern": va_date}),
        spouse=obj(date_of_birth={"type": "string", "pattern": "^\\d{2}/\\d{2}/\\d{4}$"}),
    )
    form = await kinds_form(catalog, publish, schema)
    refused = await confirm(client, auditor, form, "person.birthDate", "/spouse/date_of_birth")
    assert refused.status_code == 422, refused.text
    resp = await confirm(client, auditor, form, "person.birthDate", "/veteran/dateOfBirth")
    assert resp.status_code == 201, resp.text
    items = (await client.get(f"/api/v1/forms/{form}/versions/1/fields")).json()["items"]
    shown = {f["pointer"]: f["element"] for f in items if f["element"]}
    assert shown == {"/veteran/dateOfBirth": "person.birthDate"}


# ---------------------------------------------------------------- whose fields a confirmation maps

ADDRESSES = obj(
    address=obj(street=S, street2=S, street3=S, city=S),
    claimant=obj(address=obj(addressLine1=S, addressLine2=S)),
    spouse=obj(address=obj(street=S, street2=S)),
    school=obj(address=obj(street=S)),
    guardianAddress=obj(street=S),
)
OWN_STREETS = {"/address/street": "filer", "/claimant/address/addressLine1": "claimant"}
OTHERS_STREETS = {
    "/spouse/address/street": "spouse",
    "/school/address/street": "school",
    "/guardianAddress/street": "guardian",
}


async def addresses_form(catalog: Catalog, publish: Callable[..., Awaitable[None]]) -> str:
    slug = f"aud-addr-{uuid.uuid4().hex[:6]}"
    await publish(slug=slug, agency=catalog.a, schema=ADDRESSES, minutes=5, yearly_volume=10)
    return slug


async def elements_of(client: httpx.AsyncClient, form: str) -> dict[str, str | None]:
    items = (await client.get(f"/api/v1/forms/{form}/versions/1/fields")).json()["items"]
    return {f["pointer"]: f["element"] for f in items}


async def test_second_and_third_lines_are_not_in_the_street_cluster(
    client: httpx.AsyncClient,
    auditor: dict[str, str],
    catalog: Catalog,
    publish: Callable[..., Awaitable[None]],
) -> None:
    form = await addresses_form(catalog, publish)
    doc = await audit(client, auditor, min_forms=1)
    street = cluster_of(doc, form, "/address/street")
    assert "address.street" in (street["element"], street["suggested_element"])
    mine = {f["pointer"] for f in street["fields"] if f["form"] == form}
    assert mine == set(OWN_STREETS) | set(OTHERS_STREETS)
    for pointer in ("/address/street2", "/claimant/address/addressLine2"):
        unit = cluster_of(doc, form, pointer)
        assert "address.street2" in (unit["element"], unit["suggested_element"])
    third = cluster_of(doc, form, "/address/street3")
    assert "address.street3" in (third["element"], third["suggested_element"])


async def test_a_confirmation_naming_no_fields_maps_only_the_filers_own(
    client: httpx.AsyncClient,
    auditor: dict[str, str],
    catalog: Catalog,
    publish: Callable[..., Awaitable[None]],
) -> None:
    """Review: confirming the street cluster mapped every member whatever its ``whose``, so
    prefill put the resident's street into the school's, the guardian's and the spouse's
    addresses. Without ``fields``, only the filer's own fields are mapped (no role, the
    applicant, the claimant); the answer lists the others with their ``whose`` and why."""
    form = await addresses_form(catalog, publish)
    doc = await audit(client, auditor, min_forms=1)
    cluster = cluster_of(doc, form, "/address/street")
    resp = await client.post(
        f"/api/v1/audit/clusters/{cluster['id']}/confirm",
        json={"element": "address.street"},
        headers=auditor,
    )
    assert resp.status_code == 201, resp.text
    body = resp.json()
    try:
        assert {f["pointer"] for f in body["fields"] if f["form"] == form} == set(OWN_STREETS)
        left = {f["pointer"]: f for f in body["left_out"] if f["form"] == form}
        assert {p: f["whose"] for p, f in left.items()} == OTHERS_STREETS
        assert all("not the filer's own" in f["reason"] for f in left.values())
        # every field of the cluster is either mapped or left out
        everyone = {(f["form"], f["pointer"]) for f in cluster["fields"]}
        answered = [(f["form"], f["pointer"]) for f in body["fields"] + body["left_out"]]
        assert sorted(answered) == sorted(everyone)
        shown = await elements_of(client, form)
        for pointer in OWN_STREETS:
            assert shown[pointer] == "address.street", pointer
        for pointer in OTHERS_STREETS:
            assert shown[pointer] is None, pointer
        assert shown["/address/street2"] is None
        mapped = (await client.get("/api/v1/audit/mappings", params={"form": form})).json()
        assert {m["pointer"] for m in mapped["items"]} == set(OWN_STREETS)
    finally:
        resp = await client.delete(f"/api/v1/audit/decisions/{body['id']}", headers=auditor)
        assert resp.status_code == 204


async def test_named_fields_are_mapped_whoever_they_are_about(
    client: httpx.AsyncClient,
    auditor: dict[str, str],
    catalog: Catalog,
    publish: Callable[..., Awaitable[None]],
) -> None:
    """An auditor who names a field decides for it (the veteran of 22-1990 is its filer, the
    audit cannot tell): the spouse's street is mapped as named and nothing is left out."""
    form = await addresses_form(catalog, publish)
    resp = await confirm(client, auditor, form, "address.street", "/spouse/address/street")
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["fields"] == [{"form": form, "pointer": "/spouse/address/street"}]
    assert body["left_out"] == []
    assert (await elements_of(client, form))["/spouse/address/street"] == "address.street"
    resp = await client.delete(f"/api/v1/audit/decisions/{body['id']}", headers=auditor)
    assert resp.status_code == 204


async def test_a_cluster_of_other_peoples_fields_only_is_not_confirmed_whole(
    client: httpx.AsyncClient,
    auditor: dict[str, str],
    catalog: Catalog,
    publish: Callable[..., Awaitable[None]],
) -> None:
    """Nothing of the filer's own to map: 422, nothing recorded, and the fields are named."""
    form = f"aud-spouse-{uuid.uuid4().hex[:6]}"
    schema = obj(spouse=obj(petName=S), guardian=obj(petName=S))
    await publish(slug=form, agency=catalog.a, schema=schema, minutes=5, yearly_volume=10)
    before = (await client.get("/api/v1/audit/decisions", headers=auditor)).json()["items"]
    doc = await audit(client, auditor, min_forms=1)
    cluster = cluster_of(doc, form, "/spouse/petName")
    assert cluster_of(doc, form, "/guardian/petName")["id"] == cluster["id"]
    resp = await client.post(
        f"/api/v1/audit/clusters/{cluster['id']}/confirm",
        json={"element": "person.fullName"},
        headers=auditor,
    )
    assert resp.status_code == 422, resp.text
    problem = resp.json()
    assert problem["detail"].startswith("Nothing was confirmed: none of the cluster's")
    assert "guardian, spouse" in problem["detail"]
    assert {e["pointer"] for e in problem["errors"]} == {"/fields"}
    assert any("/spouse/petName" in e["message"] for e in problem["errors"])
    await nothing_stored(client, auditor, form, before)
