"""The report as CSV, HTML with charts, and PDF."""

from __future__ import annotations

import copy
import csv
import html
import io
from typing import Any

import pytest

from tellonce_registry.audit.clustering import cluster_fields
from tellonce_registry.audit.fields import FieldRecord
from tellonce_registry.audit.render import to_csv, to_html, to_pdf
from tellonce_registry.audit.report import FormFacts, build_report


@pytest.fixture(scope="module")
def report(va_records: tuple[FieldRecord, ...]) -> dict[str, Any]:
    forms = {
        slug: FormFacts(slug, "VA", f"=HYPERLINK({slug})", 20, 1000, 1)
        for slug in {r.form for r in va_records}
    }
    return build_report(cluster_fields(list(va_records)), forms)


def test_csv_has_one_row_per_field_and_the_other_tables(report: dict[str, Any]) -> None:
    rows = list(csv.DictReader(io.StringIO(to_csv(report))))
    assert len(rows) == sum(len(c["fields"]) for c in report["clusters"])
    row = next(r for r in rows if r["pointer"] == "/veteranSocialSecurityNumber")
    assert row["label"] == "Social security number"
    assert row["whose"] == "veteran"
    pairs = list(csv.DictReader(io.StringIO(to_csv(report, "pairs"))))
    assert pairs[0]["form_a"] == "22-1990"
    assert pairs[0]["form_b"] == "22-1990EZ"
    clusters = list(csv.DictReader(io.StringIO(to_csv(report, "clusters"))))
    assert int(clusters[0]["forms"]) >= int(clusters[-1]["forms"])
    forms = list(csv.DictReader(io.StringIO(to_csv(report, "forms"))))
    assert float(forms[0]["burden_hours"]) == pytest.approx(20 * 1000 / 60, abs=0.1)


def test_csv_neutralises_spreadsheet_formulas() -> None:
    doc = {
        "clusters": [],
        "form_pairs": [{"a": "=cmd()", "b": "+x", "shared": 1, "jaccard": 0.1}],
        "burden": {"forms": []},
    }
    text = to_csv(doc, "pairs")
    assert "'=cmd()" in text
    assert "'+x" in text


def test_html_has_charts_tables_and_the_assumptions(report: dict[str, Any]) -> None:
    page = to_html(report)
    assert page.count("<svg") == 2
    assert "Social security number" in page
    assert "22-1990EZ" in page
    assert html.unescape(page).count(report["burden"]["assumptions"]["text"]) == 1
    assert "<details>" in page


def test_html_escapes_what_forms_say(report: dict[str, Any]) -> None:
    doc = copy.deepcopy(report)
    doc["clusters"][0]["label"] = "<script>alert(1)</script>"
    page = to_html(doc)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def test_pdf_is_a_pdf_with_the_top_clusters(report: dict[str, Any]) -> None:
    html = to_html(report, for_pdf=True, max_clusters=10)
    assert "more facts are in the JSON and CSV" in html
    assert "<details>" not in html
    pdf = to_pdf(html)
    assert pdf.startswith(b"%PDF")
    assert len(pdf) > 5000
