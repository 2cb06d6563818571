"""The one rule for which fields may hold a data element (``elements.compat``), and the places
that use it besides a redundancy-audit confirmation (``tests/audit/test_api.py``): a version's
declared mappings (a warning) and the elements suggested for unmapped fields."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import httpx
import pytest

from tellonce_registry.elements.compat import ValueKind, compatible, mismatch, search
from tellonce_registry.schema_import.flatten import flatten
from tellonce_registry.schema_import.suggest import ElementProfile, suggest

DATE = {"type": "string", "format": "date"}
VA_DATE = "^(\\d{4}|XXXX)-(0[1-9]|1[0-2]|XX)-(0[1-9]|[12][0-9]|3[01]|XX)$"
"""How the VA's forms write a date (a full one, or one with unknown parts)."""
US_DATE = {"type": "string", "pattern": "^\\d{2}/\\d{2}/\\d{4}$"}
VA_EMAIL = (
    "^[_A-Za-z0-9-\\+]+(\\.[_A-Za-z0-9-]+)*@[A-Za-z0-9-]+(\\.[A-Za-z0-9]+)*(\\.[A-Za-z]{2,})$"
)


@pytest.mark.parametrize(
    ("field", "element", "fits"),
    [
        ({"type": "string", "format": "date"}, DATE, True),
        ({"type": ["string", "null"], "format": "date"}, DATE, True),
        ({"type": "string"}, DATE, True),  # free text holds a date (not the other way)
        (
            {"type": ["string", "null"], "maxLength": 70},
            {"type": "string", "format": "email"},
            True,
        ),
        # a pattern accepting every sample date holds a date (the VA writes dates so)
        ({"type": "string", "pattern": "^\\d{4}-\\d{2}-\\d{2}$"}, DATE, True),
        ({"type": "string", "pattern": VA_DATE}, DATE, True),
        ({"type": "string", "pattern": "^\\d{3}-\\d{2}-\\d{4}$"}, DATE, False),  # an SSN
        ({"type": "string", "pattern": "^\\d{2}/\\d{2}/\\d{4}$"}, DATE, False),  # MM/DD/YYYY
        ({"type": "string", "pattern": "^XXXX-XX-XX$"}, DATE, False),
        ({"type": "string", "pattern": "^(19|20)\\d{2}"}, DATE, True),  # a search, not a match
        ({"type": "string", "pattern": "^[0-9]{4}-0[1-6]-"}, DATE, False),  # not December
        ({"type": "string", "pattern": "(unclosed"}, DATE, False),
        ({"type": "string", "format": "date-time", "pattern": VA_DATE}, DATE, False),
        ({"type": "string", "pattern": VA_EMAIL}, {"type": "string", "format": "email"}, True),
        ({"type": "string", "pattern": VA_DATE}, {"type": "string", "format": "email"}, False),
        ({"type": "string", "pattern": VA_DATE}, {"type": "string", "format": "uuid"}, False),
        ({"type": "string", "format": "date-time"}, DATE, False),
        ({"type": "boolean"}, DATE, False),
        ({"type": "string", "format": "date"}, {"type": "string"}, False),
        ({"type": "string", "format": "email"}, {"type": "string", "maxLength": 100}, False),
        ({"type": "string", "maxLength": 30}, {"type": "string", "maxLength": 100}, True),
        (
            {"type": "string", "pattern": "^[0-9-]+$"},
            {"type": "string", "pattern": "^[0-9]+$"},
            True,
        ),
        ({"type": "integer"}, {"type": "number", "minimum": 0}, True),
        ({"type": "number"}, {"type": "integer"}, True),
        ({"type": "integer"}, {"type": "string"}, False),
        ({"enum": ["F", "M"]}, {"type": "string", "enum": ["female", "male"]}, True),
        ({"type": "string", "enum": ["a"]}, {"type": "string"}, True),
        ({"enum": [1, 2]}, {"type": "string"}, False),
        ({"type": "object"}, {"type": "string"}, False),
        ({"type": "array", "items": {"type": "string"}}, {"type": "string"}, False),
        ({"title": "anything"}, {"type": "string"}, False),  # no type: holds any value
        ({"title": "anything"}, {"title": "anything"}, True),
    ],
)
def test_a_field_holds_an_element_of_the_same_type_and_format(
    field: dict[str, Any], element: dict[str, Any], fits: bool
) -> None:
    [row] = flatten({"type": "object", "properties": {"f": field}})
    kind = ValueKind(row.type, row.format, row.pattern)
    assert compatible(kind, ValueKind.of_schema(element)) is fits
    reason = mismatch(kind, "x.y", ValueKind.of_schema(element))
    assert (reason is None) is fits


EMAIL = {"type": "string", "format": "email"}
CATASTROPHIC = [
    "^(.|.)*!|^r",  # 7.7 s per check with Python's re (the reviewer's import demo)
    "^(.|.|.)*#",  # 3^27 steps on an email sample with Python's re: never ends
    "^(.|.|.)*(?!x)#",  # a lookahead: the backtracking engine, which gives up
    "^((.|.|.)*)*\\2#",  # a backreference: the same
]
"""Patterns that backtrack exponentially in Python's ``re`` on the element's samples."""


def test_a_pattern_is_a_search_with_the_schema_engine() -> None:
    assert search("^(19|20)\\d{2}", "1980-05-01") is True
    assert search("^\\d{2}/", "1980-05-01") is False
    assert search("(?<!a)b", "cb") is True  # lookarounds still read
    assert search("(unclosed", "x") is None  # the engine refuses it: says nothing
    assert search("\ud800", "x") is None  # not encodable
    assert search("^(.|.)*(?!x)#", "jane.doe@example.gov") is None  # gave up


def run_isolated(code: str) -> Any:
    """Run ``code`` in a fresh interpreter and return the JSON it prints: Python's ``re``
    holds the GIL while it backtracks, so only another process can time it out."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


def test_a_catastrophic_pattern_holds_no_element_and_returns_at_once() -> None:
    """Reviewer's finding: such a pattern on an unmapped string field blocked the event loop
    at import (``suggest``) for seconds, or for ever. It now counts as not accepting the
    element's samples: no suggestion, no compatibility. Without the fix this times out."""
    result = run_isolated(
        f"""
        import json
        from tellonce_registry.elements.compat import ValueKind, compatible
        from tellonce_registry.schema_import.flatten import flatten
        from tellonce_registry.schema_import.suggest import ElementProfile, suggest

        patterns = {CATASTROPHIC!r}
        email = ElementProfile.of("person.email", {EMAIL!r}, "Email", ["email"])
        sections = {{
            f"s{{i}}": {{"type": "object", "properties": {{
                "email": {{"type": "string", "pattern": p}}
            }}}}
            for i, p in enumerate(patterns)
        }}
        sections["free"] = {{"type": "object", "properties": {{"email": {{"type": "string"}}}}}}
        rows = flatten({{"type": "object", "properties": sections}})
        print(json.dumps({{
            "compatible": [
                compatible(ValueKind("string", pattern=p), ValueKind("string", "email"))
                for p in patterns
            ],
            "suggested": [s["pointer"] for s in suggest(rows, [email])],
        }}))
        """
    )
    # the free-text email next to them is still offered the element: the check did run
    assert result == {"compatible": [False] * len(CATASTROPHIC), "suggested": ["/free/email"]}


def test_a_mismatch_names_both_kinds() -> None:
    us_date = ValueKind("string", pattern="^\\d{2}/\\d{2}/\\d{4}$")
    assert mismatch(us_date, "person.birthDate", ValueKind.of_schema(DATE)) == (
        "The field is string with pattern ^\\d{2}/\\d{2}/\\d{4}$; the element person.birthDate"
        " is string with format date."
    )
    assert mismatch(ValueKind("boolean"), "person.birthDate", ValueKind.of_schema(DATE)) == (
        "The field is boolean; the element person.birthDate is string with format date."
    )
    assert str(ValueKind(None)) == "untyped"


def test_suggestions_are_only_elements_the_field_can_hold() -> None:
    """``dateOfBirth`` written ``MM/DD/YYYY`` is not offered the date element (its values
    would not fit); as a date, or as free text, it is."""
    dob = ElementProfile.of("person.birthDate", DATE, "Date of birth", ["dateOfBirth"])
    rows = flatten(
        {
            "type": "object",
            "properties": {
                "applicant": {"type": "object", "properties": {"dateOfBirth": DATE}},
                "spouse": {"type": "object", "properties": {"dateOfBirth": US_DATE}},
                "child": {"type": "object", "properties": {"dateOfBirth": {"type": "string"}}},
            },
        }
    )
    found = {s["pointer"]: s["element"] for s in suggest(rows, [dob])}
    assert found == {
        "/applicant/dateOfBirth": "person.birthDate",
        "/child/dateOfBirth": "person.birthDate",
    }


async def test_a_declared_mapping_the_field_cannot_hold_is_a_warning(
    client: httpx.AsyncClient, catalog: Any
) -> None:
    """The same rule on ``x-element``: a ``MM/DD/YYYY`` field mapped to a date element is
    imported (a version's own mapping is the agency's decision) with a warning at that
    ``x-element``; free text mapped to it is not warned about (every date fits it)."""
    slug = await catalog.make_form()
    schema = {
        "type": "object",
        "properties": {
            "dob": {**US_DATE, "x-element": "person.birthDate"},
            "born": {"type": "string", "format": "date", "x-element": "person.birthDate"},
            "text": {"type": "string", "x-element": "person.birthDate"},
            "size": {"type": "number", "x-element": "household.size"},
        },
    }
    created = await catalog.add_version(slug, schema)
    assert [w for w in created["warnings"] if "x-element" in w["pointer"]] == [
        {
            "pointer": "/schema/properties/dob/x-element",
            "message": "The field is string with pattern ^\\d{2}/\\d{2}/\\d{4}$; the element"
            " person.birthDate is string with format date.",
        }
    ]
