"""Clustering fields that collect the same fact, on the 24 real VA schemas and on forms written
with other naming habits."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import tellonce_registry
from tellonce_registry.audit.clustering import Cluster, Decision, cluster_fields
from tellonce_registry.audit.fields import FieldRecord, flatten_schema
from tellonce_registry.audit.repository import PublishedVersion
from tellonce_registry.audit.service import records_of
from tellonce_registry.schema_import.flatten import flatten

CONCEPTS = [
    "ssn",
    "birth_date",
    "email",
    "phone",
    "first_name",
    "middle_name",
    "last_name",
    "postal_code",
    "bank_routing",
    "bank_account",
    "file_number",
]


@pytest.fixture(scope="module")
def va_clusters(va_records: tuple[FieldRecord, ...]) -> list[Cluster]:
    return cluster_fields(list(va_records))


def where(clusters: list[Cluster]) -> dict[tuple[str, str], Cluster]:
    return {m.record.key: c for c in clusters for m in c.members}


def recall_purity(clusters: list[Cluster], keys: list[tuple[str, str]]) -> tuple[float, float]:
    """Recall: share of the concept's fields in its largest cluster; purity: share of that
    cluster that is the concept."""
    index = where(clusters)
    counts = Counter(index[k].id for k in keys)
    best, n = counts.most_common(1)[0]
    cluster = next(c for c in clusters if c.id == best)
    wanted = set(keys)
    inside = sum(1 for m in cluster.members if m.record.key in wanted)
    return n / len(keys), inside / len(cluster.members)


def test_labelled_set_covers_every_concept_and_exists_in_the_corpus(
    va_records: tuple[FieldRecord, ...], labels: dict[str, list[tuple[str, str]]]
) -> None:
    known = {r.key for r in va_records}
    data = labels
    assert sorted(data) == sorted(CONCEPTS)
    for concept, keys in data.items():
        assert len(keys) >= 9, concept
        missing = [k for k in keys if k not in known]
        assert not missing, (concept, missing)


@pytest.mark.parametrize("concept", CONCEPTS)
def test_labelled_recall_and_purity(
    va_clusters: list[Cluster], labels: dict[str, list[tuple[str, str]]], concept: str
) -> None:
    recall, purity = recall_purity(va_clusters, labels[concept])
    assert recall >= 0.9, f"{concept}: recall {recall:.3f}"
    assert purity >= 0.95, f"{concept}: purity {purity:.3f}"


@pytest.mark.parametrize(
    ("form", "pointer", "not_with"),
    [
        ("10-10EZ", "/attachments/*/name", "person.fullName"),
        ("21P-527EZ", "/bankAccount/bankName", "person.fullName"),
        ("22-10203", "/scoEmailSent", "person.email"),
        ("10-10EZ", "/mothersMaidenName", "person.familyName"),
        ("21-22", "/veteran/address/zip_code_suffix", "address.postalCode"),
        ("MDOT", "/ssnLastFour", "person.ssn"),
        ("5655", "/personalIdentification/sSN", "person.ssn"),
        ("10-10EZ", "/cityOfBirth", "address.city"),
        ("10-10EZ", "/lastDischargeDate", "person.birthDate"),
        ("5655", "/income/*/deductions/socialSecurity", "person.ssn"),
        ("10-10EZ", "/medicareClaimNumber", "case.fileNumber"),
    ],
)
def test_unrelated_fields_stay_out(
    va_clusters: list[Cluster], form: str, pointer: str, not_with: str
) -> None:
    cluster = where(va_clusters)[(form, pointer)]
    assert cluster.suggested_element != not_with
    assert cluster.element != not_with


def test_clusters_say_whose_fact_and_why(va_clusters: list[Cluster]) -> None:
    ssn = next(c for c in va_clusters if c.suggested_element == "person.ssn")
    whose = {m.record.pointer: m.whose for m in ssn.members if m.record.form == "10-10EZ"}
    assert whose == {
        "/veteranSocialSecurityNumber": "veteran",
        "/spouseSocialSecurityNumber": "spouse",
        "/dependents/*/socialSecurityNumber": "dependent",
    }
    assert ssn.label == "Social security number"
    assert 0.8 <= ssn.confidence <= 1
    member = next(m for m in ssn.members if m.record.pointer == "/veteranSocialSecurityNumber")
    assert any("accepts '123456789'" in e for e in member.evidence)


LINE_NAMES = {
    2: {"street2", "addressLine2", "line2", "address2"},
    3: {"street3", "addressLine3", "address3"},
}


def test_second_and_third_address_lines_are_not_the_street(va_clusters: list[Cluster]) -> None:
    """Review: the VA's ``street2``/``street3``/``addressLine2``... read as the street (the
    number was dropped as a qualifier), so confirming the street cluster mapped them all."""
    suggested = {}
    for cluster in va_clusters:
        for m in cluster.members:
            suggested[m.record.form, m.record.pointer] = cluster.suggested_element
    for number, element in ((2, "address.street2"), (3, "address.street3")):
        keys = [k for k in suggested if k[1].rsplit("/", 1)[-1] in LINE_NAMES[number]]
        assert len(keys) >= 5, number
        assert {suggested[k] for k in keys} == {element}, number
    street = next(c for c in va_clusters if c.suggested_element == "address.street")
    names = {m.record.name for m in street.members}
    assert not names & (LINE_NAMES[2] | LINE_NAMES[3])
    assert {"street", "addressLine1"} <= names


def test_a_bare_address_container_is_whose_its_parent_says(va_clusters: list[Cluster]) -> None:
    """``/educationProgram/address/street`` is the school's street, not the filer's: the
    ``address`` container says nothing of whose, so the ancestor above it does; a role still
    decides, and an address with only kinds above it (``mailingAddress``) is the filer's."""
    index = {m.record.key: m.whose for c in va_clusters for m in c.members}
    assert index["22-1990", "/educationProgram/address/street"] == "education program"
    assert index["22-1995", "/newSchool/address/street"] == "new school"
    assert index["21-22", "/claimant/address/addressLine1"] == "claimant"
    assert index["22-0994", "/mailingAddress/street"] == "filer"
    assert index["5655", "/personalData/address/street"] == "filer"


def test_clusters_are_ranked_by_forms_then_agencies(va_clusters: list[Cluster]) -> None:
    ranks = [(len(c.forms), len(c.agencies)) for c in va_clusters]
    assert ranks == sorted(ranks, reverse=True)
    assert len(va_clusters[0].forms) >= 15


def _form(slug: str, agency: str, properties: dict[str, Any]) -> list[FieldRecord]:
    schema = {"type": "object", "properties": properties}
    return flatten_schema(schema, form=slug, agency=agency, version=1)


S = {"type": "string"}


def unseen_catalog() -> list[FieldRecord]:
    """Three agencies that never heard of each other's naming."""
    return [
        *_form(
            "snap-application",
            "DSS",
            {
                "applicant": {
                    "type": "object",
                    "properties": {
                        "first_nm": S,
                        "surname": S,
                        "soc_sec_no": {"type": "string", "pattern": "^\\d{3}-\\d{2}-\\d{4}$"},
                        "birth_dt": {"type": "string", "format": "date"},
                        "e_mail": S,
                        "tel_no": S,
                    },
                },
                "residence": {
                    "type": "object",
                    "properties": {"street1": S, "town": S, "zip": S},
                },
                "employer_name": S,
                "case_worker_name": S,
            },
        ),
        *_form(
            "ui-claim",
            "DOL",
            {
                "claimantSSN": {"type": "string", "pattern": "^[0-9]{9}$"},
                "claimantDOB": S,
                "givenName": S,
                "familyName": S,
                "contact": {"type": "string", "format": "email"},
                "mobile": S,
                "mailingAddress": {
                    "type": "object",
                    "properties": {"addressLine1": S, "city": S, "postcode": S},
                },
                "directDeposit": {
                    "type": "object",
                    "properties": {
                        "abaNumber": S,
                        "acctNo": S,
                        "acctType": {"type": "string", "enum": ["checking", "savings"]},
                    },
                },
                "lastEmployerName": S,
            },
        ),
        *_form(
            "dmv-renewal",
            "DMV",
            {
                "Owner": {
                    "type": "object",
                    "properties": {
                        "FirstName": S,
                        "LastName": S,
                        "DateOfBirth": S,
                        "SSN": S,
                        "EmailAddr": S,
                        "PhoneNumber": S,
                        "ZipCode": S,
                    },
                },
                "PlateNumber": S,
                "OdometerReading": {"type": "integer"},
            },
        ),
    ]


@pytest.mark.parametrize(
    ("element", "expected"),
    [
        (
            "person.ssn",
            {"/applicant/soc_sec_no", "/claimantSSN", "/Owner/SSN"},
        ),
        ("person.birthDate", {"/applicant/birth_dt", "/claimantDOB", "/Owner/DateOfBirth"}),
        ("person.givenName", {"/applicant/first_nm", "/givenName", "/Owner/FirstName"}),
        ("person.familyName", {"/applicant/surname", "/familyName", "/Owner/LastName"}),
        ("person.email", {"/applicant/e_mail", "/contact", "/Owner/EmailAddr"}),
        ("person.phone", {"/applicant/tel_no", "/mobile", "/Owner/PhoneNumber"}),
        ("address.postalCode", {"/residence/zip", "/mailingAddress/postcode", "/Owner/ZipCode"}),
        ("address.city", {"/residence/town", "/mailingAddress/city"}),
        ("bank.routingNumber", {"/directDeposit/abaNumber"}),
        ("bank.accountNumber", {"/directDeposit/acctNo"}),
    ],
)
def test_forms_written_other_ways_cluster_by_fact(element: str, expected: set[str]) -> None:
    clusters = cluster_fields(unseen_catalog())
    found = next(c for c in clusters if c.suggested_element == element)
    assert {m.record.pointer for m in found.members} == expected


def test_names_of_organisations_are_not_person_names() -> None:
    clusters = cluster_fields(unseen_catalog())
    index = where(clusters)
    for key in [("snap-application", "/employer_name"), ("ui-claim", "/lastEmployerName")]:
        assert index[key].suggested_element not in ("person.fullName", "person.familyName")


def test_a_mapped_field_joins_its_element_and_brings_its_look_alikes() -> None:
    records = [
        *_form("a", "DSS", {"dob": {"type": "string", "x-element": "person.birthDate"}}),
        *_form("b", "DOL", {"birthDate": {"type": "string", "x-element": "person.birthDate"}}),
        *_form("c", "DMV", {"dateOfBirth": S}),
        # mapped, although nothing in its name says so: the mapping wins
        *_form("d", "DMV", {"q17": {"type": "string", "x-element": "person.birthDate"}}),
    ]
    clusters = cluster_fields(records, element_labels={"person.birthDate": "Date of birth"})
    element = next(c for c in clusters if c.element == "person.birthDate")
    assert element.id == "e-person.birthDate"
    assert element.label == "Date of birth"
    assert {m.record.form for m in element.members} == {"a", "b", "c", "d"}
    by_form = {m.record.form: m for m in element.members}
    assert by_form["a"].confidence == 1.0
    assert any("found with fields mapped to person.birthDate" in e for e in by_form["c"].evidence)
    assert len(clusters) == 1


def test_the_same_fact_of_different_people_is_one_cluster() -> None:
    records = _form(
        "x",
        "DSS",
        {
            "veteran": {"type": "object", "properties": {"dateOfBirth": S}},
            "applicant": {"type": "object", "properties": {"dateOfBirth": S}},
        },
    )
    (cluster,) = cluster_fields(records)
    assert sorted(m.whose for m in cluster.members) == ["applicant", "veteran"]


def test_reviewers_decisions_are_applied(va_records: tuple[FieldRecord, ...]) -> None:
    records = list(va_records)
    before = cluster_fields(records)
    email = next(c for c in before if c.suggested_element == "person.email")
    school = ("22-10203", "/schoolEmailAddress")
    guardian = ("22-1990", "/minorQuestions/guardianEmail")
    phone = next(c for c in before if c.suggested_element == "person.phone")
    intl = ("21P-527EZ", "/internationalPhone")
    decisions = [
        Decision(id=1, kind="split", cluster=email.id, fields=(school,), label="School email"),
        Decision(id=2, kind="reject", cluster=email.id, fields=(guardian,)),
        Decision(id=3, kind="confirm", cluster=phone.id, fields=(intl,), element="person.phone"),
    ]
    after = cluster_fields(records, decisions=decisions)
    index = where(after)
    assert index[school].id == "s-1"
    assert index[school].label == "School email"
    assert index[guardian].kind == "rejected"
    assert index[("10-10EZ", "/email")].id == email.id
    # one confirmed field maps the element; its look-alikes follow it into the element cluster
    assert index[intl].id == "e-person.phone"
    assert index[("22-1990", "/homePhone")].id == "e-person.phone"


def seed_dictionary() -> dict[str, Any]:
    """The element dictionary ``make run`` seeds (labels, aliases, value types)."""
    path = Path(tellonce_registry.__file__).parent / "seed_data" / "elements.json"
    items = json.loads(path.read_text())
    return {
        "element_labels": {e["id"]: e["label"]["en"] for e in items},
        "element_aliases": {e["id"]: e.get("aliases", []) for e in items},
        "element_types": {e["id"]: e["schema"].get("type") for e in items},
    }


@pytest.mark.parametrize("concept", CONCEPTS)
def test_labelled_recall_and_purity_with_the_element_dictionary(
    va_records: tuple[FieldRecord, ...], labels: dict[str, list[tuple[str, str]]], concept: str
) -> None:
    clusters = cluster_fields(list(va_records), **seed_dictionary())
    recall, purity = recall_purity(clusters, labels[concept])
    assert recall >= 0.9, f"{concept}: recall {recall:.3f}"
    assert purity >= 0.95, f"{concept}: purity {purity:.3f}"


def test_dictionary_aliases_name_facts_the_concept_table_does_not_know() -> None:
    records = [
        *_form("dmv-a", "DMV", {"vehicle": {"type": "object", "properties": {"plate": S}}}),
        *_form("dmv-b", "DMV", {"licensePlate": S, "vehicleMake": S}),
        *_form("dss-c", "DSS", {"autos": {"type": "object", "properties": {"plateNumber": S}}}),
        # a divorce's reason is not why a job ended, whatever the dictionary's aliases say
        *_form(
            "dss-d",
            "DSS",
            {"marriages": {"type": "object", "properties": {"reasonForSeparation": S}}},
        ),
    ]
    clusters = cluster_fields(records, **seed_dictionary())
    index = where(clusters)
    plate = index[("dmv-a", "/vehicle/plate")]
    assert plate.suggested_element == "vehicle.plateNumber"
    assert plate.label == "License plate number"
    assert {m.record.form for m in plate.members} == {"dmv-a", "dmv-b", "dss-c"}
    assert any("alias" in e for e in plate.members[0].evidence)
    separation = index[("dss-d", "/marriages/reasonForSeparation")]
    assert separation.suggested_element != "employment.separationReason"


def test_labelled_set_as_the_endpoint_reads_it(
    labels: dict[str, list[tuple[str, str]]],
) -> None:
    """Through the registry's own flattened rows joined with the audit's evidence (what
    ``GET /api/v1/audit/redundancy`` clusters), recall and purity hold too."""
    records: list[FieldRecord] = []
    for i, path in enumerate(
        sorted((Path(__file__).parents[1] / "data" / "va-forms").glob("*-schema.json"))
    ):
        schema = json.loads(path.read_text())
        slug = path.name.removesuffix("-schema.json")
        version = PublishedVersion(i, 1, schema, slug, "VA", slug, 20, 1000)
        records.extend(records_of(version, flatten(schema, max_fields=5000)))
    clusters = cluster_fields(records, **seed_dictionary())
    known = {r.key for r in records}
    for concept, keys in labels.items():
        assert all(k in known for k in keys), concept
        recall, purity = recall_purity(clusters, keys)
        assert recall >= 0.9, f"{concept}: recall {recall:.3f}"
        assert purity >= 0.95, f"{concept}: purity {purity:.3f}"


def test_meaningless_names_are_read_by_their_titles() -> None:
    records = [
        *_form(
            "paper-form",
            "DOH",
            {
                "q1": {"type": "string", "title": "Social Security Number"},
                "q2": {"type": "string", "title": "Date of Birth"},
                "q3": {"type": "string", "title": "Telephone number"},
                "q4": {"type": "string", "title": "Number of children"},
            },
        ),
        *_form("web-form", "DOH", {"ssn": S, "dob": S, "phone": S}),
    ]
    index = where(cluster_fields(records))
    for q, element in (("/q1", "person.ssn"), ("/q2", "person.birthDate"), ("/q3", "person.phone")):
        cluster = index[("paper-form", q)]
        assert cluster.suggested_element == element
        assert len(cluster.forms) == 2
    assert index[("paper-form", "/q4")].suggested_element is None


def test_a_field_in_a_lists_items_is_not_the_filers_own() -> None:
    """Acceptance review (2026-11-27): ``/householdMembers/*/dateOfBirth`` was read as the
    filer's (no role word anywhere), labelled "The person applying", and a confirmation of
    the date-of-birth cluster mapped it to ``person.birthDate``. An item of a list is one of
    several people or things: whose it is comes from the list's words; a role word still
    wins, and a field outside any list is still the filer's."""
    from tellonce_registry.audit.clustering import FILER, OWN, read_field

    def whose(pointer: str) -> str:
        name = pointer.rsplit("/", 1)[1]
        record = FieldRecord(form="f", agency="DSS", version=1, pointer=pointer, name=name)
        return read_field(record).whose

    assert whose("/householdMembers/*/dateOfBirth") == "household member"
    assert whose("/householdMembers/*/dateOfBirth") not in OWN
    assert whose("/dependents/*/ssn") not in OWN
    assert whose("/spouse/dateOfBirth") == "spouse"  # a role, as before
    assert whose("/dateOfBirth") == FILER
