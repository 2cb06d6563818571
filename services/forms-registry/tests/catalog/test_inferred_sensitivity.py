"""A field with no data element that holds a restricted value (an SSN, a VA file number, bank
numbers) is ``sensitivity: "restricted"`` in the fields document all the same
(``sensitivity_source: "inferred"``), so the submissions service seals and masks it; a mapped
field's sensitivity is its element's (``"element"``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tellonce_registry.schema_import.sensitive import by_name, inferred, suggested_restricted

DATA = Path(__file__).resolve().parents[1] / "data" / "va-forms"


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


async def fields_of(client: httpx.AsyncClient, slug: str, n: int = 1) -> dict[str, Any]:
    resp = await client.get(f"/api/v1/forms/{slug}/versions/{n}/fields")
    assert resp.status_code == 200, resp.text
    return {r["pointer"]: r for r in resp.json()["items"]}


async def test_a_va_forms_unmapped_ssn_is_restricted_in_the_fields_document(
    client: httpx.AsyncClient, catalog: Any, admin: dict[str, str]
) -> None:
    slug = await catalog.make_form(agency="DVA")
    await catalog.add_version(slug, load("21-686C-schema.json"))
    published = await client.post(f"/api/v1/forms/{slug}/versions/1/publish", headers=admin)
    assert published.status_code == 200, published.text
    rows = await fields_of(client, slug)
    for pointer in (
        "/veteranSocialSecurityNumber",
        "/vaFileNumber",
        "/currentMarriage/spouseSocialSecurityNumber",
        "/currentMarriage/spouseVaFileNumber",
        "/dependents/*/childSocialSecurityNumber",
    ):
        row = rows[pointer]
        assert row["element"] is None, pointer
        assert row["sensitivity"] == "restricted", pointer
        assert row["sensitivity_source"] == "inferred", pointer
    # a yes/no about an SSN, why there is none, and what is no identifier are not
    for pointer in (
        "/currentMarriage/spouseHasNoSsn",
        "/dependents/*/childHasNoSsn",
        "/currentMarriage/spouseHasNoSsnReason",
        "/veteranEmail",
        "/veteranAddress/street",
    ):
        assert rows[pointer]["element"] is None, pointer
        assert rows[pointer]["sensitivity"] is None, pointer
        assert rows[pointer]["sensitivity_source"] is None, pointer
    # publishing succeeded, and said so
    warned = {w["pointer"] for w in published.json()["warnings"]}
    assert {p for p, r in rows.items() if r["sensitivity_source"] == "inferred"} <= warned


async def test_a_name_the_suggestions_miss_is_caught_by_the_name_rule(
    client: httpx.AsyncClient, catalog: Any
) -> None:
    """21-4142's ``patientSsn`` gets no suggestion (``ssn`` is too short an alias to match a
    name's end) but its name says what it holds."""
    slug = await catalog.make_form(agency="DVA")
    created = await catalog.add_version(slug, load("21-4142-schema.json"), publish=True)
    assert "/patientIdentification/patientSsn" not in {s["pointer"] for s in created["suggestions"]}
    row = (await fields_of(client, slug))["/patientIdentification/patientSsn"]
    assert (row["sensitivity"], row["sensitivity_source"]) == ("restricted", "inferred")


SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "ssn": {"type": "string", "pattern": "^[0-9]{9}$"},
        "ssnLastFour": {"type": "string", "pattern": "^[0-9]{4}$"},
        "applicantSocialSecurityNumber": {"type": "string", "pattern": "^[0-9]{9}$"},
        "dob": {"type": "string", "format": "date", "x-element": "person.birthDate"},
        "phoneNumber": {"type": "string"},
        "bankAccount": {
            "type": "object",
            "properties": {"accountNumber": {"type": "string"}},
        },
        "utility": {"type": "object", "properties": {"accountNumber": {"type": "string"}}},
    },
}


async def test_publishing_warns_of_inferred_fields_and_a_mapping_wins(
    client: httpx.AsyncClient, catalog: Any, admin: dict[str, str]
) -> None:
    slug = await catalog.make_form()
    created = await catalog.add_version(slug, SCHEMA)
    suggested = {s["pointer"]: s["element"] for s in created["suggestions"]}
    assert suggested["/ssn"] == suggested["/applicantSocialSecurityNumber"] == "person.ssn"
    assert suggested["/utility/accountNumber"] == "bank.accountNumber"
    # the admin maps the SSN and dismisses two suggestions: the applicant's SSN (its name
    # still reads as one) and the utility account number (suggested as bank.accountNumber, a
    # restricted element, but nothing says bank around it)
    resp = await client.post(
        f"/api/v1/forms/{slug}/versions/1/mappings",
        json={
            "mappings": [
                {"pointer": "/ssn", "element": "person.ssn"},
                {"pointer": "/applicantSocialSecurityNumber", "element": None},
                {"pointer": "/utility/accountNumber", "element": None},
            ]
        },
        headers=admin,
    )
    assert resp.status_code == 200, resp.text
    published = await client.post(f"/api/v1/forms/{slug}/versions/1/publish", headers=admin)
    assert published.status_code == 200, published.text
    warned = {w["pointer"] for w in published.json()["warnings"]}
    assert warned == {"/applicantSocialSecurityNumber", "/bankAccount/accountNumber"}
    assert "sealed" in published.json()["warnings"][0]["message"]
    rows = await fields_of(client, slug)
    assert (rows["/ssn"]["sensitivity"], rows["/ssn"]["sensitivity_source"]) == (
        "restricted",
        "element",
    )
    assert (rows["/dob"]["sensitivity"], rows["/dob"]["sensitivity_source"]) == (
        "personal",
        "element",
    )
    assert rows["/applicantSocialSecurityNumber"]["sensitivity_source"] == "inferred"
    assert rows["/bankAccount/accountNumber"]["sensitivity"] == "restricted"
    for pointer in ("/ssnLastFour", "/phoneNumber", "/utility/accountNumber"):
        assert rows[pointer]["sensitivity"] is None, pointer
        assert rows[pointer]["sensitivity_source"] is None, pointer


@pytest.mark.parametrize(
    ("pointer", "type_", "title", "what"),
    [
        ("/veteranSocialSecurityNumber", "string", None, "a Social Security number"),
        ("/personalIdentification/sSN", "string", None, "a Social Security number"),
        ("/veteran/ssnOrTin", "string", None, "a Social Security number"),
        ("/taxpayerId", "string", None, "a taxpayer id"),
        ("/spouseVaFileNumber", "string", None, "a VA file number"),
        ("/personalIdentification/fileNumber", "string", None, "a VA file number"),
        ("/bankRoutingNumber", "string", None, "a bank routing number"),
        ("/bankAccount/routingNumber", "string", None, "a bank routing number"),
        ("/bankAccountNumber", "string", None, "a bank account number"),
        ("/directDeposit/accountNumber", "string", None, "a bank account number"),
        ("/driversLicenseNumber", "string", None, "a driver's license number"),
        ("/driver/licenseNumber", "string", None, "a driver's license number"),
        ("/medicaidId", "string", None, "a Medicaid id"),
        ("/q7", "string", "Social Security number", "a Social Security number"),
        ("/q8", "integer", "Bank account number", "a bank account number"),
        # not identifiers, or not the whole of one
        ("/spouseHasNoSsn", "boolean", None, None),
        ("/ssnLastFour", "string", None, None),
        ("/ssnLast4", "string", None, None),
        ("/q9", "string", "Last 4 digits of your SSN", None),
        ("/q10", "string", "Why does your spouse have no SSN?", None),
        ("/utilityAccountNumber", "string", None, None),
        ("/accountNumber", "string", None, None),
        ("/licenseNumber", "string", None, None),
        ("/nonMilitaryJobs/*/licenseOrRating", "string", None, None),
        ("/medicareClaimNumber", "string", None, None),
        ("/application/veteran/vaClaimNumber", "string", None, "a VA file number"),
        ("/veteran/serviceNumber", "string", None, None),
        ("/phoneNumber", "string", None, None),
        ("/insurancePolicyNumber", "string", None, None),
        ("/socialSecurityDisability", "boolean", None, None),
        ("/income/*/deductions/socialSecurity", "string", None, None),
        ("/businessName", "string", None, None),
        ("/austin", "string", None, None),
    ],
)
def test_the_name_rule(pointer: str, type_: str, title: str | None, what: str | None) -> None:
    name = pointer.rsplit("/", 1)[-1]
    assert by_name(pointer, name, title, type_, None) == what


def test_an_enum_is_never_an_identifier_and_a_sure_suggestion_is_enough() -> None:
    assert by_name("/ssn", "ssn", None, "string", ["yes", "no"]) is None
    sensitivity = {"person.ssn": "restricted", "person.phone": "personal"}
    suggested = suggested_restricted(
        [
            {"pointer": "/idNo", "element": "person.ssn", "score": 95.0},
            {"pointer": "/weak", "element": "person.ssn", "score": 80.0},
            {"pointer": "/tel", "element": "person.phone", "score": 100.0},
        ],
        sensitivity,
    )
    assert suggested == {"/idNo": "person.ssn"}
    assert inferred("/idNo", "idNo", None, "string", None, suggested) == "suggested as person.ssn"
    assert inferred("/weak", "weak", None, "string", None, suggested) is None
