"""Reviewer's findings on the audit: a form's catastrophic pattern froze the process; two
confirmations of one field at once gave a 500; a filter changed a pair's Jaccard, pushed the
selected form's pairs out and left the totals about the whole catalog; NUL in a parameter
reached PostgreSQL (a 500)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tellonce_registry.audit import repository
from tellonce_registry.audit.clustering import cluster_fields
from tellonce_registry.audit.concepts import CONCEPTS_BY_ID, check_values
from tellonce_registry.audit.fields import FieldRecord
from tellonce_registry.audit.models import AuditDecision, AuditFieldMapping
from tellonce_registry.audit.report import Assumptions, FormFacts
from tellonce_registry.audit.service import Catalog, _shape_report
from tellonce_registry.models import DataElement
from tellonce_shared.db import Database
from tellonce_shared.migrations import upgrade

SERVICE_DIR = Path(__file__).resolve().parents[2]
URL = "/api/v1/audit/redundancy"
S = {"type": "string"}
Publisher = Callable[..., Awaitable[None]]


@pytest.fixture(scope="module")
async def agencies(client: httpx.AsyncClient, admin: dict[str, str]) -> list[str]:
    """Two agencies of this module's own: their forms are the only ones an agency filter
    selects."""
    tag = uuid.uuid4().hex[:4].upper()
    codes = [f"AUX{tag}", f"AUY{tag}"]
    for code in codes:
        resp = await client.post(
            "/api/v1/agencies", json={"code": code, "name": f"Agency {code}"}, headers=admin
        )
        assert resp.status_code == 201, resp.text
    return codes


def record(form: str, agency: str, name: str, **kw: Any) -> FieldRecord:
    return FieldRecord(form=form, agency=agency, version=1, pointer=f"/{name}", name=name, **kw)


def run_isolated(code: str, timeout: float = 120) -> Any:
    """Run ``code`` in a fresh interpreter and return the JSON it prints: Python's ``re``
    holds the GIL while it backtracks, so only another process can time it out."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ catastrophic patterns

CATASTROPHIC = ["^(.|.|.)*#", "^(.|.)*!|^r", "^(.|.|.)*(?!x)#", "^((.|.|.)*)*\\2#"]
"""Exponential in Python's ``re`` on the concepts' samples (the first never ends); the last
two need the backtracking engine, which gives up."""


def test_a_catastrophic_pattern_is_read_in_bounded_time() -> None:
    """Clustering fields with such patterns (named ``email``, so they meet the email
    concept's samples) returns. The linear engine reads the first two to the end: the first
    rejects the sample, so it contradicts the concept; the second accepts junk (``!``), so it
    says nothing; the engine gives up on the last two, which say nothing either. Without the
    fix the child process never ends."""
    result = run_isolated(
        f"""
        import json
        from tellonce_registry.audit.clustering import cluster_fields
        from tellonce_registry.audit.concepts import CONCEPTS_BY_ID, check_values
        from tellonce_registry.audit.fields import FieldRecord

        records = [
            FieldRecord(form=f"f{{i}}", agency="DSS", version=1, pointer="/email",
                        name="email", type="string", pattern=p)
            for i, p in enumerate({CATASTROPHIC!r})
        ]
        email = CONCEPTS_BY_ID["person.email"]
        verdicts = [check_values(r, email).verdict for r in records]
        clusters = cluster_fields(records)
        print(json.dumps({{
            "verdicts": verdicts,
            "email": sorted(
                m.record.form for c in clusters if c.id == "c-person.email" for m in c.members
            ),
        }}))
        """
    )
    assert result == {
        "verdicts": ["contradict", "neutral", "neutral", "neutral"],
        "email": ["f1", "f2", "f3"],
    }


@pytest.mark.parametrize(
    ("pattern", "concept", "verdict"),
    [
        ("^\\d{3}-?\\d{2}-?\\d{4}$", "person.ssn", "support"),
        ("^[0-9]{4}$", "person.ssn", "contradict"),
        ("^[0-9]{4}$", "person.ssnLast4", "support"),
        (".*", "person.ssn", "neutral"),  # accepts junk: says nothing
        ("(unclosed", "person.ssn", "neutral"),  # the engine refuses it
        ("^(?=\\d)\\d{9}$", "person.ssn", "support"),  # lookaheads still read
        ("^(.|.)*(?!x)#", "person.email", "neutral"),  # the engine gave up (re: 0.1 s)
    ],
)
def test_pattern_verdicts_with_the_bounded_engine(pattern: str, concept: str, verdict: str) -> None:
    field = record("f", "DSS", "x", type="string", pattern=pattern)
    assert check_values(field, CONCEPTS_BY_ID[concept]).verdict == verdict


async def test_the_audit_answers_after_a_catastrophic_pattern_is_published(
    database_url: str, publish: Publisher, agencies: list[str]
) -> None:
    """The reviewer's demo: ``format: hostname`` made the import skip the pattern, and the
    first audit after it froze the whole process for good. The audit runs in another
    process here (a fresh app on the same database), so a hang is a failure, not a stall."""
    slug = f"aud-redos-{uuid.uuid4().hex[:6]}"
    schema = {
        "type": "object",
        "properties": {
            "email": {"type": "string", "format": "hostname", "pattern": "^(.|.|.)*#"},
            "firstName": S,
        },
    }
    await publish(slug=slug, agency=agencies[0], schema=schema)
    result = run_isolated(
        f"""
        import asyncio, json
        from tellonce_registry.config import Settings
        from tellonce_registry.main import create_app
        from tellonce_shared.testing import TokenFactory, asgi_client, static_verifier

        async def main():
            tokens = TokenFactory()
            app = create_app(Settings(database_url={database_url!r}),
                             verifier=static_verifier(tokens))
            async with asgi_client(app) as c:
                r = await c.get({URL!r}, params={{"form": {slug!r}, "min_forms": 1}},
                                headers=tokens.headers(role="auditor"))
            await app.state.database.dispose()
            doc = r.json()
            fields = [f["pointer"] for c in doc.get("clusters", []) for f in c["fields"]
                      if f["form"] == {slug!r}]
            print(json.dumps({{"status": r.status_code, "fields": sorted(fields)}}))

        asyncio.run(main())
        """
    )
    assert result == {"status": 200, "fields": ["/email", "/firstName"]}


# ------------------------------------------------------------------ concurrent confirmations


async def test_two_confirmations_of_one_field_at_once_both_succeed(
    client: httpx.AsyncClient,
    auditor: dict[str, str],
    publish: Publisher,
    agencies: list[str],
) -> None:
    """Each confirmation used to delete then insert the field's mapping: the second of two
    at once hit the primary key (a 500). Both now succeed; one mapping row per field, kept
    by one of them."""
    tag = uuid.uuid4().hex[:6]
    dob = {"type": "string", "format": "date", "title": "Date of birth"}
    # a field mapped by its version keeps the cluster e-person.birthDate whatever is confirmed
    # (a confirmation of a c- cluster moves its fields, and the next one finds no cluster)
    mapped = {**dob, "x-element": "person.birthDate"}
    await publish(
        slug=f"aud-race-{tag}",
        agency=agencies[0],
        schema={"type": "object", "properties": {"dob": mapped}},
    )
    slugs = [f"aud-race{i}-{tag}" for i in range(2)]
    for slug in slugs:
        schema = {"type": "object", "properties": {"dateOfBirth": dob, "lastName": S}}
        await publish(slug=slug, agency=agencies[0], schema=schema)
    doc = (await client.get(URL, params={"form": slugs[0]}, headers=auditor)).json()
    cluster = next(
        c
        for c in doc["clusters"]
        if any(f["form"] == slugs[0] and f["pointer"] == "/dateOfBirth" for f in c["fields"])
    )
    assert cluster["id"] == "e-person.birthDate"
    mine = [{"form": s, "pointer": "/dateOfBirth"} for s in slugs]
    responses = await asyncio.gather(
        *(
            client.post(
                f"/api/v1/audit/clusters/{cluster['id']}/confirm",
                json={"element": "person.birthDate", "fields": mine},
                headers=auditor,
            )
            for _ in range(4)
        )
    )
    assert [r.status_code for r in responses] == [201] * 4, [r.text for r in responses]
    ids = {r.json()["id"] for r in responses}
    for slug in slugs:
        mapped = (await client.get("/api/v1/audit/mappings", params={"form": slug})).json()
        assert mapped["items"] == [
            {"form": slug, "pointer": "/dateOfBirth", "element": "person.birthDate"}
        ]
    # undoing every confirmation leaves nothing mapped
    for decision in ids:
        resp = await client.delete(f"/api/v1/audit/decisions/{decision}", headers=auditor)
        assert resp.status_code == 204
    for slug in slugs:
        mapped = (await client.get("/api/v1/audit/mappings", params={"form": slug})).json()
        assert mapped["items"] == []


async def test_a_later_confirmation_wins_on_sqlite(tmp_path: Path) -> None:
    """The upsert on SQLite (``make run``): the second confirmation of a field replaces the
    first one's mapping, and undoing the first leaves the second's."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}"
    upgrade(SERVICE_DIR, url)
    database = Database(url)
    try:
        async with database.sessions() as session:
            for element in ("person.birthDate", "person.deathDate"):
                session.add(
                    DataElement(
                        id=element,
                        schema={"type": "string", "format": "date"},
                        label_en=element,
                        label_es=element,
                        sensitivity="personal",
                    )
                )
            decisions = []
            for element in ("person.birthDate", "person.deathDate"):
                decision = await repository.add_decision(
                    session,
                    AuditDecision(
                        kind="confirm",
                        cluster_id="c",
                        element_id=element,
                        fields=[["f", "/d"]],
                        decided_by="t",
                    ),
                )
                keys = [("f", "/d"), ("f", "/d"), ("g", "/d")]
                await repository.map_fields(session, decision, element, keys)
                decisions.append(decision)
            await repository.delete_decision(session, decisions[0])
            rows = (await session.scalars(select(AuditFieldMapping))).all()
            assert sorted((r.form_slug, r.pointer, r.element_id) for r in rows) == [
                ("f", "/d", "person.deathDate"),
                ("g", "/d", "person.deathDate"),
            ]
    finally:
        await database.dispose()


# ------------------------------------------------------------------ filters

RECORDS = [
    record("a", "DSS", "dob", type="string"),
    record("a", "DSS", "ssn", type="string"),
    record("a", "DSS", "householdSize", type="integer"),
    record("a", "DSS", "rentAmount", type="number"),
    record("b", "DOL", "birthDate", type="string"),
    record("b", "DOL", "social_security_number", type="string"),
    record("c", "DMV", "dateOfBirth", type="string"),
]
FORMS = {
    "a": FormFacts("a", "DSS", "A", 30, 1200, 1),
    "b": FormFacts("b", "DOL", "B", 10, 600, 1),
    "c": FormFacts("c", "DMV", "C", 6, 100, 1),
}


def shaped(
    agency: str | None = None, form: str | None = None, pairs_limit: int = 50
) -> dict[str, Any]:
    catalog = Catalog((), cluster_fields(RECORDS), FORMS)
    return _shape_report(catalog, agency, form, 1, pairs_limit, Assumptions())


def pairs(doc: dict[str, Any]) -> dict[tuple[str, str], tuple[int, float]]:
    return {(p["a"], p["b"]): (p["shared"], p["jaccard"]) for p in doc["form_pairs"]}


def test_a_filter_does_not_change_a_pairs_jaccard() -> None:
    """a asks 4 facts, c one (date of birth, which a asks too): 1 / 4 whatever the filter.
    Measured on c's clusters alone, a seemed to ask 1 fact (1 / 1)."""
    whole = pairs(shaped())
    assert whole[("a", "c")] == (1, 0.25)
    for filtered in (shaped(form="c"), shaped(agency="DMV")):
        assert pairs(filtered) == {("a", "c"): (1, 0.25), ("b", "c"): (1, 0.5)}


def test_pairs_are_limited_after_the_filter() -> None:
    """The catalog's best pair (a, b) is not c's: it must not take c's only slot."""
    assert list(pairs(shaped(pairs_limit=1))) == [("a", "b")]
    assert list(pairs(shaped(form="c", pairs_limit=1))) == [("b", "c")]


def test_a_filter_does_not_change_a_clusters_burden() -> None:
    """A form's answer time per field counts all its fields, not those in the selection."""
    whole = {c["id"]: c for c in shaped()["clusters"]}
    for c in shaped(form="c")["clusters"]:
        assert c["prefill_hours_saved"] == whole[c["id"]]["prefill_hours_saved"]
        assert c["statements_per_year"] == whole[c["id"]]["statements_per_year"]


def test_totals_are_about_the_selection() -> None:
    assert shaped()["totals"] == {"forms": 3, "agencies": 3, "fields": 7, "clusters": 4}
    doc = shaped(agency="DSS")
    assert doc["totals"] == {"forms": 1, "agencies": 1, "fields": 4, "clusters": 4}
    assert [f["form"] for f in doc["burden"]["forms"]] == ["a"]
    assert doc["burden"]["total_burden_hours"] == 600
    assert doc["burden"]["prefill_hours_saved"] == doc["burden"]["forms"][0]["prefill_hours_saved"]
    assert shaped(form="c")["totals"] == {"forms": 1, "agencies": 1, "fields": 1, "clusters": 1}
    # both filters: the form only when it is the agency's
    empty = shaped(agency="DOL", form="a")
    assert empty["totals"] == {"forms": 0, "agencies": 0, "fields": 0, "clusters": 0}
    assert (empty["clusters"], empty["form_pairs"], empty["burden"]["forms"]) == ([], [], [])


async def test_the_endpoint_measures_pairs_on_the_whole_catalog(
    client: httpx.AsyncClient, auditor: dict[str, str], publish: Publisher, agencies: list[str]
) -> None:
    """The reviewer's demo: x asks 2 facts, b 5, they share 1: 1 / 6 with or without
    ``?form=x`` / ``?agency=``."""
    tag = uuid.uuid4().hex[:6]
    x, b = f"aud-jx-{tag}", f"aud-jb-{tag}"

    def obj(*names: str) -> dict[str, Any]:
        kinds = {"dateOfBirth": {"type": "string", "format": "date"}}
        return {"type": "object", "properties": {n: kinds.get(n, S) for n in names}}

    await publish(slug=x, agency=agencies[0], schema=obj("firstName", "lastName"))
    await publish(
        slug=b,
        agency=agencies[1],
        schema=obj("firstName", "dateOfBirth", "email", "phoneNumber", "ssn"),
    )

    async def pair(**params: Any) -> list[tuple[int, float]]:
        resp = await client.get(URL, params=params, headers=auditor)
        assert resp.status_code == 200, resp.text
        return [
            (p["shared"], p["jaccard"])
            for p in resp.json()["form_pairs"]
            if {p["a"], p["b"]} == {x, b}
        ]

    whole = await pair(pairs_limit=10000)
    assert len(whole) == 1
    assert whole == await pair(form=x) == await pair(agency=agencies[0])


# ------------------------------------------------------------------ NUL


async def test_nul_in_a_parameter_is_a_422_not_a_500(
    client: httpx.AsyncClient, auditor: dict[str, str]
) -> None:
    nul = "a\x00b"
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", URL, {"params": {"agency": nul}}),
        ("GET", URL, {"params": {"form": nul}}),
        ("GET", "/api/v1/audit/mappings", {"params": {"form": nul}}),
        ("POST", "/api/v1/audit/clusters/c%00x/confirm", {"json": {"element": "person.ssn"}}),
        ("POST", "/api/v1/audit/clusters/c-person.ssn/confirm", {"json": {"element": nul}}),
        (
            "POST",
            "/api/v1/audit/clusters/c-person.ssn/confirm",
            {"json": {"element": "person.ssn", "note": nul}},
        ),
        (
            "POST",
            "/api/v1/audit/clusters/c-person.ssn/split",
            {"json": {"fields": [{"form": "f", "pointer": "/a"}], "label": nul}},
        ),
        (
            "POST",
            "/api/v1/audit/clusters/c-person.ssn/reject",
            {"json": {"fields": [{"form": nul, "pointer": "/a"}]}},
        ),
        (
            "POST",
            "/api/v1/audit/clusters/c-person.ssn/reject",
            {"json": {"fields": [{"form": "f", "pointer": "/a\x00"}]}},
        ),
    ]
    for method, url, kw in cases:
        resp = await client.request(method, url, headers=auditor, **kw)
        assert resp.status_code == 422, (url, kw, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
