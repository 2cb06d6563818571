"""The audit's own walk of a schema (``audit.fields``) stays bounded: a property declared in
``properties`` and again in an ``allOf`` branch at every level of a ``$defs`` chain doubled
the work per level (review: 16 levels 1.5 s, 24 would take minutes)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from tellonce_registry.audit import fields
from tellonce_registry.audit.fields import flatten_schema

CORPUS = Path(__file__).resolve().parents[1] / "data" / "va-forms"


def chain(levels: int, *, twin: bool) -> dict[str, Any]:
    """``p`` nested ``levels`` deep, each level declaring it twice: the same ``$ref`` again
    (``twin``) or an equivalent one written differently."""
    defs: dict[str, Any] = {}
    for i in range(levels):
        nxt: dict[str, Any] = (
            {"$ref": f"#/$defs/l{i + 1}"} if i + 1 < levels else {"type": "string"}
        )
        again = nxt if twin else {"allOf": [nxt]}
        defs[f"l{i}"] = {
            "type": "object",
            "properties": {"p": nxt},
            "allOf": [{"properties": {"p": again}}],
        }
    return {"$defs": defs, "$ref": "#/$defs/l0"}


def steps_taken(schema: dict[str, Any]) -> int:
    budget = [10**9]
    for _ in fields._walk(schema, schema, "", None, (), 0, "f", "A", 1, budget):
        pass
    return 10**9 - budget[0]


def test_the_same_declaration_twice_is_walked_once() -> None:
    schema = chain(24, twin=True)
    assert steps_taken(schema) < 200  # linear: a few steps a level, not 2^24
    [record] = flatten_schema(schema, form="f", agency="A", version=1)
    assert record.pointer == "/p" * 24
    assert record.type == "string"


def test_a_walk_past_its_budget_stops_with_a_warning(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema = chain(24, twin=False)  # equivalent declarations written differently: not deduped
    monkeypatch.setattr(fields, "MAX_STEPS", 500)
    visited = [0]
    walk = fields._walk

    def counted(*args: Any) -> Any:
        visited[0] += 1
        yield from walk(*args)

    monkeypatch.setattr(fields, "_walk", counted)  # the walk's own calls go through it too
    with caplog.at_level(logging.WARNING, logger="tellonce.registry.audit"):
        records = flatten_schema(schema, form="f", agency="A", version=1)
    assert "audit walk stopped" in caplog.text
    assert visited[0] < 600  # stopped at the budget (each open level returns once more)
    assert [r.pointer for r in records] == ["/p" * 24]  # what was read is kept


def test_the_vas_forms_are_far_inside_the_budget() -> None:
    schemas = sorted(CORPUS.glob("*-schema.json"))
    if not schemas:
        pytest.skip("no VA schemas in tests/data/va-forms")
    worst = max(steps_taken(json.loads(p.read_text())) for p in schemas)
    assert 0 < worst < fields.MAX_STEPS // 10
