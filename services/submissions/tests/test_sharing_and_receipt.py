"""Who receives which answers, and what the receipt shows (pure functions)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from tellonce_submissions.answers import parse_pointer
from tellonce_submissions.models import Submission
from tellonce_submissions.receipts.render import receipt_html
from tellonce_submissions.receipts.service import receipt_data
from tellonce_submissions.registry.client import Agreement, FieldInfo, FormVersion
from tellonce_submissions.submissions.service import receivers_for
from tellonce_submissions.validation import CompiledSchema

from .registry_double import CG_ELEMENTS, flatten_fields, load


def cg_version() -> FormVersion:
    schema = load("10-10CG-schema.json")
    rows = flatten_fields(schema, CG_ELEMENTS)
    fields = [
        FieldInfo(r["pointer"], parse_pointer(r["pointer"]), r["name"], r["title"], r["element"])
        for r in rows
    ]
    return FormVersion(
        form="10-10cg",
        version=1,
        status="published",
        owning_agency="DVA",
        form_title="Caregiver assistance application",
        fields=fields,
        compiled=CompiledSchema(schema, [parse_pointer("/veteran/ssnOrTin")]),
    )


def test_receivers_get_only_their_fields() -> None:
    answers: dict[str, Any] = load("10-10CG-example.json")
    agreements = [
        Agreement("DSS", ("person.birthDate",), "p"),
        Agreement("DSS", ("/veteran/address/city",), "p"),  # a second agreement merges
        Agreement("DOL", ("/secondaryCaregiverTwo/fullName",), "p"),  # absent: no delivery
        Agreement("DVA", ("/veteran/ssnOrTin",), "p"),  # the owner already has everything
    ]
    receivers = receivers_for(cg_version(), agreements, answers)
    by_agency = {a: (share, fields) for a, share, fields in receivers}
    assert set(by_agency) == {"DVA", "DSS"}
    assert by_agency["DVA"][0] == answers
    assert by_agency["DSS"] == (
        {
            "veteran": {
                "dateOfBirth": answers["veteran"]["dateOfBirth"],
                "address": {"city": answers["veteran"]["address"]["city"]},
            }
        },
        ["/veteran/address/city", "/veteran/dateOfBirth"],
    )


def test_shares_are_worked_out_once_per_set_of_agreements() -> None:
    version = cg_version()
    dss = [Agreement("DSS", ("person.birthDate",), "p")]
    first = version.shares(dss)
    assert first == {"DSS": [("veteran", "dateOfBirth")]}
    assert version.shares(list(dss)) is first  # equal agreements: the same answer, kept
    more = [*dss, Agreement("DOL", ("/primaryCaregiver/fullName",), "p")]
    assert version.shares(more) == {
        "DSS": [("veteran", "dateOfBirth")],
        "DOL": [("primaryCaregiver", "fullName")],
    }
    assert cg_version().shares(dss) is not first  # per version: a new one starts afresh


def cg_submission(version: FormVersion, answers: dict[str, Any]) -> Submission:
    """A 10-10CG filed on 25 November 2026, shared with DSS by its birth-date agreement."""
    receivers = receivers_for(version, [Agreement("DSS", ("person.birthDate",), "p")], answers)
    return Submission(
        id="00000000-0000-0000-0000-000000000001",
        reference="CT-2026-7K4M-9Q2D",
        form="10-10cg",
        version=1,
        submitted_at=datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
        receivers=[{"agency": a, "fields": f} for a, _, f in receivers],
    )


def test_receipt_masks_restricted_values_and_names_receivers() -> None:
    answers = copy.deepcopy(load("10-10CG-example.json"))
    version = cg_version()
    data = receipt_data(cg_submission(version, answers), answers, version)
    rows = {r["label"]: r for r in data["answers"]}
    ssn = answers["veteran"]["ssnOrTin"]
    ssn_rows = [r for r in data["answers"] if r["value"].endswith(ssn[-4:])]
    assert ssn_rows
    assert all(ssn not in r["value"] for r in data["answers"])
    birth = [r for r in data["answers"] if r["value"] == "3 July 1990"]  # 1990-07-03
    assert birth[0]["agencies"] == "DVA, DSS"
    assert rows  # labels come from the version's field titles
    html = receipt_html(data)
    assert "CT-2026-7K4M-9Q2D" in html
    assert ssn not in html
    assert "<script" not in receipt_html({**data, "form_title": "<script>x</script>"})


def test_receipt_speaks_the_residents_language_and_names_fields_by_title() -> None:
    answers = copy.deepcopy(load("10-10CG-example.json"))
    answers["certified"] = True  # a yes/no answer, worded in the receipt's language
    version = cg_version()
    submission = cg_submission(version, answers)
    english = receipt_data(submission, answers, version)
    spanish = receipt_data(submission, answers, version, "es")
    dss = next(r for r in spanish["receivers"] if r["agency"] == "DSS")
    assert dss["fields"] == version.label(("veteran", "dateOfBirth"))
    assert "/" not in dss["fields"]  # a title, not a JSON pointer
    english_html, spanish_html = receipt_html(english), receipt_html(spanish)
    assert '<html lang="es">' in spanish_html
    assert "Comprobante de envío" in spanish_html
    assert "A quién se envían sus respuestas" in spanish_html
    assert "Submission receipt" not in spanish_html
    assert '<html lang="en">' in english_html
    assert "Submission receipt" in english_html
    assert [r["value"] for r in spanish["answers"] if r["label"] == "certified"] == ["Sí"]
    assert [r["value"] for r in english["answers"] if r["label"] == "certified"] == ["Yes"]
