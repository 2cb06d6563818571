"""Ranking, form pairs and burden arithmetic, on hand-made clusters."""

from __future__ import annotations

import pytest

from tellonce_registry.audit.clustering import cluster_fields
from tellonce_registry.audit.fields import FieldRecord
from tellonce_registry.audit.report import (
    Assumptions,
    FormFacts,
    build_report,
    burden_hours,
    form_pairs,
)


def field(form: str, agency: str, name: str, **kw: object) -> FieldRecord:
    return FieldRecord(form=form, agency=agency, version=1, pointer=f"/{name}", name=name, **kw)  # type: ignore[arg-type]


# form a: 4 fields, 30 min, 1200/yr; form b: 2 fields, 10 min, 600/yr; form c: 1 field, no figures
RECORDS = [
    field("a", "DSS", "dob", type="string"),
    field("a", "DSS", "ssn", type="string"),
    field("a", "DSS", "householdSize", type="integer"),
    field("a", "DSS", "rentAmount", type="number"),
    field("b", "DOL", "birthDate", type="string"),
    field("b", "DOL", "social_security_number", type="string"),
    field("c", "DMV", "dateOfBirth", type="string"),
]
FORMS = {
    "a": FormFacts("a", "DSS", "A", 30, 1200, 1),
    "b": FormFacts("b", "DOL", "B", 10, 600, 1),
    "c": FormFacts("c", "DMV", "C", None, None, 1),
}


def test_burden_hours_is_minutes_times_volume_over_sixty() -> None:
    assert burden_hours(30, 1200) == 600
    assert burden_hours(None, 1200) is None
    assert burden_hours(30, None) is None


def test_burden_and_prefill_savings_by_hand() -> None:
    report = build_report(
        cluster_fields(RECORDS), FORMS, assumptions=Assumptions(0.5, 0.2), min_forms=1
    )
    burden = report["burden"]
    assert burden["total_burden_hours"] == 600 + 100
    assert burden["forms_without_figures"] == ["c"]
    rows = {r["form"]: r for r in burden["forms"]}
    assert rows["a"]["burden_hours"] == 600
    assert rows["a"]["fields"] == 4
    # a's answer time is 30/4 = 7.5 min a field, b's 10/2 = 5; two of a's facts and both of b's
    # are asked elsewhere; saved = volume x 0.5 x minutes a field x 0.8 / 60
    a_saved = 2 * 1200 * 0.5 * 7.5 * 0.8 / 60
    b_saved = 2 * 600 * 0.5 * 5 * 0.8 / 60
    assert rows["a"]["prefill_hours_saved"] == pytest.approx(a_saved, abs=0.05)
    assert rows["b"]["prefill_hours_saved"] == pytest.approx(b_saved, abs=0.05)
    assert burden["prefill_hours_saved"] == pytest.approx(a_saved + b_saved, abs=0.1)
    assert burden["prefill_share_saved"] == pytest.approx((a_saved + b_saved) / 700, abs=1e-3)
    clusters = {c["suggested_element"]: c for c in report["clusters"]}
    birth = clusters["person.birthDate"]
    assert (birth["forms"], birth["agencies"]) == (3, 3)
    assert birth["statements_per_year"] == 1200 + 600  # c states it too, but its volume is unknown
    assert birth["prefill_hours_saved"] == pytest.approx(
        (1200 * 0.5 * 7.5 * 0.8 + 600 * 0.5 * 5 * 0.8) / 60, abs=0.05
    )
    # a fact only one form asks saves nothing
    assert next(c for c in report["clusters"] if c["forms"] == 1)["prefill_hours_saved"] == 0
    assert "50%" in burden["assumptions"]["text"]


def test_ranking_and_min_forms() -> None:
    report = build_report(cluster_fields(RECORDS), FORMS)
    assert [c["suggested_element"] for c in report["clusters"]] == [
        "person.birthDate",
        "person.ssn",
    ]
    assert report["totals"] == {"forms": 3, "agencies": 3, "fields": 7, "clusters": 2}


def test_form_pairs_share_and_jaccard() -> None:
    pairs = {(p["a"], p["b"]): p for p in form_pairs(cluster_fields(RECORDS))}
    # a asks 4 facts, b 2, both of b's are in a: jaccard 2 / 4
    assert pairs[("a", "b")] == {"a": "a", "b": "b", "shared": 2, "jaccard": 0.5}
    assert pairs[("a", "c")]["shared"] == 1
    assert pairs[("a", "c")]["jaccard"] == 0.25
    assert pairs[("b", "c")]["jaccard"] == 0.5
    assert next(iter(pairs)) in (("a", "b"), ("b", "c"))
    assert len(form_pairs(cluster_fields(RECORDS), limit=1)) == 1
