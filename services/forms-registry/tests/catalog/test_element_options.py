"""Option labels of an enum element (``options``): posted with the element and checked against
its schema's ``enum``, returned by ``GET`` (an empty object when none), seeded in English and
Spanish for every choice of the dictionary, and given to a demo database seeded before
elements had them (the 0005 migration, then the seed), without changing anything else."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from tellonce_registry.config import Settings
from tellonce_registry.elements.schemas import MAX_OPTIONS, ElementCreate
from tellonce_registry.elements.service import (
    check_element_options,
    check_element_schema,
    check_element_text,
    option_key,
)
from tellonce_registry.main import create_app
from tellonce_registry.seeding import SEED, Report, seed_reference
from tellonce_shared.migrations import alembic_config, sync_url, upgrade
from tellonce_shared.testing import TokenFactory, asgi_client, empty_database, static_verifier

SERVICE_DIR = Path(__file__).resolve().parents[2]
PROBLEM = "application/problem+json"
FUEL = {
    "oil": {"en": "Heating oil", "es": "Aceite de calefacción"},
    "natural_gas": {"en": "Natural gas", "es": "Gas natural"},
}


def seed_items() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads((SEED / "elements.json").read_text("utf-8"))
    return items


def element(**extra: Any) -> dict[str, Any]:
    return {
        "id": f"test.options{uuid.uuid4().hex[:8]}",
        "schema": {"type": "string", "enum": ["oil", "natural_gas", "wood"]},
        "label": {"en": "Fuel", "es": "Combustible"},
        "sensitivity": "public",
        **extra,
    }


def problem(resp: httpx.Response) -> list[str]:
    """The pointers of a 422 problem+json."""
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    return [e["pointer"] for e in resp.json()["errors"]]


async def test_options_are_kept_and_returned(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = element(options=FUEL)
    created = await client.post("/api/v1/elements", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["options"] == FUEL
    one = (await client.get(f"/api/v1/elements/{body['id']}")).json()
    assert one["options"] == FUEL, "wood has no label: it is simply not there"
    listed = await client.get("/api/v1/elements", params={"prefix": body["id"]})
    assert [e["options"] for e in listed.json()["items"]] == [FUEL]


async def test_an_element_without_options_returns_an_empty_object(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """A client written before options existed posts as it did; every element says
    ``options``, ``{}`` when it has none (an empty object posted is none too)."""
    plain = element()
    assert (await client.post("/api/v1/elements", json=plain, headers=admin)).status_code == 201
    empty = element(options={})
    assert (await client.post("/api/v1/elements", json=empty, headers=admin)).status_code == 201
    for body in (plain, empty):
        assert (await client.get(f"/api/v1/elements/{body['id']}")).json()["options"] == {}
    dob = (await client.get("/api/v1/elements/person.birthDate")).json()
    assert dob["options"] == {}


@pytest.mark.parametrize(
    ("options", "schema", "pointer"),
    [
        ({"coal": {"en": "Coal", "es": "Carbón"}}, None, "/options/coal"),
        ({"a/b~c": {"en": "A", "es": "A"}}, None, "/options/a~1b~0c"),
        ({"oil": {"en": "Oil", "es": "Aceite"}}, {"type": "string"}, "/options"),
        ({"oil": {"en": "Oil", "es": "Aceite"}}, {"type": "string", "enum": []}, "/options"),
        ({"oil": {"en": "", "es": "Aceite"}}, None, "/options/oil/en"),
        ({"oil": {"en": "x" * 201, "es": "Aceite"}}, None, "/options/oil/en"),
        ({"oil": {"en": "Oil"}}, None, "/options/oil/es"),
        ({"oil": {"en": "Oil", "es": "Aceite", "fr": "Fioul"}}, None, "/options/oil/fr"),
        ({"oil": {"en": "Oil", "es": "Ace\x00ite"}}, None, "/options/oil/es"),
        ({"oil": "Oil"}, None, "/options/oil"),
        ([{"en": "Oil", "es": "Aceite"}], None, "/options"),
        ({"1": {"en": "One", "es": "Uno"}}, {"enum": [1.5, True, None]}, "/options/1"),
    ],
)
async def test_options_are_refused_with_a_pointer(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    options: Any,
    schema: dict[str, Any] | None,
    pointer: str,
) -> None:
    body = element(options=options)
    if schema is not None:
        body["schema"] = schema
    resp = await client.post("/api/v1/elements", json=body, headers=admin)
    assert pointer in problem(resp)
    assert (await client.get(f"/api/v1/elements/{body['id']}")).status_code == 404


@pytest.mark.parametrize(
    "options",
    [
        {"\ud800": {"en": "A", "es": "A"}},
        {"\ud800": {"en": "A\x00", "es": "A"}},
        {"oil": {"en": "Oil", "es": "Aceite"}, "x\udfff": {"en": "X", "es": "X"}},
    ],
)
async def test_an_option_key_with_a_lone_surrogate_is_a_422(
    client: httpx.AsyncClient, admin: dict[str, str], options: dict[str, Any]
) -> None:
    """A key no enum value can be, and no pointer in the answer can name (UTF-8 has no lone
    surrogate): a 422 at ``/options``, not a 500 writing the problem."""
    body = element(options=options)
    resp = await client.post(
        "/api/v1/elements",
        content=json.dumps(body).encode(),  # "\ud800" escaped, as a client sends it
        headers={**admin, "content-type": "application/json"},
    )
    assert problem(resp) == ["/options"]
    assert (await client.get(f"/api/v1/elements/{body['id']}")).status_code == 404


async def test_the_count_of_options_is_bounded(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    values = [f"v{i}" for i in range(MAX_OPTIONS + 1)]
    labels = {v: {"en": v, "es": v} for v in values}
    body = element(schema={"type": "string", "enum": values}, options=labels)
    assert "/options" in problem(await client.post("/api/v1/elements", json=body, headers=admin))
    labels.pop(values[-1])
    ok = await client.post("/api/v1/elements", json=body | {"options": labels}, headers=admin)
    assert ok.status_code == 201, ok.text


async def test_values_other_than_strings_are_keyed_by_their_json_text(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    labels = {
        "1": {"en": "One", "es": "Uno"},
        "2.5": {"en": "Two and a half", "es": "Dos y medio"},
        "true": {"en": "Yes", "es": "Sí"},
        "null": {"en": "Not known", "es": "No se sabe"},
    }
    body = element(schema={"enum": [1, 2.5, True, None, [1]]}, options=labels)
    created = await client.post("/api/v1/elements", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["options"] == labels
    assert [option_key(v) for v in ["1", 1, 2.5, True, False, None, [1], {"a": 1}]] == [
        "1",
        "1",
        "2.5",
        "true",
        "false",
        "null",
        None,
        None,
    ]


def test_every_choice_of_the_seed_is_labelled_in_english_and_spanish() -> None:
    """The 12 enum elements of the dictionary label every value, in both languages, and pass
    the API's own checks; no other element has options."""
    enums = 0
    for item in seed_items():
        enum = item["schema"].get("enum")
        if enum is None:
            assert "options" not in item, item["id"]
            continue
        enums += 1
        options = item.get("options") or {}
        assert list(options) == [option_key(v) for v in enum], item["id"]
        for key, label in options.items():
            assert set(label) == {"en", "es"}, (item["id"], key)
            assert all(label.values()), (item["id"], key)
        data = ElementCreate.model_validate(item)
        check_element_text(data)
        check_element_schema(data.schema_)
        check_element_options(data.schema_, data.options)
    assert enums == 12
    fuel = next(i for i in seed_items() if i["id"] == "household.heatingFuel")
    assert fuel["options"]["natural_gas"] == {"en": "Natural gas", "es": "Gas natural"}


async def test_the_seed_seeds_options(client: httpx.AsyncClient) -> None:
    status = (await client.get("/api/v1/elements/tax.filingStatus")).json()
    assert status["options"]["married_joint"]["en"] == "Married filing jointly"
    assert status["options"]["married_joint"]["es"].startswith("Casado(a)")


def _insert(url: str, rows: list[dict[str, Any]]) -> None:
    """Elements as a database at revision 0004 held them (no ``options`` column)."""
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        for row in rows:
            conn.execute(
                text(
                    "INSERT INTO data_elements (id, schema, label_en, label_es, sensitivity,"
                    " description, aliases, created_at) VALUES (:id, :schema, :en, :es,"
                    " :sensitivity, NULL, :aliases, :at)"
                ),
                {
                    "id": row["id"],
                    "schema": json.dumps(row["schema"]),
                    "en": row["label"]["en"],
                    "es": row["label"]["es"],
                    "sensitivity": row["sensitivity"],
                    "aliases": json.dumps(row.get("aliases", [])),
                    "at": datetime(2026, 1, 1, tzinfo=UTC),
                },
            )
    engine.dispose()


def _set_options(url: str, element_id: str, options: dict[str, Any]) -> None:
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE data_elements SET options = :o WHERE id = :id"),
            {"o": json.dumps(options), "id": element_id},
        )
    engine.dispose()


async def test_an_upgraded_demo_database_gets_the_seeds_options_and_nothing_else() -> None:
    """A catalog seeded at revision 0004: after ``alembic upgrade head`` its elements have no
    options; the seed then gives each enum element without options the seed's (only those of
    values its own enum has), changes nothing else of it, and leaves labels an admin set."""
    items = {i["id"]: i for i in seed_items()}
    sex = items["person.sex"] | {"label": {"en": "Sex (as set)", "es": "Sexo (como quedó)"}}
    fuel = items["household.heatingFuel"] | {"schema": {"type": "string", "enum": ["oil", "coal"]}}
    rows = [sex, fuel, items["tax.filingStatus"], items["person.birthDate"]]
    with empty_database("registry_test_options") as url:
        upgrade(SERVICE_DIR, url, "0004_referral_rules")
        _insert(url, rows)
        upgrade(SERVICE_DIR, url)
        engine = create_engine(sync_url(url))
        with engine.connect() as conn:
            assert "options" in {c["name"] for c in inspect(conn).get_columns("data_elements")}
            kept = conn.execute(text("SELECT count(*) FROM data_elements WHERE options IS NULL"))
            assert kept.scalar_one() == 4, "the upgrade keeps every element, with no options"
        engine.dispose()
        own = {"single": {"en": "Single (own)", "es": "Soltero (propio)"}}
        _set_options(url, "tax.filingStatus", own)

        tokens = TokenFactory()
        app = create_app(Settings(database_url=url), verifier=static_verifier(tokens))
        try:
            first, second = Report(), Report()
            await seed_reference(app.state.database, first)
            await seed_reference(app.state.database, second)
            assert f"data elements: {len(items) - len(rows)} added" in first.lines
            assert "data element option labels: 2 added" in first.lines
            assert "data elements: 0 added" in second.lines
            assert "data element option labels: 0 added" in second.lines
            async with asgi_client(app) as client:
                got = (await client.get("/api/v1/elements/person.sex")).json()
                assert got["options"] == items["person.sex"]["options"]
                assert got["label"] == sex["label"], "nothing else is changed"
                assert got["schema"] == sex["schema"]
                assert got["aliases"] == sex["aliases"]
                got = (await client.get("/api/v1/elements/household.heatingFuel")).json()
                assert got["options"] == {"oil": items["household.heatingFuel"]["options"]["oil"]}
                assert got["schema"] == fuel["schema"]
                got = (await client.get("/api/v1/elements/tax.filingStatus")).json()
                assert got["options"] == own, "labels already there are never overwritten"
                got = (await client.get("/api/v1/elements/person.birthDate")).json()
                assert got["options"] == {}
                added = (await client.get("/api/v1/elements/bank.accountType")).json()
                assert added["options"] == items["bank.accountType"]["options"]
        finally:
            await app.state.database.dispose()
        command.downgrade(alembic_config(SERVICE_DIR, url), "0004_referral_rules")
        engine = create_engine(sync_url(url))
        with engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("data_elements")}
            count = conn.execute(text("SELECT count(*) FROM data_elements")).scalar_one()
        engine.dispose()
        assert "options" not in columns, "the downgrade drops the column, and only it"
        assert count == len(items)
