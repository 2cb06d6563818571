"""The demo catalog seeds a believable state catalog, and seeding twice changes nothing."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tellonce_registry.config import Settings
from tellonce_registry.elements.compat import ValueKind, compatible
from tellonce_registry.main import create_app
from tellonce_registry.seeding import seed
from tellonce_shared.testing import TokenFactory, asgi_client, migrated_database, static_verifier

SERVICE_DIR = Path(__file__).resolve().parents[2]


TOKENS = TokenFactory()


@pytest.fixture(scope="module")
async def seeded() -> AsyncIterator[tuple[httpx.AsyncClient, list[list[str]]]]:
    with migrated_database("registry_test_seed", SERVICE_DIR) as url:
        settings = Settings(database_url=url)
        app = create_app(settings, verifier=static_verifier(TOKENS))
        first = await seed(app.state.database, settings)
        second = await seed(app.state.database, settings)
        assert first.failed == second.failed == 0, first.lines
        async with asgi_client(app) as client:
            yield client, [first.lines, second.lines]
        await app.state.database.dispose()


async def test_seed_is_idempotent(seeded: tuple[httpx.AsyncClient, list[list[str]]]) -> None:
    _, (first, second) = seeded
    assert "agencies: 9 added" in first
    assert "agencies: 0 added" in second
    assert "data elements: 0 added" in second
    assert "data element option labels: 0 added" in first, "added with the elements"
    assert "data element option labels: 0 added" in second
    assert not [
        line
        for line in second
        if line.endswith(": published") or ("added" in line and "0 added" not in line)
    ]


async def test_seeded_catalog_is_believable(
    seeded: tuple[httpx.AsyncClient, list[list[str]]],
) -> None:
    client, _ = seeded
    agencies = (await client.get("/api/v1/agencies")).json()["items"]
    assert len(agencies) >= 8
    elements = (await client.get("/api/v1/elements", params={"limit": 500})).json()["items"]
    assert len(elements) >= 40
    assert all(e["label"]["en"] and e["label"]["es"] for e in elements)
    labelled = [e for e in elements if e["options"]]
    assert len(labelled) == 12
    assert all(set(e["options"]) == set(e["schema"]["enum"]) for e in labelled)
    assert {e["sensitivity"] for e in elements} == {"public", "personal", "restricted"}
    forms = (await client.get("/api/v1/forms", params={"limit": 500})).json()["items"]
    state = [f for f in forms if f["agency"] != "DVA" or not f["slug"].startswith("va-")]
    va = [f for f in forms if f["slug"].startswith("va-")]
    assert len(state) >= 12
    assert len(va) == 24
    assert all(f["agency"] == "DVA" for f in va)
    assert all(f["latest_version"] == 1 and f["burden_hours"] for f in forms)
    assert {p for f in forms for p in f["priorities"]} == {
        "jobs-economy",
        "child-family",
        "transportation",
        "community-vitality",
    }
    snap_form = (await client.get("/api/v1/forms/dss-snap-application")).json()
    assert snap_form["i18n"]["es"]["title"] == "Solicitud de beneficios de alimentos SNAP"
    snap = (await client.get("/api/v1/forms/dss-snap-application/versions/latest")).json()
    assert snap["ui"]["locales"] == ["en", "es"]
    assert snap["ui"]["fields"]["/dateOfBirth"]["label"]["es"] == "Fecha de nacimiento"
    fields = (await client.get("/api/v1/forms/dss-snap-application/versions/1/fields")).json()
    rows = {r["pointer"]: r for r in fields["items"]}
    assert rows["/householdMembers/*/dateOfBirth"]["element"] == "person.birthDate"
    assert rows["/ssn"]["sensitivity"] == "restricted"
    # the same facts are asked by several agencies' forms
    owners_asking_dob = set()
    for form in state:
        rows_of = (await client.get(f"/api/v1/forms/{form['slug']}/versions/1/fields")).json()[
            "items"
        ]
        if any(r["format"] == "date" and "birth" in (r["title"] or "").lower() for r in rows_of):
            owners_asking_dob.add(form["agency"])
    assert len(owners_asking_dob) >= 6
    agreements = (
        await client.get("/api/v1/agreements", params={"form": "dol-unemployment-claim"})
    ).json()
    receivers = {a["agency"]: a["pointers"] for a in agreements["items"]}
    assert receivers["DMV"] == ["/mailingAddress"]
    assert receivers["DVA"][0] == "/isVeteran"
    assert agreements["owner"]["agency"] == "DOL"


def _choices(schema: dict[str, Any]) -> dict[str, list[Any]]:
    """Every question of a demo schema that lists its values, by the UI document's pointer."""
    return {
        pointer: sub["enum"]
        for pointer, sub in _questions(schema).items()
        if isinstance(sub.get("enum"), list)
    }


async def test_every_choice_of_the_state_forms_is_labelled_in_both_languages(
    seeded: tuple[httpx.AsyncClient, list[list[str]]],
) -> None:
    """A resident picks "Natural gas" / "Gas natural", never ``natural_gas``: the demo
    forms carry their elements' option labels (and their own choices') in the UI document."""
    client, _ = seeded
    forms = (await client.get("/api/v1/forms", params={"limit": 500})).json()["items"]
    checked = 0
    for form in (f for f in forms if not f["slug"].startswith("va-")):
        version = (await client.get(f"/api/v1/forms/{form['slug']}/versions/latest")).json()
        for pointer, values in _choices(version["schema"]).items():
            options = version["ui"]["fields"][pointer].get("options") or {}
            for value in values:
                assert options.get(value, {}).keys() >= {"en", "es"}, (form["slug"], pointer)
                checked += 1
    assert checked >= 30


async def test_every_seeded_mapping_fits_its_element(
    seeded: tuple[httpx.AsyncClient, list[list[str]]],
) -> None:
    """The demo's own mappings follow the rule an audit confirmation is held to
    (``elements.compat``), so the demo never prefills a value of the wrong kind."""
    client, _ = seeded
    elements = (await client.get("/api/v1/elements", params={"limit": 500})).json()["items"]
    kinds = {e["id"]: ValueKind.of_schema(e["schema"]) for e in elements}
    forms = (await client.get("/api/v1/forms", params={"limit": 500})).json()["items"]
    checked, misfits = 0, []
    for form in forms:
        url = f"/api/v1/forms/{form['slug']}/versions/latest/fields"
        for row in (await client.get(url)).json()["items"]:
            if row["element"] is None:
                continue
            checked += 1
            kind = ValueKind(row["type"], row["format"])
            if not compatible(kind, kinds[row["element"]]):
                misfits.append((form["slug"], row["pointer"], str(kind), row["element"]))
    assert checked > 100
    assert misfits == []


async def test_every_ssn_file_and_bank_number_of_the_demo_is_restricted(
    seeded: tuple[httpx.AsyncClient, list[list[str]]],
) -> None:
    """The VA corpus maps nothing, on purpose (the redundancy audit has something to find),
    yet every field of the demo holding an SSN, a VA file number or bank numbers is
    restricted, mapped or not (``sensitivity_source: "inferred"``), so it is sealed and
    masked. The state demo forms map theirs; the DVA form keeps only a date of birth
    unmapped for the audit."""
    client, _ = seeded
    forms = (await client.get("/api/v1/forms", params={"limit": 500})).json()["items"]
    sensitive = re.compile(
        r"(ssn|socialSecurityNumber|ssnOrTin|vaFileNumber|accountNumber|routingNumber)$", re.I
    )
    inferred, missed = [], []
    for form in forms:
        url = f"/api/v1/forms/{form['slug']}/versions/latest/fields"
        for row in (await client.get(url)).json()["items"]:
            if row["sensitivity_source"] == "inferred":
                assert row["element"] is None
                assert row["sensitivity"] == "restricted"
                inferred.append((form["slug"], row["pointer"]))
            if (
                sensitive.search(row["pointer"])
                and row["type"] == "string"
                and "utility" not in row["pointer"].lower()
                and row["sensitivity"] != "restricted"
            ):
                missed.append((form["slug"], row["pointer"]))
    assert missed == []
    assert len(inferred) == 71
    assert all(slug.startswith("va-") for slug, _ in inferred)
    rows = {
        r["pointer"]: r
        for r in (
            await client.get("/api/v1/forms/dva-veterans-benefits-application/versions/1/fields")
        ).json()["items"]
    }
    ssn = rows["/veteranSocialSecurityNumber"]
    assert (ssn["element"], ssn["sensitivity_source"]) == ("person.ssn", "element")
    assert rows["/veteranDateOfBirth"]["element_source"] != "version"  # left for the audit


@pytest.mark.parametrize(
    ("cluster", "element"),
    [("e-person.birthDate", "person.birthDate"), ("e-person.email", "person.email")],
)
async def test_the_demos_most_asked_facts_can_be_confirmed_whole(
    seeded: tuple[httpx.AsyncClient, list[list[str]]], cluster: str, element: str
) -> None:
    """On the demo catalog, OPM confirms the date-of-birth and email clusters as they stand,
    VA fields written with a date or email pattern included (``elements.compat``)."""
    client, _ = seeded
    auditor = TOKENS.headers(role="auditor", email="auditor@demo.gov")
    doc = (await client.get("/api/v1/audit/redundancy", headers=auditor)).json()
    found = [c for c in doc["clusters"] if c["id"] == cluster]
    assert found, [c["id"] for c in doc["clusters"]][:40]
    assert len({f["form"] for f in found[0]["fields"]}) >= 5
    resp = await client.post(
        f"/api/v1/audit/clusters/{cluster}/confirm", json={"element": element}, headers=auditor
    )
    assert resp.status_code == 201, resp.text


_DIGITS_ONLY = re.compile(r"^\^(?:(?:\[0-9\]|\\d)(?:\{\d+(?:,\d*)?\}|[+*])?)+\$$")


def _questions(schema: dict[str, Any], pointer: str = "") -> dict[str, dict[str, Any]]:
    """Every property of a demo schema, by the UI document's pointer."""
    found: dict[str, dict[str, Any]] = {}
    for name, sub in (schema.get("properties") or {}).items():
        found[f"{pointer}/{name}"] = sub
        found.update(_questions(sub, f"{pointer}/{name}"))
    if isinstance(schema.get("items"), dict):
        found.update(_questions(schema["items"], f"{pointer}/*"))
    return found


async def test_every_number_of_digits_has_a_hint_and_every_list_names_its_items(
    seeded: tuple[httpx.AsyncClient, list[list[str]]],
) -> None:
    """A resident told "Nine digits, no dashes." / "Nueve dígitos, sin guiones." before typing
    an SSN, not after (review finding 3): every question of the state's demo forms that takes
    only digits has a hint in both languages (an element's description, or the spec's own),
    and each list of objects says what it adds ("Add another person"; finding 4)."""
    client, _ = seeded
    forms = (await client.get("/api/v1/forms", params={"limit": 500})).json()["items"]
    digits = lists = 0
    for form in (f for f in forms if not f["slug"].startswith("va-")):
        version = (await client.get(f"/api/v1/forms/{form['slug']}/versions/latest")).json()
        ui_fields = version["ui"]["fields"]
        for pointer, sub in _questions(version["schema"]).items():
            where = (form["slug"], pointer)
            if _DIGITS_ONLY.match(str(sub.get("pattern", ""))):
                digits += 1
                hint = ui_fields[pointer].get("help") or {}
                assert hint.keys() >= {"en", "es"}, where
                assert hint["en"] != hint["es"], where
                assert sub.get("description") == hint["en"], where
            if sub.get("type") == "array" and (sub.get("items") or {}).get("type") == "object":
                lists += 1
                named = ui_fields[pointer].get("item_label") or {}
                assert named.keys() >= {"en", "es"}, where
                assert sub["items"]["title"].lower() == named["en"].lower(), where
    assert digits >= 20
    assert lists == 5
    snap = (await client.get("/api/v1/forms/dss-snap-application/versions/latest")).json()
    assert snap["ui"]["fields"]["/ssn"]["help"] == {
        "en": "Nine digits, no dashes.",
        "es": "Nueve dígitos, sin guiones.",
    }
    assert snap["ui"]["fields"]["/phone"]["help"]["es"] == "Diez dígitos, sin puntuación."
    assert snap["ui"]["fields"]["/householdMembers"]["item_label"] == {
        "en": "person",
        "es": "persona",
    }
