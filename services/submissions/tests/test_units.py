"""Pure parts: reference numbers and their check character, answer pointers and
projection, sealing, and the fast validator's verdict against the reference jsonschema."""

from __future__ import annotations

import copy
import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tellonce_submissions.answers import (
    AnswersTooLarge,
    check_limits,
    mask,
    parse_pointer,
    project,
    put_back,
    take_out,
)
from tellonce_submissions.crypto import AnswerSealer, KeyRingError
from tellonce_submissions.reference import (
    ALPHABET,
    is_valid_code,
    new_reference,
    normalize_reference,
)
from tellonce_submissions.submissions.schemas import SubmissionCreate
from tellonce_submissions.validation import CompiledSchema

DATA = Path(__file__).parent / "data" / "va-forms"
KEY_A = "a:" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="
KEY_B = "b:" + "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI="


def test_reference_shape_and_alphabet() -> None:
    ref = new_reference("CT", datetime(2026, 5, 1, tzinfo=UTC))
    assert ref.startswith("CT-2026-")
    assert len(ref) == 17
    code = ref[8:].replace("-", "")
    assert all(c in ALPHABET for c in code)
    assert not set("01ILO") & set(ALPHABET)
    assert normalize_reference(ref.lower().replace("-", "")) == ref
    assert normalize_reference(" " + ref.lower() + " ") == ref


def test_every_character_turns_up_in_every_random_position() -> None:
    """Seven characters from one random draw: each position must still range over the whole
    alphabet (missing one in 3,000 draws has odds of about e^-98)."""
    seen: list[set[str]] = [set() for _ in range(7)]
    for _ in range(3000):
        code = new_reference("CT", datetime(2026, 5, 1, tzinfo=UTC))[8:].replace("-", "")
        for position, character in enumerate(code[:7]):
            seen[position].add(character)
    assert all(found == set(ALPHABET) for found in seen)


def test_check_character_catches_every_single_typo_and_neighbour_swap() -> None:
    rng = random.Random(7)
    for _ in range(300):
        ref = new_reference("CT", datetime(2026, 1, 1, tzinfo=UTC))
        code = ref[8:].replace("-", "")
        assert is_valid_code(code)
        for i in range(len(code)):
            for c in ALPHABET:
                if c != code[i]:
                    assert not is_valid_code(code[:i] + c + code[i + 1 :])
        for i in range(len(code) - 1):
            if code[i] != code[i + 1]:
                swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
                assert not is_valid_code(swapped)
        assert rng  # keep the generator referenced for reproducible reruns


def test_not_a_reference() -> None:
    assert normalize_reference("hello") is None
    assert normalize_reference("CT-2026-0000-0000") is None


def test_project_selects_only_named_fields() -> None:
    doc = {
        "a": {"b": 1, "c": 2},
        "kids": [{"name": "x", "age": 3}, {"name": "y", "age": 5}],
        "z": 9,
    }
    share = project(doc, [parse_pointer("/a/b"), parse_pointer("/kids/*/name")])
    assert share == {"a": {"b": 1}, "kids": [{"name": "x"}, {"name": "y"}]}
    assert project(doc, [()]) == doc
    assert project(doc, [parse_pointer("/missing")]) == {}


def test_take_out_and_put_back_round_trip() -> None:
    doc = {"p": {"ssn": "123456789", "n": "A"}, "kids": [{"ssn": "1"}, {"ssn": "2", "k": 1}]}
    public, taken = take_out(doc, [parse_pointer("/p/ssn"), parse_pointer("/kids/*/ssn")])
    assert "123456789" not in json.dumps(public)
    assert taken == {"/p/ssn": "123456789", "/kids/0/ssn": "1", "/kids/1/ssn": "2"}
    assert put_back(public, taken) == doc


def test_limits() -> None:
    check_limits({"a": list(range(100))}, max_values=10_000, max_depth=32)
    with pytest.raises(AnswersTooLarge):
        check_limits({"a": list(range(10_000))}, max_values=10_000, max_depth=32)
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(32):
        node["n"] = {}
        node = node["n"]
    with pytest.raises(AnswersTooLarge):
        check_limits(deep, max_values=10_000, max_depth=32)


def test_mask_keeps_last_four_of_long_free_text_only() -> None:
    assert mask("123456789", free_text=True) == "\u2022" * 4 + "6789"
    assert mask("12", free_text=True) == "\u2022" * 4
    assert mask("123456789", free_text=False) == "\u2022" * 4


def test_sealer_rotation_and_binding() -> None:
    old = AnswerSealer(KEY_A)
    blob, kid = old.seal({"/ssn": "123"}, context="row-1")
    assert kid == "a"
    assert b"123" not in blob
    rotated = AnswerSealer(KEY_B + "," + KEY_A)
    assert rotated.active_key_id == "b"
    assert rotated.open(blob, kid, context="row-1") == {"/ssn": "123"}
    with pytest.raises(KeyRingError, match="does not open"):
        rotated.open(blob, kid, context="row-2")
    with pytest.raises(KeyRingError):
        AnswerSealer(KEY_B).open(blob, kid, context="row-1")
    with pytest.raises(KeyRingError):
        AnswerSealer("x:c2hvcnQ=")


# --- validator parity with the reference jsonschema on the VA corpus ---------------------

SCHEMAS = sorted(DATA.glob("*-schema.json"))


def _reference_valid(schema: dict[str, Any], doc: Any) -> bool:
    cls = jsonschema.validators.validator_for(schema)
    return not any(True for _ in cls(schema).iter_errors(doc))


def _variants(doc: Any, rng: random.Random) -> list[Any]:
    """Invalid-looking variants: each leaf replaced by other types, each key dropped."""
    out: list[Any] = []
    paths: list[tuple[Any, ...]] = []

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        paths.append(path)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, (*path, i))

    walk(doc, ())
    replacement: object
    for path in paths[1:]:
        for replacement in (None, 12345, "zz-not-valid", [], {}, True, -1.5, "", "A" * 300):
            variant = copy.deepcopy(doc)
            node = variant
            for p in path[:-1]:
                node = node[p]
            node[path[-1]] = replacement
            out.append(variant)
        variant = copy.deepcopy(doc)
        node = variant
        for p in path[:-1]:
            node = node[p]
        if isinstance(node, dict):
            del node[path[-1]]
            out.append(variant)
    extra = copy.deepcopy(doc)
    if isinstance(extra, dict):
        extra["unexpectedProperty" + str(rng.randint(0, 9))] = 1
        out.append(extra)
    return out


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name.removesuffix("-schema.json"))
def test_fast_validator_agrees_with_reference(path: Path) -> None:
    schema = json.loads(path.read_text())
    compiled = CompiledSchema(schema, [])
    example_path = path.with_name(path.name.replace("-schema", "-example"))
    rng = random.Random(path.name)
    docs: list[Any] = [{}, [], "text", None, {"a": 1}]
    if example_path.exists():
        example = json.loads(example_path.read_text())
        assert compiled.is_valid(example), compiled.errors(example)
        assert _reference_valid(schema, example)
        docs += _variants(example, rng)
    disagreements = []
    for doc in docs:
        fast, reference = compiled.is_valid(doc), _reference_valid(schema, doc)
        if fast != reference:
            disagreements.append(doc)
        if not fast:
            errors = compiled.errors(doc)
            assert errors
            assert all(e["pointer"].startswith("/answers") for e in errors)
    assert not disagreements, disagreements[:3]


def test_the_fingerprint_input_is_the_requests_json_data() -> None:
    """``document()`` spares a copy of the answers; the idempotency fingerprint of a request
    must not change with it (stored keys outlive a deploy)."""
    answers = json.loads((DATA / "10-10CG-example.json").read_text())
    for draft in (None, "0b7c2a8e-5f61-4c3e-9d2a-3f1e6b8c9d01"):
        body = SubmissionCreate(form="10-10cg", version=3, answers=answers, draft=draft)
        assert body.document() == body.model_dump(mode="json")


def test_an_address_that_fits_no_country_is_reported_on_the_field_of_the_country_chosen() -> None:
    schema = json.loads((DATA / "10-10EZ-schema.json").read_text())
    compiled = CompiledSchema(schema, [])
    address = {"street": "1 Main St", "city": "Hartford", "country": "USA", "state": "ON"}
    mine = [
        e for e in compiled.errors({"veteranAddress": address})
        if e["pointer"].startswith("/answers/veteranAddress")
    ]  # fmt: skip
    assert [e["pointer"] for e in mine] == ["/answers/veteranAddress/state"]
    assert '"ON" is not one of' in mine[0]["message"]
    address["country"] = "CAN"
    address["state"] = "ON"
    assert not [
        e for e in compiled.errors({"veteranAddress": address})
        if e["pointer"].startswith("/answers/veteranAddress")
    ]  # fmt: skip


def test_branches_without_a_pinned_property_keep_the_error_on_the_object() -> None:
    schema = {
        "type": "object",
        "properties": {
            "contact": {
                "type": "object",
                "properties": {"phone": {"type": "string"}, "email": {"type": "string"}},
                "anyOf": [{"required": ["phone"]}, {"required": ["email"]}],
            }
        },
    }
    errors = CompiledSchema(schema, []).errors({"contact": {}})
    assert [e["pointer"] for e in errors] == ["/answers/contact"]


@pytest.mark.parametrize(
    ("address", "branches", "expected"),
    [
        ({"country": "CAN", "state": "CA"}, [{"type": "string"}, "US"], ["/answers/address"]),
        ({"country": "CAN", "state": "CA"}, [False, "US"], ["/answers/address"]),
        ({"country": "USA", "state": "ON"}, [{"$ref": "#/$defs/us"}, "CA"],
         ["/answers/address/state"]),
    ],
)  # fmt: skip
def test_the_branch_chosen_must_pin_what_the_answers_match(
    address: dict[str, str], branches: list[Any], expected: list[str]
) -> None:
    us = {"properties": {"country": {"const": "USA"}, "state": {"enum": ["CT", "NY"]}}}
    ca = {"properties": {"country": {"const": "CAN"}, "state": {"enum": ["ON", "QC"]}}}
    named = {"US": us, "CA": ca}
    schema = {
        "$defs": {"us": us},
        "type": "object",
        "properties": {
            "address": {
                "type": "object",
                "oneOf": [named.get(b, b) if isinstance(b, str) else b for b in branches],
            }
        },
    }
    errors = CompiledSchema(schema, []).errors({"address": address})
    assert [e["pointer"] for e in errors] == expected


def test_a_failure_on_a_property_no_branch_pins_keeps_the_error_on_the_object() -> None:
    schema = {
        "type": "object",
        "properties": {
            "contact": {
                "type": "object",
                "anyOf": [
                    {"properties": {"email": {"not": {"const": ""}}}, "required": ["email"]},
                    {"required": ["phone"]},
                ],
            }
        },
    }
    errors = CompiledSchema(schema, []).errors({"contact": {"email": ""}})
    assert [e["pointer"] for e in errors] == ["/answers/contact"]
