"""Unit tests of the import pipeline: checks, flattening, suggestions, breaking changes."""

from __future__ import annotations

from typing import Any

import pytest

from tellonce_registry.schema_import.check import SchemaRejected, check_schema
from tellonce_registry.schema_import.diff import Shared, compare
from tellonce_registry.schema_import.flatten import FlatField, flatten
from tellonce_registry.schema_import.suggest import ElementProfile, suggest

D2020 = "https://json-schema.org/draft/2020-12/schema"


def rejected(schema: Any, **kw: Any) -> list[dict[str, str]]:
    with pytest.raises(SchemaRejected) as info:
        check_schema(schema, max_bytes=kw.pop("max_bytes", 100_000), **kw)
    return info.value.errors


@pytest.mark.parametrize(
    ("uri", "dialect"),
    [
        ("http://json-schema.org/draft-04/schema#", "draft-04"),
        ("http://json-schema.org/draft-06/schema#", "draft-06"),
        ("http://json-schema.org/draft-07/schema#", "draft-07"),
        ("https://json-schema.org/draft/2019-09/schema", "2019-09"),
        ("https://json-schema.org/draft/2020-12/schema", "2020-12"),
    ],
)
def test_each_dialect_is_recognised(uri: str, dialect: str) -> None:
    checked = check_schema({"$schema": uri, "type": "object"}, max_bytes=10_000)
    assert checked.dialect == dialect
    assert checked.warnings == []


def test_missing_schema_keyword_reads_as_2020_12_with_a_warning() -> None:
    checked = check_schema({"type": "object"}, max_bytes=10_000)
    assert checked.dialect == "2020-12"
    assert checked.warnings[0]["pointer"] == "/schema"


def test_non_object_schema_is_rejected_at_its_root() -> None:
    assert rejected([1, 2]) == [
        {"pointer": "/schema", "message": "A form schema must be a JSON object."}
    ]


def test_oversize_schema_is_rejected() -> None:
    big = {"type": "object", "description": "x" * 5000}
    errors = rejected(big, max_bytes=1000)
    assert errors[0]["pointer"] == "/schema"
    assert "over the limit of 1000" in errors[0]["message"]


def test_unknown_dialect_names_the_schema_keyword() -> None:
    errors = rejected({"$schema": "http://example.com/my-schema", "type": "object"})
    assert errors[0]["pointer"] == "/schema/$schema"


def test_metaschema_violation_names_the_place() -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "object",
        "properties": {"age": {"type": "integr"}},
    }
    errors = rejected(schema)
    assert errors[0]["pointer"] == "/schema/properties/age/type"
    assert "draft-04" in errors[0]["message"]


def test_draft04_rules_apply_to_draft04_schemas() -> None:
    # draft-04 requires a non-empty "required" list; 2020-12 allows an empty one
    schema: dict[str, Any] = {"type": "object", "required": []}
    check_schema({"$schema": D2020, **schema}, max_bytes=10_000)
    errors = rejected({"$schema": "http://json-schema.org/draft-04/schema#", **schema})
    assert errors[0]["pointer"] == "/schema/required"


def test_unresolvable_ref_names_its_pointer() -> None:
    schema = {
        "$schema": D2020,
        "type": "object",
        "$defs": {"name": {"type": "string"}},
        "properties": {
            "first": {"$ref": "#/$defs/name"},
            "home": {"type": "object", "properties": {"zip": {"$ref": "#/$defs/zip"}}},
        },
    }
    errors = rejected(schema)
    assert errors == [
        {
            "pointer": "/schema/properties/home/properties/zip/$ref",
            "message": "Reference '#/$defs/zip' resolves nowhere.",
        }
    ]


def test_remote_ref_is_never_fetched() -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "properties": {"a": {"$ref": "https://example.com/defs.json#/a"}},
    }
    errors = rejected(schema)
    assert errors[0]["pointer"] == "/schema/properties/a/$ref"
    assert "Remote reference" in errors[0]["message"]


def test_relative_file_ref_is_remote_too() -> None:
    errors = rejected({"$schema": D2020, "properties": {"a": {"$ref": "common.json"}}})
    assert errors[0]["pointer"] == "/schema/properties/a/$ref"


def test_local_refs_and_anchors_resolve() -> None:
    schema = {
        "$schema": D2020,
        "type": "object",
        "$defs": {"a b": {"type": "string"}, "zip": {"$anchor": "zip", "type": "string"}},
        "properties": {
            "x": {"$ref": "#/$defs/a%20b"},
            "y": {"$ref": "#zip"},
            "z": {"$ref": "#"},
        },
    }
    assert check_schema(schema, max_bytes=10_000).dialect == "2020-12"


def test_ref_lookalikes_in_data_are_not_references() -> None:
    schema = {
        "$schema": D2020,
        "type": "object",
        "properties": {"$ref": {"type": "string"}, "kind": {"enum": [{"$ref": "#/nowhere"}]}},
    }
    check_schema(schema, max_bytes=10_000)


def test_flatten_follows_refs_nests_objects_and_arrays() -> None:
    schema = {
        "type": "object",
        "definitions": {
            "name": {"type": "string", "title": "Name", "maxLength": 50},
            "person": {
                "type": "object",
                "required": ["first"],
                "properties": {
                    "first": {"$ref": "#/definitions/name", "title": "First name"},
                    "dob": {"type": "string", "format": "date", "x-element": "person.birthDate"},
                },
            },
        },
        "required": ["applicant"],
        "properties": {
            "applicant": {"$ref": "#/definitions/person"},
            "members": {"type": "array", "items": {"$ref": "#/definitions/person"}},
            "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
            "status": {"type": ["string", "null"], "enum": ["x", "y", None]},
        },
    }
    rows = {r.pointer: r for r in flatten(schema)}
    assert list(rows) == [
        "/applicant",
        "/applicant/first",
        "/applicant/dob",
        "/members",
        "/members/*/first",
        "/members/*/dob",
        "/tags",
        "/status",
    ]
    assert rows["/applicant"].required is True
    assert rows["/applicant/first"].title == "First name"  # the sibling of $ref wins
    assert rows["/applicant/first"].required is True
    assert rows["/applicant/dob"].format == "date"
    assert rows["/applicant/dob"].element_id == "person.birthDate"
    assert rows["/members"].type == "array"
    assert rows["/tags"].enum == ["a", "b"]
    assert rows["/status"].type == "string"


def test_flatten_merges_all_of_and_marks_one_of_branches_optional() -> None:
    schema = {
        "type": "object",
        "allOf": [{"required": ["a"], "properties": {"a": {"type": "integer"}}}],
        "oneOf": [
            {"required": ["b"], "properties": {"b": {"type": "string"}}},
            {"properties": {"c": {"type": "boolean"}}},
        ],
    }
    rows = {r.pointer: r for r in flatten(schema)}
    assert rows["/a"].required is True
    assert rows["/b"].required is False
    assert rows["/c"].type == "boolean"


def test_flatten_reads_the_kind_of_a_type_less_schema_from_its_branches() -> None:
    schema = {
        "type": "object",
        "definitions": {"name": {"type": "string", "maxLength": 30}},
        "properties": {
            "claimant": {
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["first"],
                        "properties": {
                            "first": {"$ref": "#/definitions/name"},
                            "dob": {
                                "oneOf": [{"type": "null"}, {"type": "string", "format": "date"}]
                            },
                        },
                    },
                ]
            },
            "issues": {
                "type": "array",
                "items": {"anyOf": [{"properties": {"condition": {"type": "string"}}}]},
            },
            "code": {"allOf": [{"$ref": "#/definitions/name"}, {"maxLength": 5}]},
            "anything": {"description": "no type anywhere"},
        },
    }
    rows = {r.pointer: r for r in flatten(schema)}
    assert list(rows) == [
        "/claimant",
        "/claimant/first",
        "/claimant/dob",
        "/issues",
        "/issues/*/condition",
        "/code",
        "/anything",
    ]
    assert rows["/claimant"].type == "object"
    assert rows["/claimant/first"].required is False  # inside a oneOf branch
    assert (rows["/claimant/dob"].type, rows["/claimant/dob"].format) == ("string", "date")
    assert rows["/code"].type == "string"
    assert rows["/anything"].type is None


def test_flatten_stops_at_recursive_refs() -> None:
    schema = {
        "type": "object",
        "$defs": {
            "node": {
                "type": "object",
                "properties": {"label": {"type": "string"}, "child": {"$ref": "#/$defs/node"}},
            }
        },
        "properties": {"root": {"$ref": "#/$defs/node"}},
    }
    pointers = [r.pointer for r in flatten(schema)]
    assert pointers[:3] == ["/root", "/root/label", "/root/child"]
    assert len(pointers) < 50


def test_flatten_refuses_too_many_fields() -> None:
    schema = {"type": "object", "properties": {f"f{i}": {"type": "string"} for i in range(30)}}
    with pytest.raises(SchemaRejected) as info:
        flatten(schema, max_fields=10)
    assert info.value.errors[0]["pointer"] == "/schema"


def test_x_element_must_be_a_string() -> None:
    schema = {"type": "object", "properties": {"dob": {"type": "string", "x-element": 5}}}
    with pytest.raises(SchemaRejected) as info:
        flatten(schema)
    assert info.value.errors[0]["pointer"] == "/schema/properties/dob/x-element"


def _field(pointer: str, type_: str = "string", required: bool = False, **kw: Any) -> FlatField:
    return FlatField(
        pointer=pointer,
        name=pointer.rsplit("/", 1)[-1],
        title=kw.get("title"),
        type=type_,
        format=kw.get("format"),
        required=required,
        enum=None,
        description=None,
        element_id=kw.get("element"),
    )


def test_removing_a_shared_field_is_breaking_an_unshared_one_is_not() -> None:
    old = [_field("/a"), _field("/b"), _field("/c", element="person.birthDate")]
    new = [_field("/b")]
    breaking, changes = compare(old, new, Shared.of(["/a"]))
    assert breaking is True
    by_pointer = {c["pointer"]: c for c in changes}
    assert by_pointer["/a"]["breaking"] is True
    assert by_pointer["/c"]["breaking"] is False
    breaking, _ = compare(old, new, Shared.of(["person.birthDate"]))
    assert breaking is True


def test_type_change_of_a_field_inside_a_shared_object_is_breaking() -> None:
    old = [_field("/home", "object"), _field("/home/zip", "string")]
    new = [_field("/home", "object"), _field("/home/zip", "integer")]
    breaking, changes = compare(old, new, Shared.of(["/home"]))
    assert breaking is True
    assert changes[0]["kind"] == "type_changed"
    assert compare(old, new, Shared.of([]))[0] is False


def test_new_required_field_is_breaking_new_optional_is_not() -> None:
    old = [_field("/a")]
    assert compare(old, [_field("/a"), _field("/b")], Shared.of([]))[0] is False
    breaking, changes = compare(old, [_field("/a"), _field("/b", required=True)], Shared.of([]))
    assert breaking is True
    assert changes[0] == {
        "kind": "added",
        "pointer": "/b",
        "breaking": True,
        "detail": "New required field.",
    }
    # required only inside an optional new object: not required of every answer
    optional_parent = [_field("/a"), _field("/o", "object"), _field("/o/x", required=True)]
    assert compare(old, optional_parent, Shared.of([]))[0] is False
    # an optional field becoming required
    breaking, changes = compare(old, [_field("/a", required=True)], Shared.of([]))
    assert (breaking, changes[0]["kind"]) == (True, "now_required")


def test_suggestions_need_a_name_or_title_and_a_compatible_type() -> None:
    dob = ElementProfile.of(
        "person.birthDate",
        {"type": "string", "format": "date"},
        "Date of birth",
        ["dob", "dateOfBirth"],
    )
    size = ElementProfile.of(
        "household.size", {"type": "integer"}, "Household size", ["householdSize"]
    )
    fields = [
        _field("/dob", format="date"),
        _field("/veteranDateOfBirth", format="date"),
        _field("/when", title="Date of birth", format="date"),
        _field("/dob2", "integer"),
        _field("/mapped", element="person.birthDate"),
        _field("/favouriteColour"),
    ]
    found = {s["pointer"]: s["element"] for s in suggest(fields, [dob, size])}
    assert found == {
        "/dob": "person.birthDate",
        "/veteranDateOfBirth": "person.birthDate",
        "/when": "person.birthDate",
    }
