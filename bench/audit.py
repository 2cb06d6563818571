"""Benchmark of the redundancy audit on a generated catalog: 300 forms, 30,000 fields.

    uv run python -m bench.audit            # the engine: prints timings as JSON
    uv run python -m bench.audit --api      # the endpoint on a SQLite copy of the catalog

Forms are generated the way agencies write them: a few dozen common facts (name parts, SSN,
date of birth, address, phone, email, bank details...) under many spellings (camelCase,
snake_case, abbreviations, role prefixes, nested objects), and many questions of their own.
It times the cold path the endpoint takes when the catalog changed (flatten every schema,
cluster, build the report, encode JSON) and the warm path (report from cached clusters).
"""

from __future__ import annotations

import json
import random
import statistics
import time
from pathlib import Path
from typing import Any

import orjson

import tellonce_registry
from tellonce_registry.audit.batch import collector_paused
from tellonce_registry.audit.clustering import cluster_fields
from tellonce_registry.audit.fields import FieldRecord, flatten_schema
from tellonce_registry.audit.report import FormFacts, build_report

FORMS = 300
FIELDS_PER_FORM = 100
AGENCIES = [f"AG{i:02d}" for i in range(20)]

COMMON: list[tuple[list[str], dict[str, Any]]] = [
    (["firstName", "first_name", "fname", "givenName", "FirstName"], {}),
    (["lastName", "last_name", "lname", "surname", "familyName"], {}),
    (["middleName", "middle_initial", "mname"], {}),
    (["dateOfBirth", "dob", "birth_date", "birthDate", "DOB"], {"format": "date"}),
    (["ssn", "socialSecurityNumber", "soc_sec_no", "SSN"], {"pattern": "^[0-9]{9}$"}),
    (["email", "emailAddress", "e_mail", "EmailAddr"], {"format": "email"}),
    (["phone", "phoneNumber", "tel_no", "homePhone", "mobilePhone"], {}),
    (["zip", "zipCode", "postal_code", "postcode"], {"pattern": "^\\d{5}(-\\d{4})?$"}),
    (["city", "town", "cityName"], {}),
    (["state", "stateCode"], {"enum": ["CT", "NY", "MA"]}),
    (["street", "addressLine1", "street1"], {}),
    (["routingNumber", "abaNumber", "bank_routing"], {"pattern": "^\\d{9}$"}),
    (["accountNumber", "acctNo", "bank_account_number"], {}),
    (["maritalStatus", "marital_status"], {"enum": ["married", "single"]}),
    (["gender", "sex"], {"enum": ["F", "M", "X"]}),
    (["householdSize", "household_size", "numberInHousehold"], {"type": "integer"}),
    (["monthlyIncome", "monthly_income", "grossMonthlyIncome"], {"type": "number"}),
    (["employerName", "employer_name", "lastEmployer"], {}),
    (["caseNumber", "case_no", "fileNumber"], {}),
    (["driversLicenseNumber", "dl_number", "licenseNumber"], {}),
]
ROLES = ["", "applicant", "spouse", "child", "veteran", "guardian", "claimant"]
WORDS = [
    "benefit",
    "program",
    "reason",
    "amount",
    "period",
    "prior",
    "school",
    "vehicle",
    "medical",
    "provider",
    "hours",
    "wage",
    "expense",
    "rent",
    "heating",
    "child",
    "care",
    "disability",
    "service",
    "branch",
    "income",
    "asset",
    "insurance",
    "policy",
    "coverage",
    "training",
    "course",
    "grade",
    "license",
    "permit",
    "inspection",
    "violation",
    "hearing",
    "appeal",
    "waiver",
    "property",
    "tax",
    "farm",
    "crop",
    "livestock",
    "fishing",
    "hunting",
    "boat",
    "trailer",
    "business",
    "revenue",
    "payroll",
    "employee",
    "contractor",
    "grant",
    "award",
    "project",
    "budget",
    "match",
    "cost",
    "share",
    "narrative",
    "goal",
    "outcome",
]


def _name(rng: random.Random, variants: list[str], role: str) -> str:
    base = rng.choice(variants)
    if not role:
        return base
    if "_" in base:
        return f"{role}_{base}"
    return role + base[0].upper() + base[1:]


def generate_schema(rng: random.Random) -> dict[str, Any]:
    props: dict[str, Any] = {}
    count = 0
    # common facts, some flat with a role prefix, some nested under a role object
    for _ in range(rng.randint(20, 35)):
        variants, extra = rng.choice(COMMON)
        role = rng.choice(ROLES)
        schema = {"type": "string", **extra}
        if role and rng.random() < 0.5:
            props.setdefault(role, {"type": "object", "properties": {}})
            props[role]["properties"][rng.choice(variants)] = schema
        else:
            props[_name(rng, variants, role)] = schema
    count = sum(len(p["properties"]) if "properties" in p else 1 for p in props.values())
    # the form's own questions
    while count < FIELDS_PER_FORM:
        words = rng.sample(WORDS, rng.randint(2, 4))
        name = words[0] + "".join(w.capitalize() for w in words[1:])
        if name in props:
            continue
        kind = rng.choice(["string", "number", "boolean", "string"])
        props[name] = {"type": kind, "title": " ".join(words).capitalize()}
        count += 1
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": props,
    }


def catalog(seed: int = 7) -> tuple[dict[str, dict[str, Any]], dict[str, FormFacts]]:
    rng = random.Random(seed)
    schemas: dict[str, dict[str, Any]] = {}
    facts: dict[str, FormFacts] = {}
    for i in range(FORMS):
        slug = f"form-{i:03d}"
        agency = AGENCIES[i % len(AGENCIES)]
        schemas[slug] = generate_schema(rng)
        facts[slug] = FormFacts(
            slug, agency, f"Form {i}", rng.randint(5, 90), rng.randint(100, 200_000), 1
        )
    return schemas, facts


def dictionary() -> dict[str, Any]:
    """The element dictionary ``make run`` seeds, as the endpoint passes it."""
    path = Path(tellonce_registry.__file__).parent / "seed_data" / "elements.json"
    items = json.loads(path.read_text())
    return {
        "element_labels": {e["id"]: e["label"]["en"] for e in items},
        "element_aliases": {e["id"]: e.get("aliases", []) for e in items},
        "element_types": {e["id"]: e["schema"].get("type") for e in items},
    }


async def through_the_api(schemas: dict[str, dict[str, Any]], facts: dict[str, FormFacts]) -> None:
    """The endpoint itself on a SQLite database holding the generated catalog: the first call
    after a change (read the catalog, flatten, cluster, report), then the cached calls."""
    import tempfile
    from datetime import UTC, datetime

    from tellonce_registry.audit.fields import flatten_schema as walk
    from tellonce_registry.config import Settings
    from tellonce_registry.main import create_app
    from tellonce_registry.models import Agency, Form, FormField, FormVersion
    from tellonce_registry.seeding import Report, seed_reference
    from tellonce_shared.migrations import upgrade
    from tellonce_shared.testing import TokenFactory, asgi_client, static_verifier

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        upgrade(Path(tellonce_registry.__file__).parents[2], url)
        tokens = TokenFactory()
        app = create_app(Settings(database_url=url), verifier=static_verifier(tokens))
        await seed_reference(app.state.database, Report())
        now = datetime.now(UTC)
        async with app.state.database.sessions() as session:
            for code in AGENCIES:
                session.add(Agency(code=code, name=f"Agency {code}"))
            for i, (slug, schema) in enumerate(schemas.items()):
                f = facts[slug]
                session.add(
                    Form(
                        id=i + 1,
                        slug=slug,
                        agency_code=f.agency,
                        title=f.title,
                        minutes=f.minutes,
                        yearly_volume=f.yearly_volume,
                    )
                )
                session.add(
                    FormVersion(
                        id=i + 1,
                        form_id=i + 1,
                        number=1,
                        status="published",
                        dialect="2020-12",
                        schema=schema,
                        published_at=now,
                    )
                )
                for n, r in enumerate(walk(schema, form=slug, agency=f.agency, version=1)):
                    session.add(
                        FormField(
                            version_id=i + 1,
                            position=n,
                            pointer=r.pointer,
                            name=r.name,
                            title=r.title,
                            type=r.type,
                            format=r.format,
                            enum=list(r.enum) if r.enum else None,
                        )
                    )
            await session.commit()
        headers = tokens.headers(role="auditor")
        async with asgi_client(app) as client:
            for label in ("api_cold", "api_warm", "api_warm"):
                c0, t0 = time.process_time(), time.perf_counter()
                resp = await client.get("/api/v1/audit/redundancy", headers=headers)
                assert resp.status_code == 200, resp.text
                print(
                    json.dumps(
                        {
                            "bench": "audit",
                            "call": label,
                            "wall_s": round(time.perf_counter() - t0, 3),
                            "cpu_s": round(time.process_time() - c0, 3),
                            "bytes": len(resp.content),
                        }
                    )
                )
            # one more form published: the re-run reuses what it read before
            extra = generate_schema(random.Random(99))
            async with app.state.database.sessions() as session:
                n = len(schemas) + 1
                session.add(
                    Form(
                        id=n,
                        slug="form-new",
                        agency_code=AGENCIES[0],
                        title="New",
                        minutes=10,
                        yearly_volume=1000,
                    )
                )
                session.add(
                    FormVersion(
                        id=n,
                        form_id=n,
                        number=1,
                        status="published",
                        dialect="2020-12",
                        schema=extra,
                        published_at=now,
                    )
                )
                for k, r in enumerate(walk(extra, form="form-new", agency=AGENCIES[0], version=1)):
                    session.add(
                        FormField(
                            version_id=n,
                            position=k,
                            pointer=r.pointer,
                            name=r.name,
                            title=r.title,
                            type=r.type,
                            format=r.format,
                        )
                    )
                await session.commit()
            c0, t0 = time.process_time(), time.perf_counter()
            resp = await client.get("/api/v1/audit/redundancy", headers=headers)
            assert resp.status_code == 200, resp.text
            print(
                json.dumps(
                    {
                        "bench": "audit",
                        "call": "api_after_one_new_form",
                        "wall_s": round(time.perf_counter() - t0, 3),
                        "cpu_s": round(time.process_time() - c0, 3),
                        "bytes": len(resp.content),
                    }
                )
            )
        await app.state.database.dispose()


def main() -> None:
    schemas, facts = catalog()
    known = dictionary()
    runs: list[dict[str, float]] = []
    paused = collector_paused()  # as the endpoint runs it
    paused.__enter__()
    for _ in range(5):
        c0 = time.process_time()
        t0 = time.perf_counter()
        records: list[FieldRecord] = []
        for slug, schema in schemas.items():
            records.extend(flatten_schema(schema, form=slug, agency=facts[slug].agency, version=1))
        t1 = time.perf_counter()
        clusters = cluster_fields(records, **known)
        t2 = time.perf_counter()
        report = build_report(clusters, facts)
        t3 = time.perf_counter()
        body = orjson.dumps(report)
        t4 = time.perf_counter()
        c4 = time.process_time()
        runs.append(
            {
                "cold_cpu_s": c4 - c0,
                "flatten_s": t1 - t0,
                "cluster_s": t2 - t1,
                "report_s": t3 - t2,
                "encode_s": t4 - t3,
                "cold_total_s": t4 - t0,
                "warm_total_s": t4 - t2,
            }
        )
    paused.__exit__(None, None, None)
    summary = {key: round(statistics.median(r[key] for r in runs), 3) for key in runs[0]}
    summary["first_cold_total_s"] = round(runs[0]["cold_total_s"], 3)
    summary["first_cold_cpu_s"] = round(runs[0]["cold_cpu_s"], 3)
    print(
        json.dumps(
            {
                "bench": "audit",
                "forms": FORMS,
                "fields": len(records),
                "clusters": len(clusters),
                "report_clusters": len(report["clusters"]),
                "json_bytes": len(body),
                "median_of": len(runs),
                **summary,
            }
        )
    )


if __name__ == "__main__":
    import asyncio
    import sys

    if "--api" in sys.argv:
        asyncio.run(through_the_api(*catalog()))
    else:
        main()
